import { deleteKbOverride, findPatchRefs, setExplicitApprovals, setKbOverride, setPatchActions, type PatchRef } from '../db/approval-repository';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db, type Queryable } from '../db/database';
import { findClient, findDevice, findSite } from '../db/fleet-repository';
import { syncIgnoredStatuses } from '../db/ignored-statuses';
import type { ApprovalStatus } from '../domain/approval-model';
import { NotFoundError, UnprocessableError } from '../domain/errors';

/**
 * The fleet-wide approval actions, each in one transaction with its audit row: called by their routes
 * directly, or by an approved two-person request (api/approved-actions.ts) with the same input.
 */

const ALL_POLICIES_NOTE = "sets the patch's status in ALL policies";

/** The catalog patches named by update id / KB, or a 404 naming those that match nothing. */
export async function patchesOr404(db: Queryable, names: { updateIds?: string[]; kbs?: string[] }): Promise<PatchRef[]> {
  const found = await findPatchRefs(db, names);
  const unknown = [...found.unknownKbs, ...found.unknownUpdateIds];
  if (unknown.length > 0) throw new NotFoundError(unknown.length === 1 ? 'patch' : 'patches', unknown.join(', '));
  return found.patches;
}

/** A device, site or client scope must exist; a device type or "all" always does. */
export async function scopeOr404(db: Queryable, scopeType: string, scopeId: string): Promise<void> {
  const find = { device: findDevice, site: findSite, client: findClient }[scopeType as 'device' | 'site' | 'client'];
  if (find && !(await find(db, scopeId))) throw new NotFoundError(scopeType, scopeId);
}

export const kbsOf = (patches: PatchRef[]) => [...new Set(patches.map((p) => p.kb))];

export interface ApprovalByPatch { updateIds?: string[]; kbs?: string[]; status: ApprovalStatus; note?: string; approveAfterDays?: number }

/** Approval by Patch: the same explicit status in every policy (Kaseya's warning: ALL policies). */
export async function approveInAllPolicies(db: Db, body: ApprovalByPatch, actor: string) {
  return withTransaction(db, async (tx) => {
    const patches = await patchesOr404(tx, body);
    const updateIds = patches.map((p) => p.updateId);
    const note = body.note ?? `set by ${actor} (approval by patch, all policies)`;
    const change = await setExplicitApprovals(tx, { policyIds: 'all', updateIds, status: body.status, note, approveAfterDays: body.approveAfterDays });
    const deferral = body.approveAfterDays === undefined ? {} : { approveAfterDays: body.approveAfterDays };
    await appendAudit(tx, [{
      actor, action: 'patch.approval_set_all_policies', subject: kbsOf(patches).join(','),
      details: { status: body.status, ...deferral, kbs: kbsOf(patches), updateIds, ...change, note },
    }]);
    return { status: body.status, ...deferral, patches: updateIds.length, kbs: kbsOf(patches), ...change, note: ALL_POLICIES_NOTE };
  });
}

/** A KB override: applies to every present and future patch of the KB, in all policies. */
export async function overrideKb(db: Db, kb: string, status: ApprovalStatus, actor: string) {
  const previous = await withTransaction(db, async (tx) => {
    const prev = await setKbOverride(tx, kb, status);
    await appendAudit(tx, [{ actor, action: 'kb_override.set', subject: kb, details: { kb, from: prev ?? null, to: status } }]);
    return prev;
  });
  return { kb, status, previous: previous ?? null, note: 'applies to every present and future patch of this KB, in all policies' };
}

/** Clears a KB override (404 if there is none): the KB's patches go back to their policies' statuses. */
export async function clearKbOverride(db: Db, kb: string, actor: string) {
  const previous = await withTransaction(db, async (tx) => {
    const prev = await deleteKbOverride(tx, kb);
    if (!prev) throw new NotFoundError('KB override', kb);
    await appendAudit(tx, [{ actor, action: 'kb_override.cleared', subject: kb, details: { kb, from: prev } }]);
    return prev;
  });
  return { kb, cleared: true, previous };
}

export interface PatchActionsInput {
  scopeType: 'device' | 'site' | 'client' | 'device_type';
  scopeId: string;
  updateIds?: string[];
  kbs?: string[];
  action: 'inherit' | 'approve' | 'ignore' | 'do_nothing' | 'reprocess_failed' | 'uninstall';
}

/** N-able's action by scope for some patches. */
export async function setActionsByScope(db: Db, body: PatchActionsInput, actor: string) {
  return withTransaction(db, async (tx) => {
    await scopeOr404(tx, body.scopeType, body.scopeId);
    const patches = await patchesOr404(tx, body);
    if (body.action === 'uninstall') {
      const refused = kbsOf(patches.filter((p) => !p.uninstallable));
      if (refused.length > 0) {
        throw new UnprocessableError(`uninstall is offered only for patches marked uninstallable; not uninstallable: ${refused.join(', ')}`, 'action');
      }
    }
    const updateIds = patches.map((p) => p.updateId);
    const changed = await setPatchActions(tx, { scopeType: body.scopeType, scopeId: body.scopeId, updateIds, action: body.action });
    // An Ignore (or its removal) shows in the devices' statuses at once, not only in the resolver.
    const statuses = await syncIgnoredStatuses(tx, { updateIds });
    await appendAudit(tx, [{
      actor, action: 'patch.action_set', subject: `${body.scopeType}:${body.scopeId}`,
      deviceId: body.scopeType === 'device' ? body.scopeId : undefined,
      details: { scopeType: body.scopeType, scopeId: body.scopeId, action: body.action, kbs: kbsOf(patches), updateIds, changed, statuses },
    }]);
    return { scopeType: body.scopeType, scopeId: body.scopeId, action: body.action, patches: updateIds.length, changed, statuses };
  });
}
