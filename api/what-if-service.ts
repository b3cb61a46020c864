import { loadApprovalModel } from '../db/approval-model-loader';
import { findPatchRefs } from '../db/approval-repository';
import type { Queryable } from '../db/database';
import { findClient, findDevice, findSite } from '../db/fleet-repository';
import { findPolicy } from '../db/policy-repository';
import { resolveScopeDevices } from '../db/rollout-repository';
import { findSchedule, listSchedules, type ScheduleRow } from '../db/schedule-repository';
import { loadDevicePatches } from '../db/what-if-repository';
import { resolveFleet } from '../domain/approval-resolver';
import { NotFoundError, UnprocessableError } from '../domain/errors';
import { approveAfterDaysProblem } from '../domain/approval-deferral';
import { nextRunTimes } from '../domain/schedule-spec';
import { applyProposal, differenceOf, predictDeviceInstalls, uninstallTargets, type ExplainedInstall, type PredictedInstall, type Proposal } from '../domain/what-if';
import { ROLLOUT_DEFAULTS } from '../workflows/automatic-update.contract';
import type { WhatIfRequest } from './what-if-schemas';

export interface WhatIfDevice {
  deviceId: string;
  deviceName: string;
  clientName: string;
  siteName: string;
  installs: PredictedInstall[];
}

export interface WhatIfSchedule {
  scheduleId: string;
  name: string;
  paused: boolean;
  /** the next run, computed from the schedule's timing; null while paused */
  nextRunAt: string | null;
  devices: { before: number; after: number };
  installs: { before: number; after: number };
  /** devices whose answer changes, with what is added and removed and why */
  changed: (Omit<WhatIfDevice, 'installs'> & { added: ExplainedInstall[]; removed: ExplainedInstall[] })[];
  /** every device with something to install under the proposal (includePredictions) */
  predicted?: WhatIfDevice[];
}

/** KBs and update ids named in a proposal, as update ids; a 404 names those the catalog lacks. */
async function updateIdsOf(db: Queryable, names: { updateIds?: string[]; kbs?: string[] }): Promise<string[]> {
  const found = await findPatchRefs(db, names);
  const unknown = [...found.unknownKbs, ...found.unknownUpdateIds];
  if (unknown.length > 0) throw new NotFoundError(unknown.length === 1 ? 'patch' : 'patches', unknown.join(', '));
  return found.patches.map((p) => p.updateId);
}

async function scopeOr404(db: Queryable, scopeType: string, scopeId: string): Promise<void> {
  if (scopeType === 'device_type') {
    if (scopeId !== 'server' && scopeId !== 'workstation') throw new UnprocessableError('scopeId must be server or workstation for a device_type scope', 'scopeId');
    return;
  }
  if (!/^[0-9a-f-]{36}$/.test(scopeId)) throw new UnprocessableError(`scopeId must be a UUID for a ${scopeType} scope`, 'scopeId');
  const find = { device: findDevice, site: findSite, client: findClient, policy: findPolicy }[scopeType as 'device' | 'site' | 'client' | 'policy'];
  if (find && !(await find(db, scopeId))) throw new NotFoundError(scopeType, scopeId);
}

/** The proposal with every KB turned into update ids, every policy and scope checked. */
async function proposalOf(db: Queryable, req: WhatIfRequest): Promise<Proposal> {
  const approvals: NonNullable<Proposal['approvals']> = [];
  for (const [i, a] of req.approvals.entries()) {
    const problem = approveAfterDaysProblem(a.approveAfterDays, a.status);
    if (problem) throw new UnprocessableError(`body.approvals.${i}.approveAfterDays: ${problem}`, `approvals.${i}.approveAfterDays`);
    if (a.policyId !== 'all' && !(await findPolicy(db, a.policyId))) throw new NotFoundError('policy', a.policyId);
    approvals.push({ policyId: a.policyId, updateIds: await updateIdsOf(db, a), status: a.status, ...(a.approveAfterDays === undefined ? {} : { approveAfterDays: a.approveAfterDays }) });
  }
  for (const o of req.kbOverrides) await updateIdsOf(db, { kbs: [o.kb] });
  const patchActions: NonNullable<Proposal['patchActions']> = [];
  for (const a of req.patchActions) {
    await scopeOr404(db, a.scopeType, a.scopeId);
    patchActions.push({ scopeType: a.scopeType, scopeId: a.scopeId, updateIds: await updateIdsOf(db, a), action: a.action });
  }
  return { approvals, kbOverrides: req.kbOverrides, patchActions };
}

/**
 * What the next run of each Automatic Update schedule would install where, today and with the
 * proposal, from the real catalog, device states and resolver. Reads only; writes nothing.
 */
export async function whatIf(db: Queryable, req: WhatIfRequest, now = new Date()): Promise<{ generatedAt: string; schedules: WhatIfSchedule[] }> {
  let schedules: ScheduleRow[];
  if (req.scheduleId) {
    const s = await findSchedule(db, req.scheduleId);
    if (!s) throw new NotFoundError('schedule', req.scheduleId);
    schedules = [s];
  } else schedules = await listSchedules(db);
  schedules = schedules.filter((s) => s.kind === 'automatic_update');
  const proposedScope = new Map<string, WhatIfRequest['scheduleScopes'][number]['scope']>();
  for (const p of req.scheduleScopes) {
    if (!(await findSchedule(db, p.scheduleId))) throw new NotFoundError('schedule', p.scheduleId);
    if (p.scope.scopeType !== 'all') await scopeOr404(db, p.scope.scopeType, p.scope.scopeId);
    proposedScope.set(p.scheduleId, p.scope);
  }
  const proposal = await proposalOf(db, req);

  // Scopes before and after, then one model over every device either touches.
  const scoped = [];
  for (const s of schedules) {
    const before = await resolveScopeDevices(db, { scopeType: s.scopeType, scopeId: s.scopeId });
    const after = proposedScope.has(s.id) ? await resolveScopeDevices(db, proposedScope.get(s.id)!) : before;
    scoped.push({ s, before, after });
  }
  const deviceIds = [...new Set(scoped.flatMap((x) => [...x.before, ...x.after].map((d) => d.deviceId)))];
  const model = await loadApprovalModel(db, { deviceIds, now });
  const catalog = new Map(model.patches.map((p) => [p.updateId, { kb: p.kb, supersededBy: p.supersededBy }]));
  const { states, missing } = await loadDevicePatches(db, deviceIds, catalog, uninstallTargets(model, proposal));
  const proposedModel = applyProposal(model, proposal);
  // A deferred approval ("N days after release") depends on when the run happens: each schedule's
  // answer is resolved at its next run (now for a paused one), the instant its installs would ask.
  const fleets = new Map<string, { today: ReturnType<typeof resolveFleet>; proposed: ReturnType<typeof resolveFleet> }>();
  const fleetsAt = (at: string) => {
    let f = fleets.get(at);
    if (!f) fleets.set(at, (f = { today: resolveFleet({ ...model, now: at }, states), proposed: resolveFleet({ ...proposedModel, now: at }, states) }));
    return f;
  };
  const cap = ROLLOUT_DEFAULTS.failureCap;
  const predict = (fleet: ReturnType<typeof resolveFleet>, id: string) => predictDeviceInstalls(fleet, states, id, missing.get(id) ?? [], cap);

  return {
    generatedAt: now.toISOString(),
    schedules: scoped.map(({ s, before, after }) => {
      const inBefore = new Set(before.map((d) => d.deviceId));
      const inAfter = new Set(after.map((d) => d.deviceId));
      const all = new Map([...before, ...after].map((d) => [d.deviceId, d]));
      const nextRunAt = s.paused ? null : nextRunTimes(s.timing, now, 1)[0]?.toISOString() ?? null;
      const { today, proposed } = fleetsAt(nextRunAt ?? now.toISOString());
      const view: WhatIfSchedule = {
        scheduleId: s.id, name: s.name, paused: s.paused,
        nextRunAt,
        devices: { before: inBefore.size, after: inAfter.size }, installs: { before: 0, after: 0 }, changed: [],
        ...(req.includePredictions ? { predicted: [] } : {}),
      };
      for (const [id, d] of all) {
        const was = inBefore.has(id) ? predict(today, id) : [];
        const will = inAfter.has(id) ? predict(proposed, id) : [];
        view.installs.before += was.length;
        view.installs.after += will.length;
        const names = { deviceId: id, deviceName: d.deviceName, clientName: d.clientName, siteName: d.siteName };
        if (will.length > 0) view.predicted?.push({ ...names, installs: will });
        const diff = differenceOf(was, will, {
          added: (updateId) => (inBefore.has(id) ? proposed.explain(id, updateId).reason : `the device joins the schedule's scope; ${proposed.explain(id, updateId).reason}`),
          removed: (updateId) => {
            if (!inAfter.has(id)) return "the device leaves the schedule's scope";
            const e = proposed.explain(id, updateId);
            return e.decision === 'approved' ? `${e.reason}, but not installed by the next run (superseded, or at the failure cap)` : e.reason;
          },
        });
        if (diff.added.length + diff.removed.length > 0) view.changed.push({ ...names, ...diff });
      }
      return view;
    }),
  };
}
