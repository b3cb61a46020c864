import { setMaxListeners } from 'node:events';
import type { PinnedCommandKey } from '../domain/command-envelope';
import { runSimulatedAgent, type AgentLog } from './agent-runner';
import type { ResultOutbox } from './result-outbox';
import type { SimulatedWindowsDevice } from './simulated-device';
import type { TransportOptions } from './transport';

export interface FleetMember {
  device: SimulatedWindowsDevice;
  /** exchanged for a credential at start; ignored when `credential` is given */
  enrollmentToken?: string;
  credential?: string;
  /** the command keys pinned with `credential` */
  commandKeys?: PinnedCommandKey[];
  /** the device's clock (default Date.now) */
  clock?: () => number;
  /** where its finished but undelivered results wait (default: in memory); a FileResultOutbox survives a restart */
  outbox?: ResultOutbox;
}

export interface FleetAgent {
  device: SimulatedWindowsDevice;
  /** the server's id for the device, once enrolled (unknown when started with a credential) */
  deviceId?: string;
  credential?: string;
  /** the command keys it pins now (enrollment, then trust_keys): save them with the credential */
  commandKeys?: PinnedCommandKey[];
  /** why the agent stopped on its own (a refused token or credential), if it did */
  error?: unknown;
}

export interface SimulatedFleet {
  devices: SimulatedWindowsDevice[];
  agents: FleetAgent[];
  /** resolves once every agent has a credential; rejects when one could not enroll */
  ready: Promise<void>;
  /** aborts every agent (open long polls included) and waits for all of them to end */
  stop(): Promise<void>;
}

export interface SimulatedFleetOptions extends TransportOptions {
  /** the gateway, e.g. "https://127.0.0.1:3000"; `caCert` is the certificate every agent pins for it */
  baseUrl: string;
  devices: FleetMember[];
  /** default 25 s */
  pollWaitSeconds?: number;
  log?: AgentLog;
  fetch?: typeof fetch;
}

/** Runs many simulated agents in one process, each with its own device, poll loop and credential. */
export function startSimulatedFleet(options: SimulatedFleetOptions): SimulatedFleet {
  const controller = new AbortController();
  // Every agent of the fleet listens on this one signal: hundreds of listeners are expected here.
  setMaxListeners(0, controller.signal);
  const agents: FleetAgent[] = options.devices.map((m) => ({ device: m.device, credential: m.credential, commandKeys: m.commandKeys }));
  const enrolled: Promise<void>[] = [];
  const running = options.devices.map((member, i) => {
    const agent = agents[i]!;
    let markEnrolled!: () => void;
    let markFailed!: (err: unknown) => void;
    enrolled.push(new Promise<void>((resolve, reject) => { markEnrolled = resolve; markFailed = reject; }));
    return runSimulatedAgent({
      baseUrl: options.baseUrl,
      caCert: options.caCert,
      allowInsecureHttp: options.allowInsecureHttp,
      device: member.device,
      credential: member.credential,
      commandKeys: member.commandKeys,
      clock: member.clock,
      outbox: member.outbox,
      enrollmentToken: member.enrollmentToken,
      pollWaitSeconds: options.pollWaitSeconds,
      log: options.log,
      fetch: options.fetch,
      signal: controller.signal,
      onEnrolled: ({ deviceId, credential, commandKeys }) => {
        agent.deviceId = deviceId;
        agent.credential = credential;
        agent.commandKeys = commandKeys;
        markEnrolled();
      },
      onCommandKeys: (commandKeys) => { agent.commandKeys = commandKeys; },
    }).then(
      () => markEnrolled(), // stopped before enrolling: nothing to wait for
      (err: unknown) => {
        agent.error = err;
        markFailed(err);
        options.log?.({ device: member.device.name, err: String((err as Error)?.message ?? err) }, 'agent stopped');
      },
    );
  });
  const ready = Promise.all(enrolled).then(() => undefined);
  ready.catch(() => undefined); // callers that never await `ready` must not see an unhandled rejection
  return {
    devices: options.devices.map((m) => m.device),
    agents,
    ready,
    async stop() {
      controller.abort();
      await Promise.all(running);
    },
  };
}
