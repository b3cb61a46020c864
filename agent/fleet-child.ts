/**
 * One child process of a simulated fleet (agent/fleet-processes.ts forks it): runs its share of the
 * agents with one pooled, pinned HTTP connection pool, and reports enrollments over IPC. It stops on
 * a "stop" message, or when the parent goes away (so a killed bench leaves no agents behind).
 */
import { Agent, fetch as undiciFetch } from 'undici';
import { startSimulatedFleet, type SimulatedFleet } from './fleet';
import { FileResultOutbox } from './result-outbox';
import { SimulatedWindowsDevice } from './simulated-device';
import type { FleetChildMessage, FleetParentMessage } from './fleet-messages';

const send = (m: FleetChildMessage) => {
  if (process.connected) process.send!(m);
};

let fleet: SimulatedFleet | undefined;
let dispatcher: Agent | undefined;
let stopping: Promise<void> | undefined;

function stop(): Promise<void> {
  return (stopping ??= (async () => {
    await fleet?.stop();
    await dispatcher?.close().catch(() => undefined);
    send({ type: 'stopped' });
  })());
}

process.on('message', (raw: unknown) => {
  const m = raw as FleetParentMessage;
  if (m.type === 'stop') {
    void stop().then(() => process.exit(0));
    return;
  }
  const { options } = m;
  // One pool for the process: an agent's poll and posts reuse sockets other agents left idle, so the
  // process holds about one socket per open long poll, never one per request.
  dispatcher = new Agent({
    connect: options.caCert ? { ca: options.caCert, rejectUnauthorized: true } : undefined,
    keepAliveTimeout: 30_000,
  });
  const d = dispatcher;
  const pooledFetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher: d } as never)) as unknown as typeof fetch;
  fleet = startSimulatedFleet({
    baseUrl: options.baseUrl,
    allowInsecureHttp: options.allowInsecureHttp,
    pollWaitSeconds: options.pollWaitSeconds,
    fetch: pooledFetch,
    devices: options.members.map((member) => ({
      device: new SimulatedWindowsDevice(member.device),
      enrollmentToken: member.enrollmentToken,
      credential: member.credential,
      commandKeys: member.commandKeys,
      outbox: member.outboxFile ? new FileResultOutbox(member.outboxFile) : undefined,
    })),
    log: (obj, msg) => {
      if (msg === 'agent stopped') send({ type: 'agent-error', device: String(obj.device), message: String(obj.err) });
    },
  });
  const f = fleet;
  // Each enrollment, once, so the parent can restart this process later with credentials instead of spent tokens.
  const reported = new Set<number>();
  const reportEnrolled = () => {
    f.agents.forEach((a, i) => {
      if (!reported.has(i) && a.credential && a.commandKeys) {
        reported.add(i);
        send({ type: 'enrolled', index: i, deviceId: a.deviceId, credential: a.credential, commandKeys: a.commandKeys });
      }
    });
  };
  const ticker = setInterval(reportEnrolled, 500);
  f.ready.then(
    () => { reportEnrolled(); clearInterval(ticker); send({ type: 'ready' }); },
    (err: unknown) => { clearInterval(ticker); send({ type: 'failed', message: String((err as Error)?.message ?? err) }); },
  );
});

// The parent died (kill -9 of a bench): nothing would ever stop these agents.
process.on('disconnect', () => { void stop().then(() => process.exit(0)); });
send({ type: 'hello' });
