import os from 'node:os';
import path from 'node:path';
import { startSimulatedFleet } from '../agent/fleet';
import { SimulatedWindowsDevice } from '../agent/simulated-device';
import type { InstallResult } from '../workflows/install.contract';
import { BENCH_API_KEY, startBenchStack } from './bench-stack';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/**
 * `npm run bench -- install --devices N`: N simulated devices (instant installers, 3 missing patches
 * each, one needing a reboot) each get one install through the real API, gateway, worker, Temporal
 * dev server and PostgreSQL, all in one process on this machine. Prints the time from request to
 * completed workflow (p50/p95), installs per minute, and history events per install.
 */
export async function installBench(devices: number): Promise<void> {
  const bench = await startBenchStack('bench');
  const { stack, scratch } = bench;
  const apiKey = BENCH_API_KEY;
   
  const api = async (method: string, p: string, body?: unknown): Promise<any> => {
    const res = await stack.fetch(`${stack.apiUrl}${p}`, {
      method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return res.json();
  };
  try {
    const client = await api('POST', '/api/v1/clients', { name: 'Bench' });
    const site = await api('POST', `/api/v1/clients/${client.id}/sites`, { name: 'Lab' });
    const members = [];
    const ids: string[] = [];
    for (let i = 0; i < devices; i++) {
      const name = `BENCH-${String(i + 1).padStart(4, '0')}`;
      const created = await api('POST', '/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
      ids.push(created.device.id);
      members.push({
        enrollmentToken: created.enrollmentToken,
        device: new SimulatedWindowsDevice({
          id: name, name, os: 'server2022', sandboxDir: path.join(scratch, 'devices', name), seed: i,
          missingKbs: ['KB5035857', 'KB5034439', 'KB5031988'], rebootDurationMs: 200, executeDurationMs: 0, downloadDurationMs: 0,
        }),
      });
    }
    const fleet = startSimulatedFleet({ baseUrl: stack.apiUrl, caCert: stack.caCert, devices: members, pollWaitSeconds: 20 });
    await fleet.ready;

    const t0 = Date.now();
    const started = await Promise.all(ids.map(async (id) => ({ at: Date.now(), ...(await api('POST', `/api/v1/devices/${id}/installs`, {})) })));
    const durations: number[] = [];
    const events: number[] = [];
    let succeeded = 0;
    await Promise.all(started.map(async (s) => {
      const handle = stack.client.workflow.getHandle(s.workflowId);
      const result = (await handle.result()) as InstallResult;
      durations.push(Date.now() - s.at);
      if (result.outcome === 'succeeded') succeeded++;
      events.push((await handle.describe()).historyLength);
    }));
    const wall = (Date.now() - t0) / 1000;
    durations.sort((a, b) => a - b);
    const server = process.env.TEMPORAL_ADDRESS ? `Temporal at ${process.env.TEMPORAL_ADDRESS}` : 'Temporal dev server (SQLite, in this machine)';
    console.log(`server: ${server}; PostgreSQL: ${process.env.DATABASE_URL ? 'external' : 'embedded'}; ${os.cpus().length} cores`);
    console.log(`install: ${devices} devices, ${succeeded} succeeded, 3 patches each (one reboot)`);
    console.log(`  end to end per install: p50 ${(percentile(durations, 50) / 1000).toFixed(2)} s, p95 ${(percentile(durations, 95) / 1000).toFixed(2)} s`);
    console.log(`  history events per install: ${Math.min(...events)}–${Math.max(...events)}`);
    console.log(`install: ${devices} devices in ${wall.toFixed(1)} s, ${((devices / wall) * 60).toFixed(0)} installs/min`);
    await fleet.stop();
  } finally {
    await bench.stop();
  }
}
