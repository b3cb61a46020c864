/**
 * The load generator of `npm run bench -- gateway`, in a child process of its own (bench/gateway-bench.ts
 * forks it) so that autocannon's CPU is not the gateway's. Receives the target and the device
 * credentials over IPC, runs a bounded autocannon run, and sends back its figures.
 */
import autocannon from 'autocannon';

export interface GatewayLoadInput {
  url: string;
  caCert: string;
  credentials: string[];
  bootIds: string[];
  connections: number;
  amount: number;
  /** a cap on the run in seconds, whichever of it and `amount` comes first */
  maxSeconds: number;
}

export interface GatewayLoadResult {
  requests: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSeconds: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** CPU this load generator used during the run, in % of one core */
  cpuPercent: number;
}

process.once('message', (raw: unknown) => {
  const input = raw as GatewayLoadInput;
  let next = 0;
  const cpuAtStart = process.cpuUsage();
  const startedAt = performance.now();
  process.send!({ started: true });
  const instance = autocannon({
    url: input.url,
    connections: input.connections,
    amount: input.amount,
    duration: input.maxSeconds,
    tlsOptions: { ca: input.caCert, rejectUnauthorized: true },
    requests: [{
      method: 'GET',
      // Each request another device's check-in: one poll per credential, so a device is never its own competitor.
      setupRequest: (req: Record<string, any>) => {
        const i = next++ % input.credentials.length;
        return { ...req, headers: { ...req.headers, authorization: `Bearer ${input.credentials[i]}`, 'x-patchflow-boot-id': input.bootIds[i], accept: 'application/json' } };
      },
    }],
  }, (err, r) => {
    if (err) {
      process.send!({ error: String(err.stack ?? err) }, () => process.exit(1));
      return;
    }
    const result: GatewayLoadResult = {
      requests: r.requests.total, ok2xx: r['2xx'], non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts,
      durationSeconds: r.duration, latencyP50Ms: r.latency.p50, latencyP99Ms: r.latency.p99,
      cpuPercent: cpuPercentSince(cpuAtStart, startedAt),
    };
    process.send!({ result }, () => process.exit(0));
  });
  // autocannon lets `amount` override `duration`: the cap in seconds is enforced here.
  const cap = setTimeout(() => instance.stop(), input.maxSeconds * 1000);
  cap.unref();
  process.once('disconnect', () => instance.stop());
});

/** CPU used since `from` (process.cpuUsage) over the wall time since `startedAt` (performance.now), in % of one core. */
export function cpuPercentSince(from: NodeJS.CpuUsage, startedAt: number): number {
  const used = process.cpuUsage(from);
  return ((used.user + used.system) / 1000 / (performance.now() - startedAt)) * 100;
}
