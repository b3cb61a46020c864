/**
 * `npm run soak -- --devices N`: one Automatic Update over N simulated devices on a stack of real,
 * separate processes (bench/production-stack.ts: PostgreSQL of its own, the Temporal dev server on a
 * db file, 2–3 workers, the API/gateway; the fleet in child processes behind a fault proxy), run twice
 * in one command: without faults, then with the faults of a printed timetable. After each run it checks
 * that nothing was lost and nothing ran twice, and prints the drain time of the faulty run against the
 * fault-free one.
 * Exits non-zero when a check fails, never on a timing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFleetProcesses, type ChildFleetMember, type FleetProcesses } from '../agent/fleet-processes';
import type { Db } from '../db/database';
import { temporalScheduleId, type RolloutResult } from '../workflows/automatic-update.contract';
import { startProductionStack } from './production-stack';
import { startFaultProxy, type FaultProxy } from './soak-proxy';
import { recoveryBreakdown, type FaultWindow, type RecoveryBreakdown } from './soak-recovery';
import { describeTimetable, faultTimetable, summarizeFaultsDone, type Fault } from './soak-timetable';
import { checkSoak, type SoakCheck } from './soak-checks';

const API_KEY = 'soak-api-key-0123456789abcdef';
const KBS = ['KB5034439', 'KB5033118'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface SoakOptions {
  devices: number;
  workers: number;
  /** skip the fault-free run (then no drain ratio) */
  faultyOnly?: boolean;
  /**
   * how long the simulated installer runs per patch (default 20 ms). Longer makes the rollout last
   * through the whole fault timetable at a small fleet size, so every fault meets work in flight.
   */
  executeMs?: number;
  /** how long a run's rollout may take to drain before the run fails (default: soakDrainMinutes) */
  maxMinutes?: number;
}

/**
 * A run's drain deadline when none is given: an hour, or more for a fleet this machine drains slower
 * than that (about 120 devices/min on two cores at 2,000 devices, so 10,000 take well over an hour).
 */
export function soakDrainMinutes(devices: number): number {
  return Math.max(60, Math.ceil(devices / 50));
}

/**
 * Soak-only recovery settings, each an environment setting of the API (config/config.ts): the
 * simulated machines restart in half a second, so a reboot not done after 10 s never happened; the
 * heartbeat timeout is shortened from 120 s to 40 s (keep-alive every 10 s) so that a step lost with
 * its worker costs the soak 40 s, not two minutes. Printed with the results.
 */
export const SOAK_RECOVERY_ENV = {
  REBOOT_TIMEOUT_SECONDS: '10', REBOOT_MAX_OFFERS: '3', STEP_HEARTBEAT_TIMEOUT_SECONDS: '40', COMMAND_KEEPALIVE_INTERVAL_SECONDS: '10',
  RESULT_COMPLETER_INTERVAL_SECONDS: '5', AGENT_POLL_WAIT_SECONDS: '10',
} as const;

/** Every third device's first patch answers 3010 (installed, restart required), so its install reboots. */
const REBOOTING_KB = 'KB5034439';
const rebootsOf = (i: number) => i % 3 === 0;

export interface SoakRunReport {
  label: string;
  drainSeconds: number;
  checks: SoakCheck[];
  faultsDone: string[];
  proxy: Awaited<ReturnType<FaultProxy['counts']>>;
  /** the faulty run's: where its time went */
  recovery?: RecoveryBreakdown;
}

function say(label: string, msg: string): void {
  process.stderr.write(`[soak ${label} ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** One soak run on its own stack; `faults` false is the fault-free reference of the same size. */
export async function soakRun(o: SoakOptions & { faults: boolean; label: string }): Promise<SoakRunReport> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `patchflow-soak-${o.label}-`));
  const log = (m: string) => say(o.label, m);
  const stops: (() => Promise<void>)[] = [];
  const faultsDone: string[] = [];
  const windows: FaultWindow[] = [];
  /** Runs a fault, keeping its window for the recovery breakdown. */
  const timed = async (label: string, act: () => Promise<void>, agentDevices?: string[]) => {
    const startMs = Date.now();
    try {
      await act();
    } finally {
      windows.push({ label, startMs, endMs: Date.now(), agentDevices });
    }
  };
  try {
    // PostgreSQL of its own (never the machine's), kept on disk on its fixed port so that a restart
    // comes back where the processes expect it; processes ended with -9 at the end, as in the faults.
    const stack = await startProductionStack({
      name: `soak-${o.label}`, scratch, apiKey: API_KEY, requestedBy: 'soak', workers: o.workers,
      persistentPostgres: true, poolMax: 4, killProcessesOnStop: true,
      // The two-person rule holds a trigger reaching more devices than the threshold: keep it above the fleet.
      env: { TWO_PERSON_DEVICE_THRESHOLD: String(o.devices + 1), ...SOAK_RECOVERY_ENV },
    });
    stops.push(() => stack.stop());
    // The soak's own view: the stack's pool and client, for the trigger and the checks.
    const { apiUrl, db, client, workers } = stack;

    const call = async (method: string, p: string, body?: unknown): Promise<any> => {
      const res = await fetch(`${apiUrl}${p}`, { method, headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const tenant = await call('POST', '/api/v1/clients', { name: `Soak ${o.label}` });
    const site = await call('POST', `/api/v1/clients/${tenant.id}/sites`, { name: 'Lab' });
    const members: ChildFleetMember[] = [];
    for (let i = 0; i < o.devices; i++) {
      const name = `SOAK-${String(i + 1).padStart(5, '0')}`;
      const created = await call('POST', '/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
      const dir = path.join(scratch, 'devices', name);
      members.push({
        enrollmentToken: created.enrollmentToken,
        device: {
          id: name, name, os: 'server2022', sandboxDir: dir, seed: i, missingKbs: KBS,
          rebootDurationMs: 500, executeDurationMs: o.executeMs ?? 20, downloadDurationMs: 10, stateFile: path.join(dir, 'device-state.json'),
          ...(rebootsOf(i) ? { exitCodes: { [REBOOTING_KB]: [3010] } } : {}),
        },
        outboxFile: path.join(dir, 'outbox.json'),
      });
    }

    // Set once the proxy is up (the proxy's callback needs the fleet, the fleet needs the proxy's URL).
    const ref: { fleet?: FleetProcesses } = {};
    let t0 = Date.now();
    let rebootKillPending = o.faults;
    let rebootKill: { deviceId: string; name: string } | undefined;
    const proxy = await startFaultProxy({
      target: apiUrl, dropResults: 0.05, dropPolls: 0.05, seed: 15, devices: o.devices,
      onRebootAcknowledged: async (deviceId) => {
        // Once: the agent process dies right after the gateway accepted its reboot acknowledgement,
        // before the answer reaches it (so before it restarts the machine: the boot id stays).
        const fleet = ref.fleet;
        if (!rebootKillPending || !fleet) return;
        const index = fleet.agents.findIndex((a) => a.deviceId === deviceId);
        if (index < 0) return;
        rebootKillPending = false;
        const proc = fleet.shares.findIndex((s) => s.includes(index));
        const killed = { deviceId, name: members[index]!.device.name ?? members[index]!.device.id };
        rebootKill = killed;
        const label = `agent process ${proc} killed right after ${killed.name} acknowledged a reboot at ${((Date.now() - t0) / 1000).toFixed(0)} s`;
        faultsDone.push(label);
        log(label);
        const agentDevices = fleet.shares[proc]!.map((k) => fleet.agents[k]!.deviceId).filter((d): d is string => Boolean(d));
        await fleet.kill(proc);
        void timed(label, () => sleep(2000).then(() => fleet.restart(proc)), agentDevices).catch((err) => log(`restart of agent process ${proc} failed: ${err}`));
      },
    });
    proxy.setActive(o.faults);
    stops.push(() => proxy.stop());
    // Two agent processes at least, so that killing one is a share of the fleet, not all of it.
    const fleet = startFleetProcesses({
      baseUrl: proxy.url, members, pollWaitSeconds: Number(SOAK_RECOVERY_ENV.AGENT_POLL_WAIT_SECONDS), processes: o.devices >= 2 && o.devices <= 2000 ? 2 : undefined,
      onAgentError: (d, m) => log(`agent ${d} stopped: ${m}`),
    });
    ref.fleet = fleet;
    stops.push(() => fleet.stop());
    await fleet.ready;
    log(`${o.devices} devices enrolled in ${fleet.shares.length} agent processes; ${o.workers} workers; proxy ${proxy.url} (${proxy.processes} process${proxy.processes === 1 ? '' : 'es'}) → ${apiUrl}`);

    const schedule = await call('POST', '/api/v1/schedules', {
      name: `Soak ${o.label}`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: tenant.id },
      timing: { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'UTC' },
      distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' }, maxConcurrentDevices: Math.min(o.devices, 500),
    });
    t0 = Date.now();
    await call('POST', `/api/v1/schedules/${schedule.id}/trigger`);
    let rolloutId: string | undefined;
    for (let tries = 0; !rolloutId; tries++) {
      rolloutId = (await client.schedule.getHandle(temporalScheduleId(schedule.id)).describe()).info.recentActions[0]?.action.workflow.workflowId;
      if (!rolloutId) {
        if (tries > 300) throw new Error('the triggered rollout did not start within 30 s');
        await sleep(100);
      }
    }

    // The faults, on their timetable, while the rollout drains.
    const actions: Record<Fault['kind'], () => Promise<void>> = {
      'kill-workers-share': async () => {
        const n = Math.max(1, Math.round(workers.length * 0.25));
        const victims = Array.from({ length: n }, (_, k) => (Math.floor((Date.now() - t0) / 30_000) + k) % workers.length);
        await Promise.all(victims.map((i) => stack.killWorker(i)));
        for (const i of victims) stack.startWorker(i);
      },
      'kill-all-workers': async () => {
        await Promise.all(workers.map((_, i) => stack.killWorker(i)));
        await sleep(3000);
        for (let i = 0; i < workers.length; i++) stack.startWorker(i);
      },
      'restart-temporal': () => stack.restartTemporal(5000),
      'restart-postgres': () => stack.restartPostgres(3000),
      'kill-agent-process': async () => {
        await fleet.kill(0);
        await sleep(3000);
        await fleet.restart(0);
      },
    };
    const agentsOf = (proc: number) => fleet.shares[proc]!.map((k) => fleet.agents[k]!.deviceId).filter((d): d is string => Boolean(d));
    const maxMinutes = o.maxMinutes ?? soakDrainMinutes(o.devices);
    // The share kills run until the rollout has drained (or its deadline), however long that is.
    const timetable = o.faults ? faultTimetable(maxMinutes * 60) : [];
    if (o.faults) log(`fault timetable (seconds after the trigger): ${describeTimetable(timetable)}; proxy drops 5% of result answers and 5% of poll replies with commands throughout`);
    let finished = false;
    // Woken when the rollout has drained, so the runner stops then instead of sleeping out the timetable.
    let wake: () => void = () => undefined;
    const drained = new Promise<void>((r) => { wake = r; });
    const faultRunner = (async () => {
      for (const f of timetable) {
        const wait = t0 + f.atSeconds * 1000 - Date.now();
        if (wait > 0 && !finished) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([drained, new Promise<void>((r) => { timer = setTimeout(r, wait); })]);
          clearTimeout(timer);
        }
        if (finished) {
          // A share kill past the end is the timetable running out, not a fault missed: not listed.
          if (f.kind !== 'kill-workers-share') faultsDone.push(`${f.kind} at ${f.atSeconds} s skipped: the rollout had finished`);
          continue;
        }
        log(`fault: ${f.kind}`);
        const label = `${f.kind} at ${f.atSeconds} s`;
        await timed(label, actions[f.kind], f.kind === 'kill-agent-process' ? agentsOf(0) : undefined).catch((err) => log(`fault ${f.kind} failed: ${(err as Error).message}`));
        faultsDone.push(label);
      }
    })();

    // The rollout's result, asked again across a Temporal restart (the connection comes back by itself).
    let result: RolloutResult | undefined;
    const deadline = t0 + maxMinutes * 60_000;
    while (!result) {
      try {
        const d = await client.workflow.getHandle(rolloutId).describe();
        if (d.status.name === 'COMPLETED') result = (await client.workflow.getHandle(rolloutId).result()) as RolloutResult;
        else if (d.status.name !== 'RUNNING' && d.status.name !== 'CONTINUED_AS_NEW') throw new Error(`rollout ${rolloutId} ended ${d.status.name}`);
      } catch (err) {
        if ((err as Error).message.startsWith('rollout ')) throw err;
      }
      if (!result) {
        if (Date.now() > deadline) throw new Error(`the rollout did not finish within ${maxMinutes} minutes (--max-minutes)`);
        await sleep(2000);
      }
    }
    const drainSeconds = (Date.now() - t0) / 1000;
    finished = true;
    wake();
    proxy.setActive(false);
    await faultRunner;
    log(`rollout finished in ${drainSeconds.toFixed(1)} s: ${JSON.stringify(result.counts)}`);
    await fleet.stop();

    const checks = await checkSoak({ db, client, result, clientId: tenant.id, kbs: KBS, stateFiles: members.map((m) => m.device.stateFile!), devices: o.devices });
    const reboots = await rebootFacts(db, tenant.id);
    checks.push({ name: 'reboots: every rebooting device restarted once per reboot', ok: reboots.devices === members.filter((_, i) => rebootsOf(i)).length && reboots.unfinished === 0,
      detail: `${reboots.devices} devices rebooted (expected ${members.filter((_, i) => rebootsOf(i)).length}); ${reboots.unfinished} reboot commands not succeeded; ${reboots.reoffered} offered again after the reboot timeout` });
    if (o.faults) checks.push(await rebootKillCheck(db, rebootKill));
    const recovery = o.faults ? await recoveryBreakdown({ client, db, faults: windows, drops: proxy.drops }).catch((err) => { log(`recovery breakdown failed: ${err}`); return undefined; }) : undefined;
    return { label: o.label, drainSeconds, checks, faultsDone, proxy: await proxy.counts(), recovery };
  } finally {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    if (!process.env.SOAK_KEEP) fs.rmSync(scratch, { recursive: true, force: true });
    else log(`kept ${scratch}`);
  }
}

/** How the soak's reboots went, from the gateway's rows. */
async function rebootFacts(db: Db, clientId: string): Promise<{ devices: number; unfinished: number; reoffered: number }> {
  const { rows } = await db.query<{ devices: string; unfinished: string; reoffered: string }>(
    `SELECT count(DISTINCT c.device_id) AS devices, count(*) FILTER (WHERE c.status <> 'succeeded') AS unfinished, count(*) FILTER (WHERE c.reboot_offers > 0) AS reoffered
       FROM agent_commands c JOIN devices d ON d.id = c.device_id JOIN sites s ON s.id = d.site_id
      WHERE s.client_id = $1::uuid AND c.type = 'reboot'`, [clientId]);
  return { devices: Number(rows[0]!.devices), unfinished: Number(rows[0]!.unfinished), reoffered: Number(rows[0]!.reoffered) };
}

/**
 * The agent killed right after acknowledging a reboot (issue 18): the fault fired, the reboot was
 * offered again once the reboot timeout had passed (the device checked in with its old boot id), and
 * it finished with a new boot id.
 */
async function rebootKillCheck(db: Db, killed: { deviceId: string; name: string } | undefined): Promise<SoakCheck> {
  const name = 'agent killed after acknowledging a reboot: offered again, restarted';
  if (!killed) return { name, ok: false, detail: 'the fault never fired: no device acknowledged a reboot' };
  const { rows } = await db.query<{ status: string; reboot_offers: number; result: { previousBootId?: string; bootId?: string } | null }>(
    `SELECT status, reboot_offers, result FROM agent_commands WHERE device_id = $1::uuid AND type = 'reboot' ORDER BY created_at`, [killed.deviceId]);
  const row = rows[0];
  const ok = rows.length === 1 && row!.status === 'succeeded' && row!.reboot_offers >= 1 && Boolean(row!.result?.bootId) && row!.result!.bootId !== row!.result!.previousBootId;
  return { name, ok, detail: row ? `${killed.name}: reboot ${row.status} after ${row.reboot_offers} offer(s) again; boot id ${row.result?.previousBootId ?? '?'} → ${row.result?.bootId ?? '?'}` : `${killed.name}: no reboot command` };
}

/** How many faults the report's "by fault" lines name, the largest first. */
const BY_FAULT_LINES = 15;

/** Both runs, the report, and the exit status (checks only). */
export async function soak(o: SoakOptions): Promise<boolean> {
  const runs: SoakRunReport[] = [];
  if (!o.faultyOnly) runs.push(await soakRun({ ...o, faults: false, label: 'fault-free' }));
  runs.push(await soakRun({ ...o, faults: true, label: 'faults' }));
  let ok = true;
  for (const r of runs) {
    console.log(`soak ${r.label}: ${o.devices} devices, drained in ${r.drainSeconds.toFixed(1)} s; proxy forwarded ${r.proxy.forwarded}, dropped ${r.proxy.droppedResults} result answers and ${r.proxy.droppedPolls} poll replies`);
    for (const f of summarizeFaultsDone(r.faultsDone)) console.log(`  fault: ${f}`);
    for (const c of r.checks) {
      console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
      if (!c.ok) ok = false;
    }
    if (r.recovery) {
      console.log(`  recovery breakdown (time beyond the run's median per step phase and type, ≥ 1.5 s, summed over the devices, which wait in parallel; settings ${Object.entries(SOAK_RECOVERY_ENV).map(([k, v]) => `${k}=${v}`).join(' ')}):`);
      for (const l of r.recovery.byCause) console.log(`    ${l.excessSeconds.toFixed(1).padStart(7)} s in ${String(l.phases).padStart(3)} (max ${l.maxSeconds.toFixed(1)} s): ${l.cause}`);
      console.log('  by fault:');
      // The largest only: a long run's share kills are each a fault of their own (173 at 10,000 devices).
      const shown = r.recovery.byFault.slice(0, BY_FAULT_LINES);
      for (const l of shown) console.log(`    ${l.excessSeconds.toFixed(1).padStart(7)} s in ${String(l.phases).padStart(3)} (max ${l.maxSeconds.toFixed(1)} s): ${l.cause}`);
      const rest = r.recovery.byFault.slice(BY_FAULT_LINES);
      if (rest.length > 0) {
        const sum = rest.reduce((a, l) => ({ s: a.s + l.excessSeconds, p: a.p + l.phases }), { s: 0, p: 0 });
        console.log(`    ${sum.s.toFixed(1).padStart(7)} s in ${String(sum.p).padStart(3)}: ${rest.length} more faults, each smaller`);
      }
      console.log('  last to finish:');
      for (const l of r.recovery.last) console.log(`    ${l}`);
    }
  }
  if (runs.length === 2) {
    const ratio = runs[1]!.drainSeconds / runs[0]!.drainSeconds;
    console.log(`soak: drain time with faults ${runs[1]!.drainSeconds.toFixed(1)} s vs fault-free ${runs[0]!.drainSeconds.toFixed(1)} s: ${ratio.toFixed(2)}× (goal ≤ 2×, printed, not checked)`);
  }
  console.log(`soak: ${ok ? 'every check passed' : 'CHECKS FAILED'}`);
  return ok;
}
