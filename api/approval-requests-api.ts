import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import express, { type Request, type Response, type Router } from 'express';
import { findApprovalRequest, listApprovalRequests } from '../db/approval-request-repository';
import { appendAudit, AuditOutcome } from '../db/audit-repository';
import type { Db } from '../db/database';
import { ConflictError, NotFoundError } from '../domain/errors';
import { roleAllows } from '../domain/roles';
import { approvalRequestWorkflowId, decideUpdate, SELF_APPROVAL_FAILURE_TYPE, SELF_APPROVAL_REFUSED } from '../workflows/approval-request.contract';
import { decisionSchema, listRequestsQuery, requestIdParam } from './approval-request-schemas';
import { HttpError } from './errors';
import { filterVisible, principalOf } from './tenancy';
import type { TwoPersonDeps } from './two-person-rule';
import { parse } from './validation';

/** The two-person rule's requests (/api/v1/approval-requests): list, show, approve, refuse. */
export function createApprovalRequestsApi(deps: TwoPersonDeps & { db: Db }): Router {
  const { db } = deps;
  const router = express.Router();

  router.get('/approval-requests', async (req, res) => {
    const q = parse(listRequestsQuery, req.query, 'query');
    const rows = await listApprovalRequests(db, q);
    res.json({ requests: await filterVisible(res, rows, (r) => r.clientIds ?? 'all') });
  });

  router.get('/approval-requests/:requestId', async (req, res) => {
    const { requestId } = parse(requestIdParam, req.params, 'params');
    const row = await findApprovalRequest(db, requestId);
    if (!row) throw new NotFoundError('approval request', requestId);
    res.json(row);
  });

  const decide = (approve: boolean) => async (req: Request, res: Response) => {
    const { requestId } = parse(requestIdParam, req.params, 'params');
    const body = parse(decisionSchema, req.body, 'body');
    const row = await findApprovalRequest(db, requestId);
    if (!row) throw new NotFoundError('approval request', requestId);
    const p = principalOf(res);
    const verb = approve ? 'approve' : 'refuse';
    if (!roleAllows(p.role, row.neededRole)) {
      res.locals.refusal = 'role';
      throw new HttpError(403, `role ${p.role} may not ${verb} this request: it needs ${row.neededRole} or above, as the action does`);
    }
    if (approve && p.userId === row.requestedByUserId) {
      res.locals.refusal = 'self-approval';
      throw new HttpError(403, SELF_APPROVAL_REFUSED);
    }
    if (row.state !== 'pending') throw new ConflictError(`approval request ${requestId} is already ${row.state}`);
    try {
      await deps.client.workflow.getHandle(approvalRequestWorkflowId(requestId)).executeUpdate(decideUpdate, {
        args: [{ approve, userId: p.userId, actor: res.locals.actor as string, reason: body.reason }],
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        const why = (err.cause as Error | undefined)?.message ?? err.message;
        if (err.cause instanceof ApplicationFailure && err.cause.type === SELF_APPROVAL_FAILURE_TYPE) { res.locals.refusal = 'self-approval'; throw new HttpError(403, SELF_APPROVAL_REFUSED); }
        throw new ConflictError(`cannot ${verb}: ${why}`);
      }
      // The request's row exists, so a workflow Temporal no longer has open is one that has ended.
      if (err instanceof WorkflowNotFoundError) {
        throw new ConflictError(`approval request ${requestId} is no longer pending (it expired or was decided)`);
      }
      throw err;
    }
    await appendAudit(db, [{
      actor: res.locals.actor as string, action: approve ? 'approval_request.approved' : 'approval_request.refused', subject: requestId,
      outcome: AuditOutcome.Succeeded,
      details: { kind: row.kind, summary: row.summary, devices: row.devices, requestedBy: row.requestedBy, decidedBy: res.locals.actor, reason: body.reason ?? null },
    }]);
    const location = `/api/v1/approval-requests/${requestId}`;
    // Approved: the action runs in the request's workflow; its row says when it has (state executed).
    res.status(approve ? 202 : 200).location(location).json({ requestId, state: approve ? 'approved' : 'refused', location });
  };

  router.post('/approval-requests/:requestId/approve', decide(true));
  router.post('/approval-requests/:requestId/refuse', decide(false));

  return router;
}
