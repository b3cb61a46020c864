import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import { checkGatewayBudget, openFileLimit } from '../agent/fleet-budget';
import { startFleetProcesses, type FleetProcesses } from '../agent/fleet-processes';
import { postmasterPid, treeCpuTicks } from './process-cpu';
import { startProductionStack } from './production-stack';
import { rssSampler } from './rss';
import { rolloutProgressQuery, temporalScheduleId, type RolloutProgress, type RolloutResult } from '../workflows/automatic-update.contract';
import { INSTALL_WORKFLOW_TYPE } from '../workflows/install.contract';
import { BENCH_API_KEY, startBenchStack } from './bench-stack';
import type { baselineDeviceWorkflow } from './baseline-workflows';
import { mapLimit } from './map-limit';
import { PG_STATEMENTS_SETTINGS, readStatements, resetStatements, statementsPerUnit } from './pg-statements';
import type { Db } from '../db/database';
import { requestsPerUnitLine, temporalRequestCounts, type RequestCounts } from './temporal-requests';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const progressLog = (msg: string) => process.stderr.write(`[au-bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);


/** What the bench needs of the Patchflow it runs, in either shape. */
interface AuStack {
  client: Client;
  fetch: typeof fetch;
  apiUrl: string;
  caCert?: string;
  temporalAddress: string;
  scratch: string;
  /** what runs where, for the first line */
  server: string;
  /** install timing the rollout runs with */
  timing: string;
  /** the groups whose peak RSS is printed, given the fleet's processes */
  rssGroups(fleetPids: number[]): Record<string, () => number[]>;
  /** CPU seconds so far by process kind (undefined: no /proc) */
  cpu(fleetPids: number[]): Map<string, number> | undefined;
  /** the Temporal frontend's calls so far, by operation (split shape: its dev server's metrics port) */
  temporalRequests?(): Promise<RequestCounts>;
  /** split shape with `statements`: the bench's pool on PostgreSQL, which runs pg_stat_statements */
  statementsDb?: Db;
  stop(): Promise<void>;
}

async function listAll(stack: Pick<AuStack, 'client'>, query: string): Promise<WorkflowExecutionInfo[]> {
  const rows: WorkflowExecutionInfo[] = [];
  for await (const w of stack.client.workflow.list({ query })) rows.push(w);
  return rows;
}

/** Visibility is eventually consistent: lists until `done` holds (or the deadline passes). */
async function listUntil(stack: Pick<AuStack, 'client'>, query: string, done: (rows: WorkflowExecutionInfo[]) => boolean, what: string, ms = 120_000): Promise<WorkflowExecutionInfo[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const rows = await listAll(stack, query);
    if (done(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`visibility: ${what} not complete after ${ms / 1000} s (${rows.length} rows)`);
    await sleep(500);
  }
}

/** CPU seconds used so far by this process and each of its descendants (dev server, PostgreSQL), by command name; Linux only. */
function cpuByCommand(): Map<string, number> | undefined {
  if (!fs.existsSync('/proc/self/stat')) return undefined;
  const procs: { pid: number; ppid: number; comm: string; cpu: number }[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(entry), ppid: Number(f[1]), comm, cpu: (Number(f[11]) + Number(f[12])) / 100 });
    } catch { /* gone meanwhile */ }
  }
  const mine = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!mine.has(p.pid) && mine.has(p.ppid)) { mine.add(p.pid); grew = true; }
  }
  const out = new Map<string, number>();
  for (const p of procs) if (mine.has(p.pid)) out.set(p.comm, (out.get(p.comm) ?? 0) + p.cpu);
  return out;
}

/** This process's own CPU seconds (not its children's, which have lines of their own). */
const ownCpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

/** CPU seconds of `pids` and their descendants, summed (Linux; 0 elsewhere). */
function treesCpuSeconds(pids: (number | undefined)[]): number {
  let ticks = 0;
  for (const pid of pids) if (pid !== undefined) for (const t of treeCpuTicks(pid).values()) ticks += t;
  return ticks / 100;
}

function cpuLine(before: Map<string, number> | undefined, after: Map<string, number> | undefined, wallSeconds: number): string {
  if (!before || !after) return 'n/a (no /proc)';
  const parts = [...after].map(([comm, cpu]) => [comm, cpu - (before.get(comm) ?? 0)] as const)
    .filter(([, cpu]) => cpu >= 0.5).sort((a, b) => b[1] - a[1])
    .map(([comm, cpu]) => `${comm} ${cpu.toFixed(0)} s (${((cpu / wallSeconds) * 100).toFixed(0)}% of a core)`);
  return `${parts.join(', ')}; ${os.cpus().length} cores × ${wallSeconds.toFixed(0)} s available`;
}

const eventMs = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => (t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : 0);

/** Where a workflow's time went, from its history: workflow tasks queued / running (local activities included), activities queued / running. */
function phases(events: { eventTime?: { seconds?: unknown; nanos?: number | null } | null; [k: string]: any }[]) {
  const out = { wftQueued: 0, wftRunning: 0, activityQueued: 0, activityRunning: 0, lifetime: 0 };
  const wft = new Map<string, number>();
  const act = new Map<string, number>();
  for (const e of events) {
    const at = eventMs(e.eventTime);
    const id = String(e.eventId);
    if (e.workflowTaskScheduledEventAttributes) wft.set(id, at);
    else if (e.workflowTaskStartedEventAttributes) {
      const sid = String(e.workflowTaskStartedEventAttributes.scheduledEventId);
      out.wftQueued += at - (wft.get(sid) ?? at);
      wft.set(id, at);
    } else if (e.workflowTaskCompletedEventAttributes || e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes) {
      const a = e.workflowTaskCompletedEventAttributes ?? e.workflowTaskFailedEventAttributes ?? e.workflowTaskTimedOutEventAttributes;
      out.wftRunning += at - (wft.get(String(a.startedEventId)) ?? at);
    } else if (e.activityTaskScheduledEventAttributes) act.set(id, at);
    else if (e.activityTaskStartedEventAttributes) {
      out.activityQueued += at - (act.get(String(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? at);
      act.set(id, at);
    } else {
      const a = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (a) out.activityRunning += at - (act.get(String(a.startedEventId)) ?? at);
    }
  }
  if (events.length > 0) out.lifetime = eventMs(events[events.length - 1]!.eventTime) - eventMs(events[0]!.eventTime);
  return out;
}

type Phases = ReturnType<typeof phases>;
function phaseLine(all: Phases[]): string {
  const avg = (k: keyof Phases) => all.reduce((a, p) => a + p[k], 0) / all.length / 1000;
  const other = avg('lifetime') - avg('wftQueued') - avg('wftRunning') - avg('activityQueued') - avg('activityRunning');
  return `lifetime ${avg('lifetime').toFixed(1)} s = workflow tasks queued ${avg('wftQueued').toFixed(1)} s + running ${avg('wftRunning').toFixed(1)} s (local activities inside) `
    + `+ activities queued ${avg('activityQueued').toFixed(1)} s + running ${avg('activityRunning').toFixed(1)} s + other ${other.toFixed(1)} s (timers, overlap)`;
}

/** History lengths, from visibility when it has them, else one describe each. */
async function historyLengths(stack: Pick<AuStack, 'client'>, rows: WorkflowExecutionInfo[]): Promise<number[]> {
  return mapLimit(rows, 20, async (r) => r.historyLength > 0
    ? r.historyLength
    : (await stack.client.workflow.getHandle(r.workflowId, r.runId).describe()).historyLength);
}

/** The rollout's retry timing in both shapes: a step not answered is offered again after 1–2 s (split: STEP_RETRY_*_SECONDS). */
const SINGLE_INSTALL_TIMING = { retryInitialSeconds: 1, retryMaxSeconds: 2 };

/** `--shape single`: API, gateway and worker in this process (dev/stack.ts), as `npm start` runs them. */
async function startSingleShape(devices: number): Promise<AuStack> {
  const bench = await startBenchStack('au-bench', SINGLE_INSTALL_TIMING, devices);
  const { stack } = bench;
  const temporal = process.env.TEMPORAL_ADDRESS ? `Temporal at ${process.env.TEMPORAL_ADDRESS}` : "Temporal dev server (SQLite, in this process's child)";
  const pg = process.env.DATABASE_URL ? 'external PostgreSQL' : 'embedded PostgreSQL';
  return {
    client: stack.client, fetch: stack.fetch, apiUrl: stack.apiUrl, caCert: stack.caCert, temporalAddress: stack.temporalAddress, scratch: bench.scratch,
    server: `${temporal}, ${pg}, API + gateway + worker in this process (--shape single)`,
    timing: `retry ${SINGLE_INSTALL_TIMING.retryInitialSeconds}–${SINGLE_INSTALL_TIMING.retryMaxSeconds} s`,
    rssGroups: (fleetPids) => ({ 'API + gateway + worker (this process)': () => [process.pid], 'fleet processes (sum)': () => fleetPids }),
    cpu: (fleetPids) => {
      const byCommand = cpuByCommand();
      if (!byCommand) return undefined;
      return new Map([
        ['API + gateway + worker (this process)', ownCpuSeconds()],
        ['fleet processes', treesCpuSeconds(fleetPids)],
        ['Temporal dev server', byCommand.get('temporal') ?? 0],
        ['PostgreSQL', byCommand.get('postgres') ?? 0],
      ]);
    },
    stop: () => bench.stop(),
  };
}

/**
 * `--shape split`, production's: api/main.ts (API and agent gateway, GATEWAY_PROCESSES of them on one
 * port) and `workers` worker/main.ts processes, on their own embedded PostgreSQL and Temporal dev server
 * (bench/production-stack.ts), HTTPS with the dev certificate; production's install timing, but for the
 * single shape's retry timing (STEP_RETRY_INITIAL_SECONDS / STEP_RETRY_MAX_SECONDS), so the shapes compare.
 */
async function startSplitShape(devices: number, gatewayProcesses: number, workers: number, statements: boolean): Promise<AuStack> {
  const stack = await startProductionStack({
    name: 'au-bench', apiKey: BENCH_API_KEY, requestedBy: 'au bench', tls: true, gatewayProcesses, workers,
    postgresSettings: statements ? PG_STATEMENTS_SETTINGS : undefined,
    // The two-person rule holds a trigger reaching more devices than this (default 500): keep it above the bench's fleet.
    env: {
      TWO_PERSON_DEVICE_THRESHOLD: String(Math.max(500, devices + 1)),
      STEP_RETRY_INITIAL_SECONDS: String(SINGLE_INSTALL_TIMING.retryInitialSeconds), STEP_RETRY_MAX_SECONDS: String(SINGLE_INSTALL_TIMING.retryMaxSeconds),
    },
  });
  const apiPid = stack.api.child.pid!;
  const workerPids = () => stack.workers.map((w) => w.child.pid!);
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 'es'}`;
  const apiKind = `API + gateway (${plural(gatewayProcesses, 'process')}${gatewayProcesses > 1 ? ' + cluster primary' : ''})`;
  const workerKind = `worker${workers === 1 ? '' : 's'} (${plural(workers, 'process')})`;
  return {
    client: stack.client, fetch: stack.fetch, apiUrl: stack.apiUrl, caCert: stack.caCert, temporalAddress: stack.temporalAddress, scratch: stack.scratch,
    server: `Temporal dev server (SQLite file, WAL), embedded PostgreSQL; api/main.ts with GATEWAY_PROCESSES=${gatewayProcesses}, ${plural(workers, 'worker process')} (worker/main.ts) (--shape split)`,
    timing: `production defaults, retry ${SINGLE_INSTALL_TIMING.retryInitialSeconds}–${SINGLE_INSTALL_TIMING.retryMaxSeconds} s (STEP_RETRY_*_SECONDS)`,
    rssGroups: (fleetPids) => ({
      [apiKind]: () => [...treeCpuTicks(apiPid).keys()],
      [workerKind]: workerPids,
      'fleet processes (sum)': () => fleetPids,
    }),
    cpu: (fleetPids) => {
      if (treeCpuTicks(process.pid).size === 0) return undefined;
      return new Map([
        [apiKind, treesCpuSeconds([apiPid])],
        [workerKind, treesCpuSeconds(workerPids())],
        ['fleet processes', treesCpuSeconds(fleetPids)],
        ['Temporal dev server', treesCpuSeconds([stack.temporalPid])],
        ['PostgreSQL', treesCpuSeconds([postmasterPid(stack.postgresDir)])],
        ['this process (bench; the baseline\'s worker)', ownCpuSeconds()],
      ]);
    },
    temporalRequests: () => temporalRequestCounts(stack.temporalMetricsUrl),
    statementsDb: statements ? stack.db : undefined,
    stop: () => stack.stop(),
  };
}

/**
 * `npm run bench -- au --devices N`: one Automatic Update rollout over N simulated devices (instant
 * installers, 2 missing patches each, reboot immediately) through the real schedule API, rollout
 * workflow, one child install per device, agent gateway, worker, Temporal dev server and PostgreSQL,
 * all on this machine: by default in production's shape (`--shape split`: api/main.ts and worker/main.ts
 * processes), or all in this process (`--shape single`). Then, on the same server, a baseline: N no-op
 * workflows that run the same number of activities (and local activities) as one device install, on
 * their own worker (in this process). Prints rollout wall time, devices/min, per-device completion (from
 * rollout start), history events per device, peak RSS and CPU per process kind, and the ratio to the baseline.
 */
export interface AuBenchOptions {
  devices: number;
  /** `split` (default): API + gateway and workers in their own processes; `single`: all in this process */
  shape?: 'split' | 'single';
  /** split: api/main.ts's GATEWAY_PROCESSES (default 1) */
  gatewayProcesses?: number;
  /** split: worker/main.ts processes (default 1) */
  workers?: number;
  fleetProcesses?: number;
  /** the rollout's budget from its trigger: past it, the bench stops the rollout and prints what it has, marked partial (default 20) */
  maxMinutes?: number;
  /** the baseline's size, when N no-op workflows would take too long (default: N); the ratio compares rates */
  baselineDevices?: number;
  /** the agents' long-poll wait (default 20 s) */
  pollWaitSeconds?: number;
  /** split: PostgreSQL runs pg_stat_statements, and the statements per device of the rollout are printed */
  statements?: boolean;
}

export async function auBench(o: AuBenchOptions): Promise<void> {
  const { devices, fleetProcesses } = o;
  const maxMinutes = o.maxMinutes ?? 20;
  const baselineDevices = Math.min(o.baselineDevices ?? devices, devices);
  const pollWaitSeconds = o.pollWaitSeconds ?? 20;
  const shape = o.shape ?? 'split';
  const stack = shape === 'single' ? await startSingleShape(devices) : await startSplitShape(devices, o.gatewayProcesses ?? 1, o.workers ?? 1, o.statements ?? false);
  const { scratch } = stack;
  const apiKey = BENCH_API_KEY;
  let fleet: FleetProcesses | undefined;
  let baselineWorker: { worker: Worker; running: Promise<void>; connection: NativeConnection } | undefined;
  let stopping: Promise<void> | undefined;
  const cleanup = () => (stopping ??= (async () => {
    if (baselineWorker) {
      if (baselineWorker.worker.getState() === 'RUNNING') baselineWorker.worker.shutdown();
      await baselineWorker.running;
      await baselineWorker.connection.close();
    }
    await fleet?.stop();
    await stack.stop();
  })());
  // Interrupted (Ctrl-C, kill): stop PostgreSQL and the dev server rather than orphan them.
  const onSignal = (signal: NodeJS.Signals) => {
    progressLog(`${signal}: stopping`);
    // Calls still in flight (the baseline's results) retry on the closed Temporal connection and throw
    // from a timer: said, not fatal, so the stop still ends every process it started.
    process.on('uncaughtException', (err) => progressLog(`while stopping: ${err.message}`));
    cleanup().finally(() => process.exit(130)).catch(() => undefined);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const api = async (method: string, p: string, body?: unknown): Promise<any> => {
    const res = await stack.fetch(`${stack.apiUrl}${p}`, {
      method, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };

  const lines: string[] = [];
  try {
    // 1. N devices under one client, one fleet of simulated agents.
    const tReg = Date.now();
    const client = await api('POST', '/api/v1/clients', { name: 'AU Bench' });
    const site = await api('POST', `/api/v1/clients/${client.id}/sites`, { name: 'Lab' });
    const members = await mapLimit(Array.from({ length: devices }, (_, i) => i), 20, async (i) => {
      const name = `AU-${String(i + 1).padStart(5, '0')}`;
      const created = await api('POST', '/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
      return {
        enrollmentToken: created.enrollmentToken as string,
        device: {
          id: name, name, os: 'server2022' as const, sandboxDir: path.join(scratch, 'devices', name), seed: i,
          missingKbs: ['KB5034439', 'KB5033118'], rebootDurationMs: 100, executeDurationMs: 0, downloadDurationMs: 0,
        },
      };
    });
    // The agents run in child processes, each under its own open-file budget: this process keeps only
    // the gateway's side of their sockets (and says so, naming ulimit -n, when even that cannot fit).
    checkGatewayBudget(devices, openFileLimit());
    fleet = startFleetProcesses({
      baseUrl: stack.apiUrl, caCert: stack.caCert, members, pollWaitSeconds, processes: fleetProcesses,
      onAgentError: (device, message) => progressLog(`agent ${device} stopped: ${message}`),
    });
    await fleet.ready;
    progressLog(`${devices} devices registered and enrolled in ${((Date.now() - tReg) / 1000).toFixed(1)} s (${fleet.shares.length} fleet processes)`);

    // 2. One Automatic Update schedule over the client, triggered now.
    const schedule = await api('POST', '/api/v1/schedules', {
      name: 'AU bench', kind: 'automatic_update', scope: { scopeType: 'client', scopeId: client.id },
      timing: { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'UTC' },
      distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' }, maxConcurrentDevices: Math.min(devices, 500),
    });
    const fleetPids = fleet.pids();
    const cpu0 = stack.cpu(fleetPids);
    const rss = rssSampler(stack.rssGroups(fleetPids));
    const requests0 = await stack.temporalRequests?.();
    if (stack.statementsDb) await resetStatements(stack.statementsDb);
    const t0 = Date.now();
    await api('POST', `/api/v1/schedules/${schedule.id}/trigger`);
    const scheduleHandle = stack.client.schedule.getHandle(temporalScheduleId(schedule.id));
    let rolloutId: string | undefined;
    for (let tries = 0; !rolloutId; tries++) {
      rolloutId = (await scheduleHandle.describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!rolloutId) {
        if (tries > 200) throw new Error('the triggered rollout did not start within 20 s');
        await sleep(100);
      }
    }
    const rollout = stack.client.workflow.getHandle(rolloutId);
    const ticker = setInterval(() => {
      rollout.query(rolloutProgressQuery).then(
        (p) => progressLog(`run ${p.runs}: ${p.counts.done} done, ${p.counts.failed} failed, ${p.counts.offline} offline, ${p.inFlight} in flight, ${p.waiting} waiting (${((Date.now() - t0) / 1000).toFixed(0)} s)`),
        (err: unknown) => progressLog(`progress query failed: ${(err as Error).message}`),
      );
    }, 15_000);
    // Past --max-minutes the rollout is stopped where it is: the figures are then of the devices done by
    // then (devices/min counts those), marked partial, so a run too large for the machine still says something.
    let result: RolloutResult | undefined;
    let partial: { elapsedMinutes: number; progress?: RolloutProgress } | undefined;
    try {
      const deadlineMs = maxMinutes * 60_000;
      result = await Promise.race([
        rollout.result() as Promise<RolloutResult>,
        sleep(deadlineMs).then(() => undefined),
      ]);
      if (!result) {
        const progress = await rollout.query(rolloutProgressQuery).catch(() => undefined);
        partial = { elapsedMinutes: maxMinutes, progress };
        progressLog(`--max-minutes ${maxMinutes} reached: ${progress ? `${progress.counts.done} done, ${progress.inFlight} in flight` : 'no progress answer'}; terminating the rollout and its installs`);
        await rollout.terminate(`au bench: --max-minutes ${maxMinutes}`);
      }
    } finally {
      clearInterval(ticker);
    }
    const wall = (Date.now() - t0) / 1000;
    const rssLine = rss.stop();
    const rolloutCpu = cpuLine(cpu0, stack.cpu(fleetPids), wall);
    const requests1 = await stack.temporalRequests?.();
    const statements = stack.statementsDb ? await readStatements(stack.statementsDb) : undefined;
    if (result) progressLog(`rollout finished in ${wall.toFixed(1)} s: ${JSON.stringify(result.counts)}, ${result.runs} run(s)`);

    // 3. Per-device completion and history, from visibility (when partial: the installs closed by the deadline).
    const runs = result
      ? await listUntil(stack, `WorkflowId = "${rolloutId}"`,
        (rows) => rows.length >= result!.runs && rows.every((r) => r.status.name !== 'RUNNING'), 'rollout runs')
      : await listAll(stack, `WorkflowId = "${rolloutId}"`);
    const rolloutStart = Math.min(...runs.map((r) => r.startTime.getTime()));
    const installQuery = `WorkflowType = "${INSTALL_WORKFLOW_TYPE}" AND ClientId = "${client.id}"`;
    const children = result
      ? await listUntil(stack, installQuery, (rows) => rows.length >= devices && rows.every((r) => r.status.name !== 'RUNNING'), 'device installs')
      : (await listAll(stack, `${installQuery} AND ExecutionStatus = "Completed"`)).filter((c) => c.closeTime && c.closeTime.getTime() - t0 <= wall * 1000);
    if (children.length === 0) throw new Error(`no device install completed within --max-minutes ${maxMinutes}`);
    const completion = children.map((c) => (c.closeTime ?? new Date()).getTime() - rolloutStart).sort((a, b) => a - b);
    const completed = children.filter((c) => c.status.name === 'COMPLETED').length;
    // Devices/min counts the devices done: all of them, or those done by the deadline.
    const perMin = ((result ? devices : completed) / wall) * 60;
    const rolloutEvents = (await historyLengths(stack, runs)).reduce((a, b) => a + b, 0);
    const childEvents = await historyLengths(stack, children);
    // Partial: the rollout's events are those of all its devices so far, spread over the ones it started.
    const rolloutDevices = result ? devices : Math.max(children.length, partial?.progress?.started ?? children.length);
    const eventsPerDevice = rolloutEvents / rolloutDevices + childEvents.reduce((a, b) => a + b, 0) / children.length;

    // What one device install costs Temporal: activities scheduled, local activities run.
    const sample = await stack.client.workflow.getHandle(children[0]!.workflowId, children[0]!.runId).fetchHistory();
    const activityCount = (sample.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length;
    const localActivityCount = (sample.events ?? []).filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length;
    const sampleOf = <T>(rows: T[]) => rows.filter((_, i) => i % Math.max(1, Math.floor(rows.length / 100)) === 0);
    const childPhases = await mapLimit(sampleOf(children), 10, async (c) =>
      phases((await stack.client.workflow.getHandle(c.workflowId, c.runId).fetchHistory()).events ?? []));
    const childStarts = children.map((c) => c.startTime.getTime() - rolloutStart).sort((a, b) => a - b);

    // The fleet is idle from here: stop it, so the baseline has the machine to itself but for idle Patchflow.
    await fleet.stop();
    fleet = undefined;

    // 4. Baseline: N (or --baseline-devices) no-op workflows with the same activity counts, on their own worker and task queue.
    const taskQueue = 'au-bench-baseline';
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./baseline-workflows') });
    const connection = await NativeConnection.connect({ address: stack.temporalAddress });
    const worker = await Worker.create({
      connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', taskQueue, workflowBundle,
      activities: { noop: async (step: number) => step },
    });
    baselineWorker = { worker, connection, running: worker.run().catch((err) => console.error(`baseline worker stopped with an error: ${err}`)) };
    const runId = Date.now().toString(36);
    const cpuB = stack.cpu([]);
    const requestsB0 = await stack.temporalRequests?.();
    const tb = Date.now();
    await mapLimit(Array.from({ length: baselineDevices }, (_, i) => i), 100, async (i) => {
      const handle = await stack.client.workflow.start<typeof baselineDeviceWorkflow>('baselineDeviceWorkflow', {
        taskQueue, workflowId: `au-bench-baseline/${runId}/${i}`, args: [activityCount, localActivityCount],
      });
      return handle;
    }).then((handles) => Promise.all(handles.map((h) => h.result())));
    const baselineWall = (Date.now() - tb) / 1000;
    const baselineCpu = cpuLine(cpuB, stack.cpu([]), baselineWall);
    const requestsB1 = await stack.temporalRequests?.();
    const baselinePerMin = (baselineDevices / baselineWall) * 60;
    const baselineRows = await listUntil(stack, `WorkflowType = "baselineDeviceWorkflow" AND WorkflowId STARTS_WITH "au-bench-baseline/${runId}/"`,
      (rows) => rows.length >= baselineDevices && rows.every((r) => r.status.name !== 'RUNNING'), 'baseline workflows');
    const baselineEvents = (await historyLengths(stack, baselineRows)).reduce((a, b) => a + b, 0) / baselineDevices;
    const baselinePhases = await mapLimit(sampleOf(baselineRows), 10, async (r) =>
      phases((await stack.client.workflow.getHandle(r.workflowId, r.runId).fetchHistory()).events ?? []));

    const s = (ms: number) => (ms / 1000).toFixed(1);
    const counts = result?.counts ?? partial?.progress?.counts;
    const partialNote = partial
      ? `PARTIAL: stopped at --max-minutes ${maxMinutes} with ${completed} of ${devices} devices done; the figures are of those ${completed} (devices/min: done ÷ elapsed)`
      : undefined;
    const baselineNote = baselineDevices < devices ? ` (--baseline-devices ${baselineDevices}, not the rollout's ${devices}: the ratio compares rates)` : '';
    lines.push(
      `server: ${stack.server}, ${os.cpus().length} cores; load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`,
      ...(partialNote ? [partialNote] : []),
      `au rollout: ${devices} devices, ${counts?.done ?? '?'} done, ${counts?.failed ?? '?'} failed, ${counts?.offline ?? '?'} offline, `
        + `${counts?.busy ?? '?'} busy; ${counts?.patchesInstalled ?? '?'} patches installed; ${result ? result.runs : partial?.progress?.runs ?? '?'} rollout run(s); `
        + `${completed}/${result ? children.length : devices} device installs completed`,
      `  rollout wall time (trigger to ${result ? 'result' : 'deadline'}): ${wall.toFixed(1)} s, ${perMin.toFixed(0)} devices/min (maxConcurrentDevices ${Math.min(devices, 500)}, agents' poll wait ${pollWaitSeconds} s, install timing ${stack.timing})`,
      `  device completion from rollout start: p50 ${s(percentile(completion, 50))} s, p95 ${s(percentile(completion, 95))} s, last ${s(completion[completion.length - 1]!)} s`,
      `  device install started after rollout start: p50 ${s(percentile(childStarts, 50))} s, p95 ${s(percentile(childStarts, 95))} s`,
      `  per device install (sample of ${childPhases.length}): ${phaseLine(childPhases)}`,
      `  CPU during the rollout: ${rolloutCpu}`,
      ...(requests0 && requests1 ? [`  Temporal frontend calls per device (rollout): ${requestsPerUnitLine(requests0, requests1, result ? devices : completed)}`] : []),
      ...(statements ? statementsPerUnit(statements, result ? devices : completed).map((l, i) => (i === 0 ? `  PostgreSQL (rollout): ${l}` : l)) : []),
      `  peak RSS during the rollout: ${rssLine}`,
      `  history events per device (Patchflow): ${eventsPerDevice.toFixed(1)} (child installs ${Math.min(...childEvents)}–${Math.max(...childEvents)}, rollout runs ${rolloutEvents} in all)`,
      `  per device install: ${activityCount} activities + ${localActivityCount} local activities`,
      `baseline: ${baselineDevices} no-op workflows × (${activityCount} activities + ${localActivityCount} local activities) in ${baselineWall.toFixed(1)} s, `
        + `${baselinePerMin.toFixed(0)} devices/min, ${baselineEvents.toFixed(1)} history events per workflow`,
      `  per baseline workflow (sample of ${baselinePhases.length}): ${phaseLine(baselinePhases)}`,
      `  CPU during the baseline: ${baselineCpu}`,
      ...(requestsB0 && requestsB1 ? [`  Temporal frontend calls per workflow (baseline): ${requestsPerUnitLine(requestsB0, requestsB1, baselineDevices)}`] : []),
      `au${partial ? ' (PARTIAL)' : ''}: ${devices} devices${partial ? `, ${completed} done` : ''} in ${wall.toFixed(1)} s, ${perMin.toFixed(0)} devices/min, `
        + `p50/p95 device completion ${s(percentile(completion, 50))} / ${s(percentile(completion, 95))} s, ${eventsPerDevice.toFixed(1)} history events per device, `
        + `peak RSS ${rssLine}, baseline ratio ${(perMin / baselinePerMin).toFixed(2)}${baselineNote}`,
    );
  } finally {
    await cleanup();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  for (const line of lines) console.log(line);
}
