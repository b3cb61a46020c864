/**
 * Where a soak run's time went: each device step of each install is cut into phases (waiting for a
 * worker to record its command, waiting for the device to take it, the device running it, the answer
 * reaching Temporal, and the workflow task between steps), each phase's time beyond the run's median
 * for that phase is "excess", and each excess gets the cause the evidence names: the failure that made
 * Temporal retry the step (a heartbeat timeout is a worker killed before it recorded the command), a
 * reboot offered again after the reboot timeout, a reply the proxy dropped for that device, an agent
 * process that was down, or the fault whose window it falls in. Printed, never checked.
 */
import type { Client } from '@temporalio/client';
import type { Db } from '../db/database';
import type { ProxyDrop } from './soak-proxy';

/** A fault as it happened (ms since the epoch); `agentDevices` for faults that took agents down. */
export interface FaultWindow {
  label: string;
  startMs: number;
  endMs: number;
  /** the server device ids whose agents this fault stopped (agent process kills) */
  agentDevices?: string[];
}

export interface RecoveryLine {
  cause: string;
  phases: number;
  excessSeconds: number;
  maxSeconds: number;
}

export interface RecoveryBreakdown {
  byCause: RecoveryLine[];
  /** the same excess, by the fault it is attributed to ("no fault" for the rest) */
  byFault: RecoveryLine[];
  /** the installs that finished last, with their largest excess: they set the drain time */
  last: string[];
}

/** Excess below this (seconds) is noise of a loaded machine, not recovery. */
const NOISE_SECONDS = 1.5;
/** How long after a fault ends its effects are still attributed to it (a restarted worker warming up, a reconnect). */
const AFTERMATH_MS = 15_000;

interface Phase { name: 'worker' | 'claim' | 'device' | 'delivery' | 'workflow-task'; fromMs: number; toMs: number; cause?: string; deviceId: string; /** the command type (a 30 s execute is not a slow scan) */ type?: string }

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : 0;
};

/** Temporal's TimeoutType, by number or name. */
const TIMEOUT_NAMES: Record<string, string> = { 1: 'START_TO_CLOSE', 2: 'SCHEDULE_TO_START', 3: 'SCHEDULE_TO_CLOSE', 4: 'HEARTBEAT' };
const timeoutName = (t: unknown) => TIMEOUT_NAMES[String(t)] ?? String(t).replace(/^TIMEOUT_TYPE_/, '');

function failureCause(f: { message?: string | null; timeoutFailureInfo?: { timeoutType?: unknown } | null } | null | undefined): string {
  const timeout = f?.timeoutFailureInfo?.timeoutType;
  if (timeout !== undefined && timeout !== null) {
    const name = timeoutName(timeout);
    if (name === 'HEARTBEAT') return 'step retried after its heartbeat timeout (a worker died before recording the command)';
    if (name === 'START_TO_CLOSE') return 'step retried after its start-to-close timeout';
    return `step retried after a ${name} timeout`;
  }
  return `step retried after a failure: ${(f?.message ?? 'unknown').slice(0, 80)}`;
}

/**
 * Why a workflow task between two steps was late: it sat on the sticky queue of a killed worker until
 * the sticky schedule-to-start timeout sent it to the shared queue, and/or it started on a worker that
 * died (or was too starved to finish) before its start-to-close timeout (attempts past those in the
 * history are transient retries Temporal does not record).
 */
function workflowTaskCause(timeouts: Set<string>, attempt: number): string | undefined {
  if (timeouts.has('SCHEDULE_TO_START')) return "workflow task waited on a killed worker's sticky queue until its schedule-to-start timeout (then perhaps timed out again)";
  if (timeouts.has('START_TO_CLOSE') || attempt > 1) return 'workflow task timed out (start-to-close) on a worker that died or was starved, and ran again';
  return undefined;
}

export async function recoveryBreakdown(o: { client: Client; db: Db; faults: FaultWindow[]; drops: ProxyDrop[]; workflowIdPrefix?: string }): Promise<RecoveryBreakdown> {
  const installs: { workflowId: string; runId: string; closeMs: number }[] = [];
  for await (const w of o.client.workflow.list({ query: `WorkflowType = 'deviceInstallWorkflow'` })) {
    installs.push({ workflowId: w.workflowId, runId: w.runId, closeMs: w.closeTime?.getTime() ?? Date.now() });
  }
  const { rows: commands } = await o.db.query<{ id: string; device_id: string; type: string; created: string; claimed: string | null; acked: string | null; finished: string | null; delivered: string | null; reboot_offers: number }>(
    `SELECT id, device_id, type, extract(epoch FROM created_at) * 1000 AS created, extract(epoch FROM claimed_at) * 1000 AS claimed,
            extract(epoch FROM acknowledged_at) * 1000 AS acked, extract(epoch FROM finished_at) * 1000 AS finished,
            extract(epoch FROM delivered_at) * 1000 AS delivered, reboot_offers
       FROM agent_commands WHERE workflow_id = ANY($1::text[])`, [installs.map((i) => i.workflowId)]);
  const byId = new Map(commands.map((c) => [c.id, c]));
  const phases: Phase[] = [];
  const lastStepOf = new Map<string, { closeMs: number; deviceId: string }>();

  for (const inst of installs) {
    const history = await o.client.workflow.getHandle(inst.workflowId, inst.runId).fetchHistory();
    const scheduled = new Map<string, { atMs: number; activityId: string }>();
    const started = new Map<string, { atMs: number; attempt: number; lastFailure: Parameters<typeof failureCause>[0] }>();
    let previousCloseMs: number | undefined;
    /** workflow task timeouts since the last activity closed, by kind, and the highest attempt seen */
    let taskTimeouts = new Set<string>();
    let taskAttempt = 1;
    const deviceId = inst.workflowId.split('/')[1] ?? inst.workflowId;
    for (const e of history.events ?? []) {
      const at = ms(e.eventTime as never);
      if (e.workflowTaskTimedOutEventAttributes) taskTimeouts.add(timeoutName(e.workflowTaskTimedOutEventAttributes.timeoutType));
      if (e.workflowTaskScheduledEventAttributes) taskAttempt = Math.max(taskAttempt, e.workflowTaskScheduledEventAttributes.attempt ?? 1);
      const s = e.activityTaskScheduledEventAttributes;
      if (s) {
        scheduled.set(String(e.eventId), { atMs: at, activityId: String(s.activityId) });
        if (previousCloseMs !== undefined) {
          phases.push({ name: 'workflow-task', fromMs: previousCloseMs, toMs: at, deviceId, cause: workflowTaskCause(taskTimeouts, taskAttempt) });
        }
        taskTimeouts = new Set();
        taskAttempt = 1;
      }
      const st = e.activityTaskStartedEventAttributes;
      if (st) started.set(String(st.scheduledEventId), { atMs: at, attempt: st.attempt ?? 1, lastFailure: st.lastFailure as never });
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (done) {
        const sch = scheduled.get(String(done.scheduledEventId));
        const go = started.get(String(done.scheduledEventId));
        if (!sch) continue;
        previousCloseMs = at;
        const row = byId.get(`${inst.workflowId}/${inst.runId}/${sch.activityId}`);
        const retried = go && go.attempt > 1 ? failureCause(go.lastFailure) : undefined;
        if (!row) {
          phases.push({ name: 'worker', fromMs: sch.atMs, toMs: at, deviceId, cause: retried, type: 'unrecorded' });
          continue;
        }
        const created = Number(row.created);
        const claimed = row.claimed === null ? created : Number(row.claimed);
        const finished = row.finished === null ? at : Number(row.finished);
        const delivered = row.delivered === null ? at : Math.min(at, Number(row.delivered));
        // A retried step's command was first recorded by an earlier attempt: its wait is the retry's.
        const recordedMs = retried && go ? Math.max(created, go.atMs) : created;
        phases.push({ name: 'worker', fromMs: sch.atMs, toMs: Math.max(sch.atMs, recordedMs), deviceId: row.device_id, cause: retried, type: row.type });
        phases.push({ name: 'claim', fromMs: recordedMs, toMs: Math.max(recordedMs, claimed), deviceId: row.device_id, type: row.type });
        phases.push({
          name: 'device', fromMs: claimed, toMs: Math.max(claimed, finished), deviceId: row.device_id, type: row.type,
          cause: row.reboot_offers > 0 ? `reboot offered again after the reboot timeout (${row.reboot_offers}×: the agent died after acknowledging it)` : undefined,
        });
        phases.push({ name: 'delivery', fromMs: finished, toMs: Math.max(finished, delivered), deviceId: row.device_id, type: row.type });
        lastStepOf.set(inst.workflowId, { closeMs: at, deviceId: row.device_id });
      }
    }
  }

  // The run's own median per phase and command type is "normal": what is beyond it is recovery (or load).
  const keyOf = (p: Phase) => `${p.name}:${p.type ?? ''}`;
  const samples = new Map<string, number[]>();
  for (const p of phases) samples.set(keyOf(p), [...(samples.get(keyOf(p)) ?? []), p.toMs - p.fromMs]);
  const normal = new Map([...samples].map(([k, xs]) => [k, median(xs)]));
  const overlaps = (p: Phase, f: FaultWindow) => p.fromMs <= f.endMs + AFTERMATH_MS && p.toMs >= f.startMs;
  // The first fault to reach the phase: the one that made it late (later faults may have stretched it).
  const faultOf = (p: Phase): FaultWindow | undefined => {
    const candidates = o.faults.filter((f) => overlaps(p, f) && (!f.agentDevices || f.agentDevices.includes(p.deviceId)));
    return candidates.sort((a, b) => a.startMs - b.startMs)[0];
  };
  const dropFor = (p: Phase, kind: ProxyDrop['kind']) => o.drops.find((d) => d.kind === kind && d.deviceId === p.deviceId && d.atMs >= p.fromMs - 500 && d.atMs <= p.toMs);

  const byCause = new Map<string, RecoveryLine>();
  const byFault = new Map<string, RecoveryLine>();
  const add = (m: Map<string, RecoveryLine>, key: string, s: number) => {
    const line = m.get(key) ?? { cause: key, phases: 0, excessSeconds: 0, maxSeconds: 0 };
    line.phases++;
    line.excessSeconds += s;
    line.maxSeconds = Math.max(line.maxSeconds, s);
    m.set(key, line);
  };
  const worstOf = new Map<string, { seconds: number; cause: string }>();
  const installOfDevice = new Map([...lastStepOf].map(([workflowId, v]) => [v.deviceId, workflowId]));
  for (const p of phases) {
    const excess = (p.toMs - p.fromMs - normal.get(keyOf(p))!) / 1000;
    if (excess < NOISE_SECONDS) continue;
    const fault = faultOf(p);
    let cause = p.cause;
    if (!cause && p.name === 'claim') {
      cause = dropFor(p, 'poll') ? 'poll reply carrying the command dropped by the proxy; offered again'
        : fault?.agentDevices ? `the device's agent process was down (${fault.label})` : undefined;
    }
    if (!cause && p.name === 'device') {
      cause = dropFor(p, 'result') ? 'result answer dropped by the proxy; the agent posted it again'
        : fault?.agentDevices ? `the device's agent process was down (${fault.label})` : undefined;
    }
    if (!cause) {
      const where = { worker: 'step waited for a worker to record its command', claim: 'command waited for its device', device: 'device took long to answer', delivery: 'answer stored, reached Temporal late', 'workflow-task': 'workflow task between steps waited' }[p.name];
      cause = fault ? `${where} (${fault.label.replace(/ at \d+ s$/, '')})` : where;
    }
    add(byCause, cause, excess);
    add(byFault, fault?.label ?? (cause.startsWith('poll reply') || cause.startsWith('result answer') ? 'proxy drops' : 'no fault'), excess);
    const key = installOfDevice.get(p.deviceId) ?? p.deviceId;
    if ((worstOf.get(key)?.seconds ?? 0) < excess) worstOf.set(key, { seconds: excess, cause });
  }
  const sorted = (m: Map<string, RecoveryLine>) => [...m.values()].sort((a, b) => b.excessSeconds - a.excessSeconds);
  const firstClose = Math.min(...installs.map((i) => i.closeMs));
  const last = [...installs].sort((a, b) => b.closeMs - a.closeMs).slice(0, 3).map((i) => {
    const worst = worstOf.get(i.workflowId);
    return `${i.workflowId.split('/')[1]} closed ${((i.closeMs - firstClose) / 1000).toFixed(1)} s after the first install${worst ? `; its largest excess ${worst.seconds.toFixed(1)} s: ${worst.cause}` : ''}`;
  });
  return { byCause: sorted(byCause), byFault: sorted(byFault), last };
}
