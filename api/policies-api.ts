import express, { type Response, type Router } from 'express';
import { listKbOverrides, listPatchActions } from '../db/approval-repository';
import { listPolicies } from '../db/policy-repository';
import { countScopeDevices } from '../db/reach-repository';
import { policyTenancy, scopeTenancy } from '../db/tenancy-repository';
import { Role } from '../domain/roles';
import { deviceApprovals } from './patch-views';
import { approveInAllPolicies, clearKbOverride, kbsOf, overrideKb, patchesOr404, scopeOr404, setActionsByScope } from './policy-actions';
import { copyPolicyApprovals, patchApprovals, setPolicyApprovals, summaryOf } from './policy-approvals-service';
import {
  approvalByPatchSchema, copyApprovalsSchema, defaultSchema, deleteDefaultSchema, deviceIdParam, kbOverrideSchema, kbParam,
  memberSchema, patchActionsQuery, patchActionsSchema, patchListQuery, policyApprovalsSchema, policyIdParam, summaryQuery,
  updatePolicySchema, createPolicySchema,
} from './policy-schemas';
import {
  addMember, assertDeferral, changePolicy, createPolicy, membersOf, policyOr404, removeDefault, removeMember, removePolicy, setDefault,
} from './policy-service';
import { assertReachable, assertScopeReachable, filterVisible, principalOf } from './tenancy';
import { GatedAction, waitsForSecondPerson, type TwoPersonDeps } from './two-person-rule';
import { parse } from './validation';

/**
 * Approval policies and actions by scope (/api/v1): Kaseya's Approval by Policy / by Patch, KB
 * overrides and policy summary, N-able's per-scope actions, and each device's effective decisions.
 * Handlers parse, check what the key may reach, and call one service function (api/policy-service.ts,
 * api/policy-approvals-service.ts, api/policy-actions.ts), each change one transaction with its audit row.
 */
export function createPoliciesApi(deps: TwoPersonDeps): Router {
  const { db } = deps;
  const router = express.Router();
  const actorOf = (res: Response): string => res.locals.actor as string;

  // ---- policies ----------------------------------------------------------------------------------

  router.post('/policies', async (req, res) => {
    const answer = await createPolicy(db, parse(createPolicySchema, req.body, 'body'), actorOf(res));
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
    res.json(await changePolicy(db, id, parse(updatePolicySchema, req.body, 'body'), actorOf(res)));
  });

  router.delete('/policies/:id', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    res.json(await removePolicy(db, id, actorOf(res)));
  });

  // ---- membership --------------------------------------------------------------------------------

  router.get('/policies/:id/members', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    res.json({ members: await membersOf(db, id) });
  });

  router.post('/policies/:id/members', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(memberSchema, req.body, 'body');
    await assertScopeReachable(db, res, body.scopeType, body.scopeId ?? '');
    const answer = await addMember(db, id, body, actorOf(res));
    res.status(answer.added ? 201 : 200).json(answer);
  });

  router.delete('/policies/:id/members', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    const body = parse(memberSchema, req.body, 'body');
    await assertScopeReachable(db, res, body.scopeType, body.scopeId ?? '');
    res.json(await removeMember(db, id, body, actorOf(res)));
  });

  // ---- defaults ----------------------------------------------------------------------------------

  router.put('/policies/:id/defaults', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    res.json(await setDefault(db, id, parse(defaultSchema, req.body, 'body'), actorOf(res)));
  });

  router.delete('/policies/:id/defaults', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    res.json(await removeDefault(db, id, parse(deleteDefaultSchema, req.body, 'body'), actorOf(res)));
  });

  // ---- approvals ---------------------------------------------------------------------------------

  router.put('/policies/:id/approvals', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    res.json(await setPolicyApprovals(db, id, parse(policyApprovalsSchema, req.body, 'body'), actorOf(res)));
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
    res.json(await copyPolicyApprovals(db, id, body.toPolicyId, actorOf(res)));
  });

  router.get('/policies/:id/summary', async (req, res) => {
    const { id } = parse(policyIdParam, req.params, 'params');
    res.json(await summaryOf(db, id, parse(summaryQuery, req.query, 'query').groupBy));
  });

  router.get('/patches', async (req, res) => {
    const q = parse(patchListQuery, req.query, 'query');
    // A key for some clients sees the catalog, but only its own policies' statuses (and their overall one).
    const visible = principalOf(res).clients === 'all'
      ? 'all' as const
      : new Set((await filterVisible(res, await listPolicies(db), (x) => policyTenancy(db, x.id))).map((x) => x.id));
    res.json({ patches: await patchApprovals(db, q, visible) });
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
    res.json(await clearKbOverride(db, kb, actorOf(res)));
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
