/**
 * `npm run bench -- open-workflows --workflows 1000`: the worker's memory with N device installs open
 * at once (issue 15), the worker alone in its own process (worker/main.ts, as in production), the API
 * and agent gateway in another (api/main.ts), a Temporal dev server on a db file and an embedded
 * PostgreSQL, all on 127.0.0.1 (bench/production-stack.ts). Most devices take the pre-scan, download and copy and then hold the
 * first execute (a cumulative update running for an hour, as in a real rollout); `--offline-percent`
 * of them never poll, so their install waits on its pre-scan. The bench samples the worker's RSS from
 * the first install on, waits until every install is waiting on its device, samples a steady window,
 * prints the peak and the steady figure with what takes the memory, and stops everything.
 *
 * The worker takes the bench's environment, so its settings are tried as in production:
 * `WORKER_MAX_CACHED_WORKFLOWS=250 npm run bench -- open-workflows`; `--worker-node-options` gives its
 * Node flags (`--max-old-space-size=512`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkGatewayBudget, openFileLimit } from '../agent/fleet-budget';
import { startFleetProcesses, type ChildFleetMember, type FleetProcesses } from '../agent/fleet-processes';
import type { Db } from '../db/database';
import { freePort } from '../db/embedded-postgres';
import { mapLimit } from './map-limit';
import { startProductionStack } from './production-stack';
import { rssBytes } from './rss';

const API_KEY = 'open-workflows-api-key-0123456789';
const KBS = ['KB5034439', 'KB5033118'];
const MiB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (msg: string) => process.stderr.write(`[open-workflows ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const mib = (b: number) => `${(b / MiB).toFixed(0)} MiB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export interface OpenWorkflowsOptions {
  workflows: number;
  /** share of the devices that never poll (their install waits on its pre-scan); default 10 */
  offlinePercent?: number;
  /** how long to sample once every install waits on its device; default 60 */
  steadySeconds?: number;
  /** the whole run's budget from the first install: past it the figures are printed marked PARTIAL; default 20 */
  maxMinutes?: number;
  /** Node flags of the worker process, e.g. "--max-old-space-size=512" */
  workerNodeOptions?: string;
  /** write a heap snapshot of each worker thread here at the end of the steady window */
  heapSnapshotDir?: string;
}

/** One thread's report from bench/worker-memory-probe.cjs. */
interface ThreadMemory { threadId: number; main: boolean; workflowThread: boolean; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; heapLimit: number; contexts: number }

function readProbe(dir: string, pid: number): ThreadMemory[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith(`${pid}-`) && f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as ThreadMemory).sort((a, b) => a.threadId - b.threadId);
}

/** Anonymous (heap, malloc) against file-backed (code, shared libraries) resident memory, from /proc. */
function smaps(pid: number): { anonymous: number; file: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { anonymous: kb('Anonymous'), file: kb('Rss') - kb('Anonymous') };
  } catch {
    return undefined;
  }
}

/** A gauge of the SDK's Prometheus metrics, summed over its label sets (undefined: not served). */
async function gauge(metricsUrl: string, name: string): Promise<number | undefined> {
  try {
    const text = await (await fetch(metricsUrl)).text();
    const values = text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    return values.length ? values.reduce((a, b) => a + b, 0) : undefined;
  } catch {
    return undefined;
  }
}

/** Devices with a command waiting on them, by type (`execute_patches`, or `execute` from an install before it: holding it; `scan`: never polled). */
async function waitingByType(db: Db): Promise<Record<string, number>> {
  const { rows } = await db.query<{ type: string; n: number }>(
    `SELECT type, count(DISTINCT device_id)::int AS n FROM agent_commands WHERE status IN ('pending', 'claimed', 'acknowledged') GROUP BY type`);
  return Object.fromEntries(rows.map((r) => [r.type, r.n]));
}

/** Devices holding their install's execute: one `execute_patches` command for all its patches (batched-execute). */
const executing = (waiting: Record<string, number>) => (waiting.execute_patches ?? 0) + (waiting.execute ?? 0);

export async function openWorkflowsBench(o: OpenWorkflowsOptions): Promise<void> {
  const n = o.workflows;
  const offline = Math.round((n * (o.offlinePercent ?? 10)) / 100);
  const online = n - offline;
  const steadySeconds = o.steadySeconds ?? 60;
  const maxMinutes = o.maxMinutes ?? 20;
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-open-workflows-'));
  const probeDir = path.join(scratch, 'memory');
  fs.mkdirSync(probeDir);
  const stops: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const cleanup = () => (stopping ??= (async () => {
    for (const s of stops.reverse()) await s().catch((err) => say(`while stopping: ${(err as Error).message}`));
    fs.rmSync(scratch, { recursive: true, force: true });
  })());
  const onSignal = (signal: NodeJS.Signals) => {
    say(`${signal}: stopping`);
    cleanup().finally(() => process.exit(130)).catch(() => undefined);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const lines: string[] = [];
  try {
    const metricsPort = await freePort();
    const workerNodeArgs = ['-r', path.join(__dirname, 'worker-memory-probe.cjs'), ...(o.workerNodeOptions?.split(/\s+/).filter(Boolean) ?? [])];
    const stack = await startProductionStack({
      name: 'open-workflows', scratch, apiKey: API_KEY, requestedBy: 'open-workflows bench',
      env: { TWO_PERSON_DEVICE_THRESHOLD: String(n + 1) },
      workerEnv: { WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`, PATCHFLOW_MEMORY_PROBE_DIR: probeDir }, workerNodeArgs,
    });
    stops.push(() => stack.stop());
    const { apiUrl, db, client } = stack;
    const workerPid = stack.workers[0]!.child.pid!;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;

    const call = async (method: string, p: string, body?: unknown): Promise<any> => {
      const res = await fetch(`${apiUrl}${p}`, { method, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const tenant = await call('POST', '/api/v1/clients', { name: 'Open workflows' });
    const site = await call('POST', `/api/v1/clients/${tenant.id}/sites`, { name: 'Lab' });
    const devices = await mapLimit(Array.from({ length: n }, (_, i) => i), 20, async (i) => {
      const name = `OPEN-${String(i + 1).padStart(5, '0')}`;
      const created = await call('POST', '/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
      return { id: created.device.id as string, name, enrollmentToken: created.enrollmentToken as string };
    });
    // The first `online` devices run agents whose installer takes a day: they hold their first execute.
    const members: ChildFleetMember[] = devices.slice(0, online).map((d, i) => ({
      enrollmentToken: d.enrollmentToken,
      device: { id: d.name, name: d.name, os: 'server2022', sandboxDir: path.join(scratch, 'devices', d.name), seed: i, missingKbs: KBS, executeDurationMs: 86_400_000, downloadDurationMs: 0 },
    }));
    let fleet: FleetProcesses | undefined;
    if (members.length > 0) {
      checkGatewayBudget(members.length, openFileLimit());
      fleet = startFleetProcesses({ baseUrl: apiUrl, members, pollWaitSeconds: 20, onAgentError: (d, m) => say(`agent ${d} stopped: ${m}`) });
      stops.push(() => fleet!.stop());
      await fleet.ready;
    }
    await sleep(5000);
    const idle = { rss: rssBytes(workerPid), threads: readProbe(probeDir, workerPid) };
    say(`${online} agents enrolled, ${offline} devices that never poll; worker (pid ${workerPid}) idle at ${mib(idle.rss)}`);

    // The installs, and the worker's RSS from the first one on.
    const samples: { at: number; rss: number }[] = [];
    const sampler = setInterval(() => samples.push({ at: Date.now(), rss: rssBytes(workerPid) }), 1000);
    stops.push(async () => clearInterval(sampler));
    const t0 = Date.now();
    const deadline = t0 + maxMinutes * 60_000;
    const handles = await mapLimit(devices, 20, async (d) => (await call('POST', `/api/v1/devices/${d.id}/installs`, { kbs: KBS })).workflowId as string);
    say(`${handles.length} installs started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    let waiting: Record<string, number> = {};
    let lastSay = 0;
    for (;;) {
      waiting = await waitingByType(db);
      const done = executing(waiting) >= online && (waiting.scan ?? 0) >= offline;
      if (done || Date.now() > deadline) break;
      if (Date.now() - lastSay > 15_000) {
        lastSay = Date.now();
        say(`waiting on a device: ${JSON.stringify(waiting)}; worker RSS ${mib(rssBytes(workerPid))}, cache ${await gauge(metricsUrl, 'temporal_sticky_cache_size') ?? '?'}`);
      }
      await sleep(2000);
    }
    const settledSeconds = (Date.now() - t0) / 1000;
    const partial = executing(waiting) < online || (waiting.scan ?? 0) < offline;
    say(`${partial ? 'deadline' : 'every install waits on its device'} after ${settledSeconds.toFixed(0)} s: ${JSON.stringify(waiting)}; sampling ${steadySeconds} s`);
    const steadyFrom = Date.now();
    await sleep(steadySeconds * 1000);
    if (o.heapSnapshotDir) {
      fs.writeFileSync(path.join(probeDir, 'heap-snapshot'), '');
      say('heap snapshots requested');
      for (let t = 0; t < 120 && fs.readdirSync(probeDir).filter((f) => f.endsWith('.heapsnapshot')).length < idle.threads.length; t++) await sleep(1000);
      await sleep(2000);
      fs.mkdirSync(o.heapSnapshotDir, { recursive: true });
      for (const f of fs.readdirSync(probeDir).filter((f) => f.endsWith('.heapsnapshot'))) fs.copyFileSync(path.join(probeDir, f), path.join(o.heapSnapshotDir, f));
    }
    clearInterval(sampler);
    const cache = await gauge(metricsUrl, 'temporal_sticky_cache_size');
    const threads = readProbe(probeDir, workerPid);
    const rss = rssBytes(workerPid);
    const regions = smaps(workerPid);
    const history = (await client.workflow.getHandle(handles[0]!).describe()).historyLength;
    const peak = Math.max(...samples.map((s) => s.rss));
    const steady = median(samples.filter((s) => s.at >= steadyFrom).map((s) => s.rss));

    const settings = Object.entries(process.env).filter(([k]) => k.startsWith('WORKER_')).map(([k, v]) => `${k}=${v}`);
    if (o.workerNodeOptions) settings.push(`node ${o.workerNodeOptions}`);
    const heap = (t: ThreadMemory | undefined) => (t ? `${mib(t.heapUsed)} used of ${mib(t.heapTotal)} (limit ${mib(t.heapLimit)})` : '?');
    const main = threads.find((t) => t.main);
    const wf = threads.filter((t) => t.workflowThread);
    const wfIdle = idle.threads.filter((t) => t.workflowThread).reduce((a, t) => a + t.heapUsed, 0);
    const wfNow = wf.reduce((a, t) => a + t.heapUsed, 0);
    const heapsTotal = threads.reduce((a, t) => a + t.heapTotal, 0);
    const others = threads.filter((t) => !t.main && !t.workflowThread);
    const perWorkflow = cache ? (wfNow - wfIdle) / cache : undefined;
    lines.push(
      `server: Temporal dev server (SQLite file, WAL), embedded PostgreSQL, ${os.cpus().length} cores; load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
      ...(partial ? [`PARTIAL: after --max-minutes ${maxMinutes} only ${executing(waiting)} of ${online} installs held an execute and ${waiting.scan ?? 0} of ${offline} waited on a pre-scan`] : []),
      `  ${online} installs holding their first execute (pre-scan, download, copy done; ${history} history events), ${offline} waiting on a pre-scan their device never polls for; all waiting after ${settledSeconds.toFixed(0)} s, steady window ${steadySeconds} s`,
      `  worker settings: ${settings.length ? settings.join(' ') : 'none (the defaults)'}`,
      `  worker RSS idle ${mib(idle.rss)} → now ${mib(rss)}${regions ? ` (anonymous ${mib(regions.anonymous)}, file-backed ${mib(regions.file)})` : ''}`,
      `  main thread V8 heap ${heap(main)}, external ${main ? mib(main.external) : '?'} (array buffers ${main ? mib(main.arrayBuffers) : '?'})`,
      `  workflow thread${wf.length === 1 ? '' : 's'} V8 heap ${wf.map(heap).join('; ') || '?'}; ${wf.map((t) => t.contexts).join('+') || '?'} V8 contexts; ${mib(wfNow - wfIdle)} more than idle (${mib(wfIdle)})${perWorkflow !== undefined ? `, ${(perWorkflow / 1024).toFixed(0)} KiB per cached workflow` : ''}`,
      ...(others.length ? [`  other threads (Node's ESM loader for tsx): V8 heap ${others.map(heap).join('; ')}`] : []),
      `  outside the V8 heaps (Rust core and its workflow cache, code, buffers, allocator): ${mib(rss - heapsTotal)}, idle ${mib(idle.rss - idle.threads.reduce((a, t) => a + t.heapTotal, 0))}`,
      `open-workflows${partial ? ' (PARTIAL)' : ''}: ${n} open device workflows, worker RSS peak ${mib(peak)} / steady ${mib(steady)}, cache ${cache ?? '?'}, `
        + `workflow heap ${mib(wfNow)} (${perWorkflow !== undefined ? `${(perWorkflow / 1024).toFixed(0)} KiB per cached workflow` : '?'}), settings ${settings.length ? settings.join(' ') : 'defaults'}`,
    );
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  for (const line of lines) console.log(line);
}
