import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { GatewayClient } from '../agent/gateway-client';
import { BENCH_API_KEY, startBenchStack } from './bench-stack';
import { cpuPercentSince, type GatewayLoadInput, type GatewayLoadResult } from './gateway-load';
import { mapLimit } from './map-limit';
import { startGatewayProcesses } from './gateway-processes';
import { cpuSecondsBetween, postmasterPid, treeCpuTicks } from './process-cpu';


export interface GatewayBenchOptions {
  devices: number;
  connections: number;
  requests: number;
  maxSeconds: number;
  /** serve the load from api/main.ts with GATEWAY_PROCESSES=N instead of this process's own gateway */
  gatewayProcesses?: number;
}

/**
 * `npm run bench -- gateway`: check-ins per second the agent gateway answers. Enrolls `devices` real
 * devices, then autocannon (in a child process) sends `requests` check-ins over `connections` kept-alive
 * HTTPS connections to 127.0.0.1, each request with the next device's credential and boot id: a
 * `GET /agent/v1/commands?wait=0` (what an agent sends; authentication, check-in write, missed-run
 * check, one claim query). Bounded by count and by `maxSeconds`; stops by itself.
 */
export async function gatewayBench(o: GatewayBenchOptions): Promise<void> {
  const bench = await startBenchStack('gateway-bench');
  const { stack } = bench;
  const lines: string[] = [];
  const stops: (() => Promise<void> | undefined)[] = [];
  try {
    const api = async (method: string, p: string, body?: unknown): Promise<any> => {
      const res = await stack.fetch(`${stack.apiUrl}${p}`, {
        method, headers: { authorization: `Bearer ${BENCH_API_KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const client = await api('POST', '/api/v1/clients', { name: 'Gateway Bench' });
    const site = await api('POST', `/api/v1/clients/${client.id}/sites`, { name: 'Lab' });
    const gateway = new GatewayClient({ baseUrl: stack.apiUrl, caCert: stack.caCert, bootId: () => 'bench-boot' });
    const bootIds = Array.from({ length: o.devices }, (_, i) => `bench-boot-${i}`);
    const credentials = await mapLimit(bootIds, 20, async (bootId, i) => {
      const name = `GW-${String(i + 1).padStart(5, '0')}`;
      const created = await api('POST', '/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
      const e = await new GatewayClient({ baseUrl: stack.apiUrl, caCert: stack.caCert, bootId: () => bootId, fetch: stack.fetch })
        .enroll({ enrollmentToken: created.enrollmentToken, hostname: name, bootId, enrollmentNonce: `gw-bench-nonce-${i}-000000` });
      return e.credential;
    });
    await gateway.close();

    const gatewayProcesses = o.gatewayProcesses ? await startGatewayProcesses(stack, bench.scratch, o.gatewayProcesses) : undefined;
    stops.push(() => gatewayProcesses?.stop());
    const input: GatewayLoadInput = {
      url: `${gatewayProcesses?.url ?? stack.apiUrl}/agent/v1/commands?wait=0`, caCert: stack.caCert, credentials, bootIds,
      connections: o.connections, amount: o.requests, maxSeconds: o.maxSeconds,
    };
    const child = fork(path.join(__dirname, 'gateway-load.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    // This process's CPU is counted from the load's start (the child says so) to its answer.
    let cpuAtStart = process.cpuUsage();
    let startedAt = performance.now();
    // The embedded PostgreSQL's processes too (an external one's CPU is not known here).
    const pgPid = process.env.DATABASE_URL ? undefined : postmasterPid(path.join(bench.scratch, 'postgres'));
    let pgCpuAtStart = new Map<number, number>();
    let gatewayCpuAtStart = new Map<number, number>();
    const answer = await new Promise<{ result?: GatewayLoadResult; error?: string }>((resolve, reject) => {
      child.on('message', (m: { started?: boolean; result?: GatewayLoadResult; error?: string }) => {
        if (m.started) {
          cpuAtStart = process.cpuUsage();
          startedAt = performance.now();
          if (pgPid) pgCpuAtStart = treeCpuTicks(pgPid);
          if (gatewayProcesses) gatewayCpuAtStart = treeCpuTicks(gatewayProcesses.pid);
        } else resolve(m);
      });
      child.once('exit', (code) => reject(new Error(`the load generator exited (${code}) without an answer`)));
      child.send(input);
    });
    const benchCpu = cpuPercentSince(cpuAtStart, startedAt);
    const seconds = (performance.now() - startedAt) / 1000;
    const gatewayCpu = gatewayProcesses ? (cpuSecondsBetween(gatewayCpuAtStart, treeCpuTicks(gatewayProcesses.pid)) / seconds) * 100 : benchCpu;
    const pgCpu = pgPid ? (cpuSecondsBetween(pgCpuAtStart, treeCpuTicks(pgPid)) / seconds) * 100 : undefined;
    if (answer.error || !answer.result) throw new Error(`autocannon: ${answer.error}`);
    const r = answer.result;
    // The group commit's batch size, from the gateway's /metrics (with several processes: the one answering).
    const metricsText = await stack.fetch(`${gatewayProcesses?.url ?? stack.apiUrl}/metrics`, { headers: { authorization: `Bearer ${BENCH_API_KEY}` } }).then((res) => res.text());
    const counter = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metricsText)?.[1] ?? NaN);
    const perStatement = counter('patchflow_agent_check_ins_total') / counter('patchflow_agent_check_in_statements_total');
    const server = process.env.TEMPORAL_ADDRESS ? `Temporal at ${process.env.TEMPORAL_ADDRESS}` : 'Temporal dev server';
    lines.push(
      `server: ${server}, ${process.env.DATABASE_URL ? 'external' : 'embedded'} PostgreSQL, ${os.cpus().length} cores (load generator on the same machine)`,
      `  ${r.requests} check-ins (GET /agent/v1/commands?wait=0) from ${o.devices} devices over ${o.connections} HTTPS connections`
        + `${gatewayProcesses ? ` to api/main.ts on ${o.gatewayProcesses} process(es)` : ''} in ${r.durationSeconds.toFixed(1)} s: `
        + `${r.ok2xx} 2xx, ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts; latency p50 ${r.latencyP50Ms} ms, p99 ${r.latencyP99Ms} ms`,
      `  CPU during the run (% of one core): ${gatewayProcesses ? `api/main.ts with GATEWAY_PROCESSES=${o.gatewayProcesses} (all its processes)` : 'this process (API, gateway, worker)'} `
        + `${gatewayCpu.toFixed(0)}% (${((gatewayCpu / 100) * r.durationSeconds * 1e6 / Math.max(1, r.requests)).toFixed(0)} µs per check-in), `
        + `${gatewayProcesses ? `this process (idle gateway, worker) ${benchCpu.toFixed(0)}%, ` : ''}load generator ${r.cpuPercent.toFixed(0)}%, `
        + `PostgreSQL ${pgCpu === undefined ? 'not measured (external)' : `${pgCpu.toFixed(0)}%`}; ${perStatement.toFixed(1)} check-ins per statement${gatewayProcesses && o.gatewayProcesses! > 1 ? ' (one process\'s)' : ''}; load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      `gateway: ${(r.ok2xx / r.durationSeconds).toFixed(0)} check-ins/s`,
    );
  } finally {
    for (const stop of stops) await stop();
    await bench.stop();
  }
  for (const line of lines) console.log(line);
}
