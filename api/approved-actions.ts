import type { ApprovedActionRunner } from '../activities/approval-request-activities';
import type { ApprovalRequestRow } from '../db/approval-request-repository';
import { approveInAllPolicies, overrideKb, setActionsByScope, type ApprovalByPatch, type PatchActionsInput } from './policy-actions';
import { startScopeScan, type ScanServiceDeps } from './scan-service';
import { backfillSchedule, triggerSchedule, type ScheduleDeps } from './schedule-service';
import { GatedAction } from './two-person-rule';
import type { ApprovalStatus } from '../domain/approval-model';

/**
 * Runs an approved request's action with the parameters the first person's route checked and stored,
 * through the same functions the routes call: an approved action does exactly what the unapproved
 * route would have done. The actor is the requester's; the audit row of the execution names both.
 */
export function createApprovedActionRunner(deps: ScanServiceDeps & ScheduleDeps): ApprovedActionRunner {
  return async (request: ApprovalRequestRow) => {
    const p = request.parameters as Record<string, any>;
    const actor = request.requestedBy;
    switch (request.kind) {
      case GatedAction.ScopeScan: {
        const { workflowId, scans } = await startScopeScan(deps, p.scope, actor);
        return { devices: scans.length, workflowId, workflowIds: scans.map((s) => s.workflowId) };
      }
      case GatedAction.ApprovalAllPolicies:
        return approveInAllPolicies(deps.db, p.body as ApprovalByPatch, actor);
      case GatedAction.KbOverride:
        return overrideKb(deps.db, p.kb as string, p.status as ApprovalStatus, actor);
      case GatedAction.UninstallByScope:
        return setActionsByScope(deps.db, p.body as PatchActionsInput, actor);
      case GatedAction.ScheduleTrigger:
        await triggerSchedule(deps, p.scheduleId as string, actor);
        return { triggered: true };
      case GatedAction.ScheduleBackfill:
        await backfillSchedule(deps, p.scheduleId as string, { start: new Date(p.start), end: new Date(p.end) }, actor);
        return { backfilled: true };
      default:
        throw new Error(`no runner for approval request kind ${request.kind}`);
    }
  };
}
