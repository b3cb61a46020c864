import { stampCatalogInPolicy } from '../db/approval-repository';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db, type Queryable } from '../db/database';
import {
  addPolicyMember, deletePolicy, deletePolicyDefault, findPolicy, insertPolicy, listPolicyMembers, removePolicyMember,
  setPolicyDefault, updatePolicy, type PolicyRow,
} from '../db/policy-repository';
import { approveAfterDaysProblem } from '../domain/approval-deferral';
import { ConflictError, NotFoundError, UnprocessableError } from '../domain/errors';
import { scopeOr404 } from './policy-actions';
import type { CreatePolicyInput, DefaultInput, DeleteDefaultInput, MemberInput, UpdatePolicyInput } from './policy-schemas';

/**
 * Approval policies, their members and their defaults: each change in one transaction with its audit
 * row, refused (404 / 409 / 422) before anything is written.
 */

const DEFAULT_CHANGE_NOTE = 'applies to patches discovered from now on; known patches keep their status (Kaseya)';

/** A deferral out of range, or on a status that does not approve: 422 naming the field, before anything is written. */
export function assertDeferral(body: { approveAfterDays?: number; status: string }): void {
  const problem = approveAfterDaysProblem(body.approveAfterDays, body.status);
  if (problem) throw new UnprocessableError(`body.approveAfterDays: ${problem}`, 'approveAfterDays');
}

/** The policy, or a 404; `forUpdate` locks its row for the rest of the transaction. */
export async function policyOr404(db: Queryable, id: string, forUpdate = false): Promise<PolicyRow> {
  const policy = await findPolicy(db, id, { forUpdate });
  if (!policy) throw new NotFoundError('policy', id);
  return policy;
}

/** A new policy, with every catalog patch stamped by its defaults. */
export async function createPolicy(db: Db, body: CreatePolicyInput, actor: string) {
  return withTransaction(db, async (tx) => {
    const id = await insertPolicy(tx, body);
    const stampedPatches = await stampCatalogInPolicy(tx, id);
    const policy = (await findPolicy(tx, id))!;
    await appendAudit(tx, [{
      actor, action: 'policy.created', subject: id,
      details: { name: policy.name, switches: body, defaults: policy.defaults, fallbackDefault: policy.fallbackDefault, stampedPatches },
    }]);
    return { ...policy, stampedPatches };
  });
}

/** Changes a policy's name or switches; the audit row holds each field's before and after. */
export async function changePolicy(db: Db, id: string, body: UpdatePolicyInput, actor: string): Promise<PolicyRow> {
  return withTransaction(db, async (tx) => {
    const before = await policyOr404(tx, id, true);
    await updatePolicy(tx, id, body);
    const after = (await findPolicy(tx, id))!;
    const changes = Object.fromEntries(Object.keys(body).map((k) => {
      const field = k as keyof typeof body;
      return [k, { from: before[field], to: after[field] }];
    }));
    await appendAudit(tx, [{ actor, action: 'policy.updated', subject: id, details: { name: after.name, changes } }]);
    return after;
  });
}

/**
 * Deletes a policy with no members. One with members is refused (409): deleting it would silently
 * change what its devices may install (a device left in no policy gets every patch approved).
 */
export async function removePolicy(db: Db, id: string, actor: string) {
  return withTransaction(db, async (tx) => {
    const policy = await policyOr404(tx, id, true);
    if (policy.members > 0) {
      throw new ConflictError(`policy '${policy.name}' still has ${policy.members} member(s); remove them first (DELETE /policies/${id}/members)`);
    }
    const { approvals } = await deletePolicy(tx, id);
    await appendAudit(tx, [{ actor, action: 'policy.deleted', subject: id, details: { name: policy.name, approvalsRemoved: approvals } }]);
    return { deleted: id, name: policy.name, approvalsRemoved: approvals };
  });
}

/** The policy's members, or a 404 for an unknown policy. */
export async function membersOf(db: Db, id: string) {
  await policyOr404(db, id);
  return listPolicyMembers(db, id);
}

/** Adds a scope to a policy; adding one already there changes nothing and audits nothing. */
export async function addMember(db: Db, id: string, member: MemberInput, actor: string) {
  const scopeId = member.scopeId ?? '';
  const added = await withTransaction(db, async (tx) => {
    const policy = await policyOr404(tx, id, true);
    await scopeOr404(tx, member.scopeType, scopeId);
    const isNew = await addPolicyMember(tx, id, member.scopeType, scopeId);
    if (isNew) {
      await appendAudit(tx, [{
        actor, action: 'policy.member_added', subject: id,
        deviceId: member.scopeType === 'device' ? scopeId : undefined,
        details: { policy: policy.name, scopeType: member.scopeType, scopeId },
      }]);
    }
    return isNew;
  });
  return { added, scopeType: member.scopeType, scopeId, members: await listPolicyMembers(db, id) };
}

/** Removes a scope from a policy, or a 404 if it was not a member. */
export async function removeMember(db: Db, id: string, member: MemberInput, actor: string) {
  const scopeId = member.scopeId ?? '';
  await withTransaction(db, async (tx) => {
    const policy = await policyOr404(tx, id, true);
    if (!(await removePolicyMember(tx, id, member.scopeType, scopeId))) {
      throw new NotFoundError('membership', `${member.scopeType}:${scopeId} in policy '${policy.name}'`);
    }
    await appendAudit(tx, [{
      actor, action: 'policy.member_removed', subject: id,
      deviceId: member.scopeType === 'device' ? scopeId : undefined,
      details: { policy: policy.name, scopeType: member.scopeType, scopeId },
    }]);
  });
  return { removed: true, scopeType: member.scopeType, scopeId, members: await listPolicyMembers(db, id) };
}

/** Kaseya: a default applies only when a patch is first discovered; known patches keep their status. */
export async function setDefault(db: Db, id: string, body: DefaultInput, actor: string) {
  assertDeferral(body);
  const previous = await withTransaction(db, async (tx) => {
    const policy = await policyOr404(tx, id, true);
    const prev = await setPolicyDefault(tx, id, body);
    await appendAudit(tx, [{
      actor, action: 'policy.default_changed', subject: id,
      details: {
        policy: policy.name, kind: body.kind, key: body.key, from: prev?.status ?? null, to: body.status,
        fromApproveAfterDays: prev?.approveAfterDays ?? null, toApproveAfterDays: body.approveAfterDays ?? null, restampedPatches: 0,
      },
    }]);
    return prev;
  });
  return {
    default: body, previous: previous?.status ?? null,
    previousApproveAfterDays: previous?.approveAfterDays ?? null, restampedPatches: 0, note: DEFAULT_CHANGE_NOTE,
  };
}

/** Removes a default (404 if the policy has none of that kind and key); known patches keep their status. */
export async function removeDefault(db: Db, id: string, body: DeleteDefaultInput, actor: string) {
  const previous = await withTransaction(db, async (tx) => {
    const policy = await policyOr404(tx, id, true);
    const prev = await deletePolicyDefault(tx, id, body);
    if (!prev) throw new NotFoundError('default', `${body.kind} '${body.key}' in policy '${policy.name}'`);
    await appendAudit(tx, [{
      actor, action: 'policy.default_removed', subject: id,
      details: { policy: policy.name, kind: body.kind, key: body.key, from: prev, restampedPatches: 0 },
    }]);
    return prev;
  });
  return { removed: { ...body, status: previous }, restampedPatches: 0, note: DEFAULT_CHANGE_NOTE };
}
