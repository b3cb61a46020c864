import express, { type Response, type Router } from 'express';
import {
  copyApprovals, deleteKbOverride, findPolicyApprovals, listKbOverrides, listPatchActions, setExplicitApprovals, stampCatalogInPolicy,
} from '../db/approval-repository';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Queryable } from '../db/database';
import {
  addPolicyMember, deletePolicy, deletePolicyDefault, findPolicy, insertPolicy, listPolicies, listPolicyMembers, removePolicyMember,
  setPolicyDefault, updatePolicy, type PolicyRow,
} from '../db/policy-repository';
import { listPatchApprovals, policySummary } from '../db/policy-views';
import { ConflictError, NotFoundError, UnprocessableError } from '../domain/errors';
import { approveAfterDaysProblem } from '../domain/approval-deferral';
import { deviceApprovals } from './patch-views';
import {
  approvalByPatchSchema, copyApprovalsSchema, defaultSchema, deleteDefaultSchema, deviceIdParam, kbOverrideSchema, kbParam,
  memberSchema, patchActionsQuery, patchActionsSchema, patchListQuery, policyApprovalsSchema, policyIdParam, summaryQuery,
  updatePolicySchema, createPolicySchema,
} from './policy-schemas';
import { parse } from './validation';
import { approveInAllPolicies, kbsOf, overrideKb, patchesOr404, scopeOr404, setActionsByScope } from './policy-actions';
import { countScopeDevices } from '../db/reach-repository';
import { Role } from '../domain/roles';
import { GatedAction, waitsForSecondPerson, type TwoPersonDeps } from './two-person-rule';
import { assertReachable, assertScopeReachable, filterVisible, principalOf } from './tenancy';
import { policyTenancy, scopeTenancy } from '../db/tenancy-repository';

/** A deferral out of range, or on a status that does not approve: 422 naming the field, before anything is written. */
export function assertDeferral(body: { approveAfterDays?: number; status: string }): void {
  const problem = approveAfterDaysProblem(body.approveAfterDays, body.status);
  if (problem) throw new UnprocessableError(`body.approveAfterDays: ${problem}`, 'approveAfterDays');
}

const DEFAULT_CHANGE_NOTE = 'applies to patches discovered from now on; known patches keep their status (Kaseya)';

async function policyOr404(db: Queryable, id: string, forUpdate = false): Promise<PolicyRow> {
  const policy = await findPolicy(db, id, { forUpdate });
  if (!policy) throw new NotFoundError('policy', id);
  return policy;
}

/**
 * Approval policies and actions by scope (/api/v1): Kaseya's Approval by Policy / by Patch, KB
 * overrides and policy summary, N-able's per-scope actions, and each device's effective decisions.
 * Every change runs in one transaction with its audit row; bad input is refused before anything is written.
 */
export function createPoliciesApi(deps: TwoPersonDeps): Router {
  const { db } = deps;
  const router = express.Router();
  const actorOf = (res: Response): string => res.locals.actor as string;

  // ---- policies ----------------------------------------------------------------------------------

  router.post('/policies', async (req, res) => {
    const body = parse(createPolicySchema, req.body, 'body');
    const answer = await withTransaction(db, async (tx) => {
      const id = await insertPolicy(tx, body);
      const stampedPatches = await stampCatalogInPolicy(tx, id);
      const policy = (await findPolicy(tx, id))!;
      await appendAudit(tx, [{
        actor: actorOf(res), action: 'policy.created', subject: id,
        details: { name: policy.name, switches: body, defaults: policy.defaults, fallbackDefault: policy.fallbackDefault, stampedPatches },
      }]);
      return { ...policy, stampedPatches };
    });
    res.status(201).location(`/api/v1/policies/${answer.id}`).json(answer);
  });

  router.get('/policies', async (_req, res) => {
    res.json({ policies: await filterVisible(res, await listPolicies(db), (p) => policyTenancy(db, p.id)) });
  });

  router.get('/policies/:id', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    res.json(await policyOr404(db, id));
  });

  router.patch('/policies/:id', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(updatePolicySchema, req.body, 'body');
    const policy = await withTransaction(db, async (tx) => {
      const before = await policyOr404(tx, id, true);
      await updatePolicy(tx, id, body);
      const after = (await findPolicy(tx, id))!;
      const changes = Object.fromEntries(Object.keys(body).map((k) => {
        const field = k as keyof typeof body;
        return [k, { from: before[field], to: after[field] }];
      }));
      await appendAudit(tx, [{ actor: actorOf(res), action: 'policy.updated', subject: id, details: { name: after.name, changes } }]);
      return after;
    });
    res.json(policy);
  });

  // A policy with members is refused (409): deleting it would silently change what its devices may
  // install (a device left in no policy gets every patch approved). Remove the members first.
  router.delete('/policies/:id', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const answer = await withTransaction(db, async (tx) => {
      const policy = await policyOr404(tx, id, true);
      if (policy.members > 0) {
        throw new ConflictError(`policy '${policy.name}' still has ${policy.members} member(s); remove them first (DELETE /policies/${id}/members)`);
      }
      const { approvals } = await deletePolicy(tx, id);
      await appendAudit(tx, [{ actor: actorOf(res), action: 'policy.deleted', subject: id, details: { name: policy.name, approvalsRemoved: approvals } }]);
      return { deleted: id, name: policy.name, approvalsRemoved: approvals };
    });
    res.json(answer);
  });

  // ---- membership --------------------------------------------------------------------------------

  router.get('/policies/:id/members', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    await policyOr404(db, id);
    res.json({ members: await listPolicyMembers(db, id) });
  });

  router.post('/policies/:id/members', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(memberSchema, req.body, 'body');
    const scopeId = body.scopeId ?? '';
    await assertScopeReachable(db, res, body.scopeType, scopeId);
    const added = await withTransaction(db, async (tx) => {
      const policy = await policyOr404(tx, id, true);
      await scopeOr404(tx, body.scopeType, scopeId);
      const isNew = await addPolicyMember(tx, id, body.scopeType, scopeId);
      if (isNew) {
        await appendAudit(tx, [{
          actor: actorOf(res), action: 'policy.member_added', subject: id,
          deviceId: body.scopeType === 'device' ? scopeId : undefined,
          details: { policy: policy.name, scopeType: body.scopeType, scopeId },
        }]);
      }
      return isNew;
    });
    res.status(added ? 201 : 200).json({ added, scopeType: body.scopeType, scopeId, members: await listPolicyMembers(db, id) });
  });

  router.delete('/policies/:id/members', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(memberSchema, req.body, 'body');
    const scopeId = body.scopeId ?? '';
    await assertScopeReachable(db, res, body.scopeType, scopeId);
    await withTransaction(db, async (tx) => {
      const policy = await policyOr404(tx, id, true);
      if (!(await removePolicyMember(tx, id, body.scopeType, scopeId))) {
        throw new NotFoundError('membership', `${body.scopeType}:${scopeId} in policy '${policy.name}'`);
      }
      await appendAudit(tx, [{
        actor: actorOf(res), action: 'policy.member_removed', subject: id,
        deviceId: body.scopeType === 'device' ? scopeId : undefined,
        details: { policy: policy.name, scopeType: body.scopeType, scopeId },
      }]);
    });
    res.json({ removed: true, scopeType: body.scopeType, scopeId, members: await listPolicyMembers(db, id) });
  });

  // ---- defaults ----------------------------------------------------------------------------------

  // Kaseya: a default applies only when a patch is first discovered; known patches keep their status.
  router.put('/policies/:id/defaults', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(defaultSchema, req.body, 'body');
    assertDeferral(body);
    const previous = await withTransaction(db, async (tx) => {
      const policy = await policyOr404(tx, id, true);
      const prev = await setPolicyDefault(tx, id, body);
      await appendAudit(tx, [{
        actor: actorOf(res), action: 'policy.default_changed', subject: id,
        details: {
          policy: policy.name, kind: body.kind, key: body.key, from: prev?.status ?? null, to: body.status,
          fromApproveAfterDays: prev?.approveAfterDays ?? null, toApproveAfterDays: body.approveAfterDays ?? null, restampedPatches: 0,
        },
      }]);
      return prev;
    });
    res.json({
      default: body, previous: previous?.status ?? null,
      previousApproveAfterDays: previous?.approveAfterDays ?? null, restampedPatches: 0, note: DEFAULT_CHANGE_NOTE,
    });
  });

  router.delete('/policies/:id/defaults', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(deleteDefaultSchema, req.body, 'body');
    const previous = await withTransaction(db, async (tx) => {
      const policy = await policyOr404(tx, id, true);
      const prev = await deletePolicyDefault(tx, id, body);
      if (!prev) throw new NotFoundError('default', `${body.kind} '${body.key}' in policy '${policy.name}'`);
      await appendAudit(tx, [{
        actor: actorOf(res), action: 'policy.default_removed', subject: id,
        details: { policy: policy.name, kind: body.kind, key: body.key, from: prev, restampedPatches: 0 },
      }]);
      return prev;
    });
    res.json({ removed: { ...body, status: previous }, restampedPatches: 0, note: DEFAULT_CHANGE_NOTE });
  });

  // ---- approvals ---------------------------------------------------------------------------------

  // Approval by Policy: explicit statuses for some patches in one policy.
  router.put('/policies/:id/approvals', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(policyApprovalsSchema, req.body, 'body');
    assertDeferral(body);
    const answer = await withTransaction(db, async (tx) => {
      const policy = await policyOr404(tx, id, true);
      const patches = await patchesOr404(tx, body);
      const updateIds = patches.map((p) => p.updateId);
      const note = body.note ?? `set by ${actorOf(res)} (approval by policy)`;
      const change = await setExplicitApprovals(tx, { policyIds: [id], updateIds, status: body.status, note, approveAfterDays: body.approveAfterDays });
      await appendAudit(tx, [{
        actor: actorOf(res), action: 'patch.approval_set', subject: id,
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
    res.json(answer);
  });

  // Approval by Patch: the same explicit status in every policy (Kaseya's warning: ALL policies).
  // Every device in a policy is reached: past the threshold a second person approves it first.
  router.put('/patches/approval', async (req, res) => {
    const body = parse(approvalByPatchSchema, req.body, 'body');
    assertDeferral(body);
    const patches = await patchesOr404(db, body);
    const devices = await countScopeDevices(db, 'all');
    if (await waitsForSecondPerson(deps, res, {
      kind: GatedAction.ApprovalAllPolicies, summary: `Set ${kbsOf(patches).join(', ')} to ${body.status} in all policies (${devices} devices)`,
      parameters: { body }, devices, neededRole: Role.Approver, clients: 'all',
    })) return;
    res.json(await approveInAllPolicies(db, body, actorOf(res)));
  });

  router.post('/policies/:id/copy-approvals', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(copyApprovalsSchema, req.body, 'body');
    assertReachable(res, await policyTenancy(db, body.toPolicyId), 'policy', body.toPolicyId);
    if (body.toPolicyId === id) throw new UnprocessableError('cannot copy a policy\'s approvals onto itself', 'toPolicyId');
    const answer = await withTransaction(db, async (tx) => {
      const from = await policyOr404(tx, id);
      const to = await policyOr404(tx, body.toPolicyId, true);
      const { copied, changed } = await copyApprovals(tx, id, to.id);
      await appendAudit(tx, [{
        actor: actorOf(res), action: 'policy.approvals_copied', subject: to.id,
        details: { from: { id, name: from.name }, to: { id: to.id, name: to.name }, copied, changed },
      }]);
      return { fromPolicyId: id, toPolicyId: to.id, copied, changed };
    });
    res.json(answer);
  });

  router.get('/policies/:id/summary', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const q = parse(summaryQuery, req.query, 'query');
    const policy = await policyOr404(db, id);
    const summary = await policySummary(db, id, q.groupBy);
    res.json({ policyId: id, policy: policy.name, groupBy: q.groupBy, ...summary });
  });

  router.get('/patches', async (req, res) => {
    const q = parse(patchListQuery, req.query, 'query');
    const patches = await listPatchApprovals(db, {
      name: q.name, kb: q.kb, classification: q.classification, kaseyaClassification: q.kaseyaClassification, product: q.product, approval: q.status,
    });
    const p = principalOf(res);
    if (p.clients === 'all') {
      res.json({ patches });
      return;
    }
    // A key for some clients sees the catalog, but only its own policies' statuses (and their overall one).
    const visible = new Set((await filterVisible(res, await listPolicies(db), (x) => policyTenancy(db, x.id))).map((x) => x.id));
    res.json({
      patches: patches.map((row) => {
        const policies = row.policies.filter((x) => visible.has(x.policyId));
        const statuses = new Set(policies.map((x) => x.status));
        return { ...row, policies, approval: statuses.size === 0 ? null : statuses.size === 1 ? [...statuses][0] : 'mixed' as const };
      }),
    });
  });

  // ---- KB overrides ------------------------------------------------------------------------------

  router.get('/kb-overrides', async (_req, res) => {
    res.json({ overrides: await listKbOverrides(db) });
  });

  router.put('/kb-overrides/:kb', async (req, res) => {
    const { kb } = parse(kbParam, req.params, 'params');
    const body = parse(kbOverrideSchema, req.body, 'body');
    const devices = await countScopeDevices(db, 'all');
    if (await waitsForSecondPerson(deps, res, {
      kind: GatedAction.KbOverride, summary: `Override ${kb} to ${body.status} in all policies (${devices} devices)`,
      parameters: { kb, status: body.status }, devices, neededRole: Role.Approver, clients: 'all',
    })) return;
    res.json(await overrideKb(db, kb, body.status, actorOf(res)));
  });

  router.delete('/kb-overrides/:kb', async (req, res) => {
    const { kb } = parse(kbParam, req.params, 'params');
    const previous = await withTransaction(db, async (tx) => {
      const prev = await deleteKbOverride(tx, kb);
      if (!prev) throw new NotFoundError('KB override', kb);
      await appendAudit(tx, [{ actor: actorOf(res), action: 'kb_override.cleared', subject: kb, details: { kb, from: prev } }]);
      return prev;
    });
    res.json({ kb, cleared: true, previous });
  });

  // ---- actions by scope --------------------------------------------------------------------------

  router.get('/patch-actions', async (req, res) => {
    const q = parse(patchActionsQuery, req.query, 'query');
    res.json({ actions: await filterVisible(res, await listPatchActions(db, q), (a) => scopeTenancy(db, a.scopeType, a.scopeId)) });
  });

  router.put('/patch-actions', async (req, res) => {
    const body = parse(patchActionsSchema, req.body, 'body');
    await assertScopeReachable(db, res, body.scopeType, body.scopeId);
    if (body.action === 'uninstall') {
      // An uninstall by scope reaches every device of the scope: past the threshold, a second person first.
      await scopeOr404(db, body.scopeType, body.scopeId);
      const patches = await patchesOr404(db, body);
      const devices = await countScopeDevices(db, body.scopeType, body.scopeId);
      if (await waitsForSecondPerson(deps, res, {
        kind: GatedAction.UninstallByScope, summary: `Uninstall ${kbsOf(patches).join(', ')} on ${body.scopeType} ${body.scopeId} (${devices} devices)`,
        parameters: { body }, devices, neededRole: Role.Approver, clients: await scopeTenancy(db, body.scopeType, body.scopeId),
      })) return;
    }
    res.json(await setActionsByScope(db, body, actorOf(res)));
  });

  // ---- a device's effective approval -------------------------------------------------------------

  router.get('/devices/:deviceId/approvals', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const answer = await deviceApprovals(db, deviceId);
    // The decisions count every policy that governs the device, but a key for some clients is told
    // only the ids of policies it may see: one that spans another client is that client's business.
    const policyIds = await filterVisible(res, [...answer.policyIds], (id) => policyTenancy(db, id));
    res.json({ ...answer, policyIds });
  });

  return router;
}
