import { ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { deploymentId } from '../db/deployment-repository';
import { listRollouts } from '../db/rollout-repository';
import { deleteSchedule, findSchedule, insertSchedule, listSchedules, updateSchedule, type ScheduleFields, type ScheduleRow } from '../db/schedule-repository';
import { ConflictError, NotFoundError, UnprocessableError } from '../domain/errors';
import { describeMaintenanceWindow } from '../domain/maintenance-window';
import { describeRebootAction } from '../domain/reboot-actions';
import { describeTiming, toTemporalScheduleSpec } from '../domain/schedule-spec';
import {
  AUTOMATIC_UPDATE_WORKFLOW_TYPE,
  ROLLOUT_DEFAULTS,
  rolloutWorkflowIdPrefix,
  temporalScheduleId,
  type RolloutInput,
} from '../workflows/automatic-update.contract';
import { resolveTiming, type InstallTimingInput } from '../workflows/install.contract';
import { OperationAttr } from '../workflows/search-attributes';

export interface ScheduleDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  installTiming?: InstallTimingInput;
  /** a device that has not answered a rollout's scan after this long is offline (tests shorten it) */
  rolloutOfflineAfterSeconds?: number;
  /** the longest range one backfill may cover; default 31 days (a month of missed runs) */
  backfillMaxDays?: number;
}

/** Default for `backfillMaxDays`: a month covers any outage worth catching up on. */
export const DEFAULT_BACKFILL_MAX_DAYS = 31;

const TEMPORAL_PREFIX = temporalScheduleId('');

/**
 * The rollout input a schedule's Temporal Schedule starts its workflow with. Every default that
 * shapes the rollout's command sequence (devices per run, failure cap, offline deadline, install
 * timing incl. busy retries) is written out here, so a rollout runs on the values it started with:
 * a later change of default (as batch size once went from 400 to 1,000) never reaches it.
 */
export function rolloutInputOf(s: ScheduleRow, deps: Pick<ScheduleDeps, 'installTiming' | 'rolloutOfflineAfterSeconds'>): RolloutInput {
  return {
    scheduleId: s.id, scheduleName: s.name, kind: s.kind, scope: { scopeType: s.scopeType, scopeId: s.scopeId },
    timezone: s.timing.timezone, distributionWindowMinutes: s.distributionWindowMinutes,
    maintenanceWindow: s.maintenanceWindow ?? undefined, rebootAction: s.rebootAction,
    // The rollout's part of a missed run is the same for both catch-up choices: note who was offline.
    maxConcurrentDevices: s.maxConcurrentDevices, missedRun: s.missedRun === 'skip' ? 'skip' : 'run_on_check_in',
    ...rolloutDefaultsOf(s, deps),
    ...(s.kbs ? { kbs: s.kbs } : {}),
    ...(s.healthCheck && s.kind === 'automatic_update' ? { healthCheck: s.healthCheck } : {}),
  };
}

/** The defaults written into a rollout's input (a schedule's, or a release ring's: api/release-service.ts). */
export function rolloutDefaultsOf(
  s: { distributionWindowMinutes: number; maxConcurrentDevices: number },
  deps: Pick<ScheduleDeps, 'installTiming' | 'rolloutOfflineAfterSeconds'>,
): Pick<RolloutInput, 'installTiming' | 'offlineAfterSeconds' | 'devicesPerRun' | 'failureCap'> {
  return {
    installTiming: resolveTiming(deps.installTiming),
    offlineAfterSeconds: deps.rolloutOfflineAfterSeconds ?? s.distributionWindowMinutes * 60 + ROLLOUT_DEFAULTS.offlineGraceSeconds,
    devicesPerRun: Math.max(ROLLOUT_DEFAULTS.devicesPerRun, s.maxConcurrentDevices),
    failureCap: ROLLOUT_DEFAULTS.failureCap,
  };
}

/** How late a run the Schedule missed may still start. */
export function catchupWindowOf(s: Pick<ScheduleRow, 'missedRun'>): '1 day' | '7 days' {
  return s.missedRun === 'run_asap' ? '7 days' : '1 day';
}

function temporalOptionsOf(s: ScheduleRow, deps: ScheduleDeps, deployment: string): ScheduleOptions {
  return {
    scheduleId: temporalScheduleId(s.id),
    spec: toTemporalScheduleSpec(s.timing) as ScheduleOptions['spec'],
    action: {
      type: 'startWorkflow',
      workflowType: AUTOMATIC_UPDATE_WORKFLOW_TYPE,
      workflowId: rolloutWorkflowIdPrefix(s.id),
      taskQueue: deps.taskQueue,
      args: [rolloutInputOf(s, deps)],
      typedSearchAttributes: [{ key: OperationAttr, value: s.kind === 'scan' ? 'scheduled-scan' : 'automatic-update' }],
      staticSummary: `${s.kind === 'scan' ? 'Scheduled scan' : 'Automatic Update'} "${s.name}" · ${describeTiming(s.timing)}`,
    },
    // A rollout still running when the next one is due: skip the new one (the running one covers it).
    // A run the Schedule itself missed (server or workers down) is still started when it is back, within
    // the catch-up window: a day, or a week for "run ASAP" (a Patch Tuesday run missed over a long
    // weekend still happens).
    policies: { overlap: 'SKIP', catchupWindow: catchupWindowOf(s) },
    state: { paused: s.paused, note: s.paused ? 'paused in Patchflow' : undefined },
    // Which deployment owns it: reconcile deletes only its own (see reconcileSchedules).
    memo: { patchflowScheduleId: s.id, patchflowDeployment: deployment },
  };
}

/** Makes the Temporal Schedule match the stored schedule: create it, or replace its spec, action and state. */
async function pushToTemporal(deps: ScheduleDeps, s: ScheduleRow): Promise<'created' | 'updated'> {
  const options = temporalOptionsOf(s, deps, await deploymentId(deps.db));
  const handle = deps.client.schedule.getHandle(options.scheduleId);
  try {
    const before = await handle.describe();
    await handle.update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: options.policies,
      state: { ...prev.state, paused: s.paused, note: options.state?.note } }) as never);
    if (before.state.paused !== s.paused) await (s.paused ? handle.pause('paused in Patchflow') : handle.unpause('resumed in Patchflow'));
    return 'updated';
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await deps.client.schedule.create(options);
    return 'created';
  }
}

/**
 * Postgres holds the schedules; Temporal runs them. This makes Temporal agree: creates what is
 * missing, rewrites every Patchflow schedule from its row, and deletes Temporal Schedules whose row is
 * gone, but only those this deployment created (marked with its deployment id in the memo): another
 * Patchflow database on the same namespace has rows this one cannot see, and an unmarked schedule
 * may belong to either. Runs at start (so a restart heals any drift) and after every change.
 */
export async function reconcileSchedules(deps: ScheduleDeps): Promise<{ created: number; updated: number; deleted: number; foreign: number }> {
  const rows = await listSchedules(deps.db);
  const ours = await deploymentId(deps.db);
  const wanted = new Set(rows.map((r) => temporalScheduleId(r.id)));
  const result = { created: 0, updated: 0, deleted: 0, foreign: 0 };
  for (const r of rows) result[await pushToTemporal(deps, r)] += 1;
  for await (const s of deps.client.schedule.list()) {
    if (!s.scheduleId.startsWith(TEMPORAL_PREFIX) || wanted.has(s.scheduleId)) continue;
    if (s.memo?.patchflowDeployment !== ours) {
      result.foreign += 1;
      continue;
    }
    await deps.client.schedule.getHandle(s.scheduleId).delete().catch((err) => { if (!(err instanceof ScheduleNotFoundError)) throw err; });
    result.deleted += 1;
  }
  deps.log.info(result, 'schedules reconciled with Temporal');
  return result;
}

export interface ScheduleView extends ScheduleRow {
  description: string;
  maintenanceWindowText: string | null;
  rebootActionText: string;
  temporalScheduleId: string;
  nextRunTimes: string[];
  recentRuns: { scheduledAt: string; workflowId: string }[];
}

async function viewOf(deps: ScheduleDeps, s: ScheduleRow): Promise<ScheduleView> {
  let nextRunTimes: string[] = [];
  let recentRuns: ScheduleView['recentRuns'] = [];
  try {
    const d = await deps.client.schedule.getHandle(temporalScheduleId(s.id)).describe();
    nextRunTimes = d.info.nextActionTimes.map((t) => t.toISOString());
    recentRuns = d.info.recentActions.map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId }));
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  return {
    ...s,
    description: describeTiming(s.timing),
    maintenanceWindowText: s.maintenanceWindow ? describeMaintenanceWindow(s.maintenanceWindow, s.timing.timezone) : null,
    rebootActionText: describeRebootAction(s.rebootAction),
    temporalScheduleId: temporalScheduleId(s.id),
    nextRunTimes,
    recentRuns,
  };
}

export async function createSchedule(deps: ScheduleDeps, fields: ScheduleFields, actor: string): Promise<ScheduleView> {
  const row = await insertSchedule(deps.db, fields);
  try {
    await pushToTemporal(deps, row);
  } catch (err) {
    // Nothing half-made: a schedule Temporal refused is not kept.
    await deleteSchedule(deps.db, row.id);
    throw err;
  }
  await appendAudit(deps.db, [{ actor, action: 'schedule.created', subject: row.id, details: { name: row.name, kind: row.kind } }]);
  return viewOf(deps, row);
}

export async function getSchedule(deps: ScheduleDeps, id: string): Promise<ScheduleView> {
  const row = await findSchedule(deps.db, id);
  if (!row) throw new NotFoundError('schedule', id);
  return viewOf(deps, row);
}

export async function listScheduleViews(deps: ScheduleDeps): Promise<ScheduleView[]> {
  return Promise.all((await listSchedules(deps.db)).map((s) => viewOf(deps, s)));
}

export async function changeSchedule(deps: ScheduleDeps, id: string, patch: Partial<ScheduleFields>, actor: string, action = 'schedule.updated'): Promise<ScheduleView> {
  const current = await findSchedule(deps.db, id);
  if (!current) throw new NotFoundError('schedule', id);
  if (patch.kbs && current.kind !== 'automatic_update') throw new UnprocessableError('only an automatic_update schedule installs patches: a scan schedule takes no kbs', 'kbs');
  if (patch.healthCheck && current.kind !== 'automatic_update') throw new UnprocessableError('only an automatic_update schedule installs patches: a scan schedule takes no health check', 'healthCheck');
  const { id: _id, createdAt: _c, updatedAt: _u, ...fields } = current;
  const row = (await updateSchedule(deps.db, id, { ...fields, ...patch }))!;
  await pushToTemporal(deps, row);
  await appendAudit(deps.db, [{ actor, action, subject: id, details: patch as Record<string, unknown> }]);
  return viewOf(deps, row);
}

export async function removeSchedule(deps: ScheduleDeps, id: string, actor: string): Promise<void> {
  if (!(await deleteSchedule(deps.db, id))) throw new NotFoundError('schedule', id);
  await deps.client.schedule.getHandle(temporalScheduleId(id)).delete().catch((err) => { if (!(err instanceof ScheduleNotFoundError)) throw err; });
  await appendAudit(deps.db, [{ actor, action: 'schedule.deleted', subject: id }]);
}

/** Runs the schedule's action now (a rollout outside its calendar). */
export async function triggerSchedule(deps: ScheduleDeps, id: string, actor: string): Promise<void> {
  const row = await findSchedule(deps.db, id);
  if (!row) throw new NotFoundError('schedule', id);
  if (row.paused) throw new ConflictError(`schedule "${row.name}" is paused; resume it first`);
  await deps.client.schedule.getHandle(temporalScheduleId(id)).trigger('ALLOW_ALL');
  await appendAudit(deps.db, [{ actor, action: 'schedule.triggered', subject: id }]);
}

/** Runs the schedule's actions that fell due in [start, end] (a missed run, e.g. after an outage). */
export async function backfillSchedule(deps: ScheduleDeps, id: string, range: { start: Date; end: Date }, actor: string): Promise<void> {
  const maxDays = deps.backfillMaxDays ?? DEFAULT_BACKFILL_MAX_DAYS;
  if (range.end.getTime() - range.start.getTime() > maxDays * 86_400_000) {
    throw new UnprocessableError(`body.end: a backfill covers at most ${maxDays} days (asked: ${((range.end.getTime() - range.start.getTime()) / 86_400_000).toFixed(1)})`);
  }
  const row = await findSchedule(deps.db, id);
  if (!row) throw new NotFoundError('schedule', id);
  if (row.paused) throw new ConflictError(`schedule "${row.name}" is paused; resume it before backfilling`);
  // BUFFER_ONE: the missed runs play one after another, at most one waiting, never side by side
  // (ALLOW_ALL started 1,310 rollouts at once for a 100-year range).
  await deps.client.schedule.getHandle(temporalScheduleId(id)).backfill({ start: range.start, end: range.end, overlap: 'BUFFER_ONE' });
  await appendAudit(deps.db, [{ actor, action: 'schedule.backfilled', subject: id, details: { start: range.start.toISOString(), end: range.end.toISOString() } }]);
}

export async function scheduleRollouts(deps: ScheduleDeps, id: string) {
  if (!(await findSchedule(deps.db, id))) throw new NotFoundError('schedule', id);
  return listRollouts(deps.db, id);
}
