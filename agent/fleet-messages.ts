import type { PinnedCommandKey } from '../domain/command-envelope';
import type { SimulatedDeviceOptions } from './simulated-device';

/** One agent as a child process receives it: everything serialisable (no clock functions). */
export interface ChildFleetMember {
  device: Omit<SimulatedDeviceOptions, 'now'>;
  enrollmentToken?: string;
  credential?: string;
  commandKeys?: PinnedCommandKey[];
  /** a FileResultOutbox path, so undelivered results survive a kill of the process */
  outboxFile?: string;
}

export interface ChildFleetOptions {
  baseUrl: string;
  caCert?: string;
  allowInsecureHttp?: boolean;
  pollWaitSeconds?: number;
  members: ChildFleetMember[];
}

export type FleetParentMessage = { type: 'start'; options: ChildFleetOptions } | { type: 'stop' };

export type FleetChildMessage =
  | { type: 'hello' }
  | { type: 'enrolled'; index: number; deviceId?: string; credential: string; commandKeys: PinnedCommandKey[] }
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'agent-error'; device: string; message: string }
  | { type: 'stopped' };
