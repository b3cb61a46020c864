import type { Logger } from 'pino';
import { findApprovalRequest, recordDecision, recordExecution, type ApprovalRequestRow } from '../db/approval-request-repository';
import { appendAudit, AuditOutcome } from '../db/audit-repository';
import { withTransaction, type Db } from '../db/database';
import { PatchflowError } from '../domain/errors';
import { approvalRequestWorkflowId } from '../workflows/approval-request.contract';

/**
 * Runs an approved request's action. The actions are the operators' API's own (a scope scan, an
 * approval across policies...), so the API module that owns them provides the runner
 * (api/approved-actions.ts) and the worker passes it in, as it does the catalog's stamping.
 */
export type ApprovedActionRunner = (request: ApprovalRequestRow) => Promise<unknown>;

/** The two-person rule's bookkeeping and its one action, for approvalRequestWorkflow. */
export function createApprovalRequestActivities(deps: { db: Db; log: Logger; runApprovedAction?: ApprovedActionRunner }) {
  return {
    /** The decision (or the expiry) on the request's row; a pending row takes one, so a retry changes nothing twice. */
    async recordApprovalDecision(requestId: string, d: { state: 'approved' | 'refused' | 'expired'; by?: string; byUserId?: string; reason?: string }): Promise<void> {
      await withTransaction(deps.db, async (tx) => {
        const changed = await recordDecision(tx, requestId, d);
        // The decisions of people are audited by the API with their address; the expiry happens here.
        if (changed && d.state === 'expired') {
          await appendAudit(tx, [{
            actor: `workflow:${approvalRequestWorkflowId(requestId)}`, action: 'approval_request.expired', subject: requestId, outcome: AuditOutcome.Refused,
            idempotencyKey: `approval-request/${requestId}/expired`,
          }]);
        }
      });
    },

    /**
     * Runs the approved action once: a request already executed (or failed) answers what it did. A
     * business refusal (the schedule was paused meanwhile, the scope is gone) is recorded as failed
     * and not retried; anything else (the database, Temporal) is retried by the workflow.
     */
    async runApprovedAction(requestId: string): Promise<{ outcome: 'executed' | 'failed'; result: unknown }> {
      const request = await findApprovalRequest(deps.db, requestId);
      if (!request) return { outcome: 'failed', result: { error: `approval request ${requestId} not found` } };
      if (request.state === 'executed' || request.state === 'failed') return { outcome: request.state, result: request.result };
      if (!deps.runApprovedAction) throw new Error('this worker has no runner for approved actions');
      let outcome: 'executed' | 'failed' = 'executed';
      let result: unknown;
      try {
        result = await deps.runApprovedAction(request);
      } catch (err) {
        if (!(err instanceof PatchflowError)) throw err;
        outcome = 'failed';
        result = { error: err.message, type: err.type };
      }
      await withTransaction(deps.db, async (tx) => {
        if (!(await recordExecution(tx, requestId, { state: outcome, result }))) return;
        await appendAudit(tx, [{
          actor: request.requestedBy, action: `approval_request.${outcome}`, subject: requestId,
          outcome: outcome === 'executed' ? AuditOutcome.Succeeded : AuditOutcome.Failed,
          idempotencyKey: `approval-request/${requestId}/${outcome}`,
          details: { kind: request.kind, summary: request.summary, devices: request.devices, requestedBy: request.requestedBy, approvedBy: request.decidedBy, result },
        }]);
      });
      deps.log.info({ requestId, kind: request.kind, outcome }, 'approved action ran');
      return { outcome, result };
    },
  };
}
