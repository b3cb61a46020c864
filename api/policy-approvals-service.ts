import { copyApprovals, findPolicyApprovals, setExplicitApprovals } from '../db/approval-repository';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db } from '../db/database';
import { listPatchApprovals, policySummary, type PatchApprovalRow, type SummaryGroup } from '../db/policy-views';
import { UnprocessableError } from '../domain/errors';
import { kbsOf, patchesOr404 } from './policy-actions';
import type { PatchListQuery, PolicyApprovalsInput } from './policy-schemas';
import { assertDeferral, policyOr404 } from './policy-service';

/** One policy's explicit approvals (Kaseya's Approval by Policy), copies between policies, and its summary. */

/** Approval by Policy: explicit statuses for some patches in one policy. */
export async function setPolicyApprovals(db: Db, id: string, body: PolicyApprovalsInput, actor: string) {
  assertDeferral(body);
  return withTransaction(db, async (tx) => {
    const policy = await policyOr404(tx, id, true);
    const patches = await patchesOr404(tx, body);
    const updateIds = patches.map((p) => p.updateId);
    const note = body.note ?? `set by ${actor} (approval by policy)`;
    const change = await setExplicitApprovals(tx, { policyIds: [id], updateIds, status: body.status, note, approveAfterDays: body.approveAfterDays });
    await appendAudit(tx, [{
      actor, action: 'patch.approval_set', subject: id,
      details: {
        policy: policy.name, status: body.status, approveAfterDays: body.approveAfterDays ?? null, kbs: kbsOf(patches), updateIds,
        approvalsChanged: change.approvalsChanged, note,
      },
    }]);
    return {
      policyId: id, policy: policy.name, status: body.status, patches: updateIds.length,
      approvalsChanged: change.approvalsChanged, approvals: await findPolicyApprovals(tx, id, updateIds),
    };
  });
}

/** Copies one policy's explicit approvals onto another (never onto itself: 422 naming toPolicyId). */
export async function copyPolicyApprovals(db: Db, fromId: string, toId: string, actor: string) {
  if (toId === fromId) throw new UnprocessableError('cannot copy a policy\'s approvals onto itself', 'toPolicyId');
  return withTransaction(db, async (tx) => {
    const from = await policyOr404(tx, fromId);
    const to = await policyOr404(tx, toId, true);
    const { copied, changed } = await copyApprovals(tx, fromId, to.id);
    await appendAudit(tx, [{
      actor, action: 'policy.approvals_copied', subject: to.id,
      details: { from: { id: fromId, name: from.name }, to: { id: to.id, name: to.name }, copied, changed },
    }]);
    return { fromPolicyId: fromId, toPolicyId: to.id, copied, changed };
  });
}

/** The policy summary (Kaseya's table), grouped as asked. */
export async function summaryOf(db: Db, id: string, groupBy: SummaryGroup) {
  const policy = await policyOr404(db, id);
  return { policyId: id, policy: policy.name, groupBy, ...(await policySummary(db, id, groupBy)) };
}

/**
 * The catalog with each patch's status per policy. `visiblePolicyIds` 'all' shows every policy; a set
 * keeps only those policies' statuses, and the overall status is recomputed from them (null: none seen).
 */
export async function patchApprovals(db: Db, q: PatchListQuery, visiblePolicyIds: 'all' | Set<string>): Promise<PatchApprovalRow[]> {
  const patches = await listPatchApprovals(db, {
    name: q.name, kb: q.kb, classification: q.classification, kaseyaClassification: q.kaseyaClassification, product: q.product, approval: q.status,
  });
  if (visiblePolicyIds === 'all') return patches;
  return patches.map((row) => {
    const policies = row.policies.filter((x) => visiblePolicyIds.has(x.policyId));
    const statuses = new Set(policies.map((x) => x.status));
    return { ...row, policies, approval: statuses.size === 0 ? null : statuses.size === 1 ? [...statuses][0]! : 'mixed' as const };
  });
}
