/**
 * One simulated machine as the command modules see it: its state, its faults, its user and its log,
 * plus the fixed facts they read. SimulatedWindowsDevice (agent/simulated-device.ts) builds it once.
 */
import type { DeviceOs } from '../catalog';
import type { LanShare } from '../lan-share';
import type { WindowsSandbox } from '../sandbox';
import type { DeviceLog } from './device-log';
import type { DeviceState } from './device-state';
import type { Faults } from './faults';
import type { SimulatedPatchTestState } from './options';
import type { LoggedOnUser } from './user';

export interface SimulatedMachine {
  readonly os: DeviceOs;
  readonly sandbox: WindowsSandbox;
  readonly state: DeviceState;
  readonly faults: Faults;
  readonly user: LoggedOnUser;
  readonly log: DeviceLog;
  /** the site's LAN share, when the device has one */
  readonly lanShare: LanShare | undefined;
  /** KB → the KB that must be installed before it applies */
  readonly prerequisites: ReadonlyMap<string, string>;
  /** the services the machine runs */
  readonly services: readonly string[];
  /** how long an installer runs and a download takes */
  readonly executeDurationMs: number;
  readonly downloadDurationMs: number;
  /** real milliseconds one "minute" of a reboot warning or prompt takes */
  readonly minuteMs: number;
  readonly now: () => Date;
  /** what a Patch Test finds (a technician changes it with setPatchTestState) */
  patchTest: SimulatedPatchTestState;
}
