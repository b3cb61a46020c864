import { ApplicationFailure, condition, proxyActivities, setCurrentDetails, setHandler } from '@temporalio/workflow';
import type { ApprovalRequestActivities } from '../activities';
import {
  approvalStateQuery, decideUpdate, SELF_APPROVAL_FAILURE_TYPE, SELF_APPROVAL_REFUSED, type ApprovalDecision, type ApprovalRequestInput, type ApprovalRequestResult,
} from './approval-request.contract';
import { REQUESTED_ACTION_RETRY } from './retry-policies';

/**
 * The two-person rule for one fleet-wide action: waits for a second person's decision (the `decide`
 * update) or the expiry timer, records what happened, and once approved runs the action through an
 * activity. The requester's own approval is refused by the update's validator, so it never enters
 * the history.
 */
export async function approvalRequestWorkflow(input: ApprovalRequestInput): Promise<ApprovalRequestResult> {
  const acts = proxyActivities<ApprovalRequestActivities>({ startToCloseTimeout: '5 minutes', retry: REQUESTED_ACTION_RETRY });
  let decision: ApprovalDecision | undefined;
  let state: 'pending' | 'approved' | 'refused' | 'expired' | 'executed' | 'failed' = 'pending';

  setHandler(approvalStateQuery, () => ({ state, decidedBy: decision?.actor }));
  setHandler(decideUpdate, (d) => {
    decision = d;
    state = d.approve ? 'approved' : 'refused';
    return { state };
  }, {
    validator: (d) => {
      if (decision) throw new Error(`request ${input.requestId} is already ${state}`);
      if (d.approve && d.userId === input.requestedByUserId) throw ApplicationFailure.create({ type: SELF_APPROVAL_FAILURE_TYPE, message: SELF_APPROVAL_REFUSED, nonRetryable: true });
    },
  });

  setCurrentDetails(`**pending**: ${input.summary}, asked by ${input.requestedBy}; waiting for a second person`);
  const decided = await condition(() => decision !== undefined, `${input.expiresInSeconds} seconds`);
  if (!decided || !decision) {
    state = 'expired';
    await acts.recordApprovalDecision.executeWithOptions(
      { startToCloseTimeout: '30 seconds', summary: 'record expiry' }, [input.requestId, { state: 'expired' }]);
    setCurrentDetails(`**expired**: ${input.summary}`);
    return { outcome: 'expired' };
  }
  const d = decision;
  await acts.recordApprovalDecision.executeWithOptions(
    { startToCloseTimeout: '30 seconds', summary: `record ${d.approve ? 'approval' : 'refusal'} by ${d.actor}` },
    [input.requestId, { state: d.approve ? 'approved' : 'refused', by: d.actor, byUserId: d.userId, reason: d.reason }],
  );
  if (!d.approve) {
    setCurrentDetails(`**refused** by ${d.actor}: ${input.summary}`);
    return { outcome: 'refused', decidedBy: d.actor };
  }
  setCurrentDetails(`**running**: ${input.summary}, approved by ${d.actor}`);
  const ran = await acts.runApprovedAction.executeWithOptions(
    { startToCloseTimeout: '5 minutes', retry: REQUESTED_ACTION_RETRY, summary: input.summary }, [input.requestId]);
  state = ran.outcome;
  setCurrentDetails(`**${ran.outcome}**: ${input.summary}, approved by ${d.actor}`);
  return { outcome: ran.outcome, decidedBy: d.actor, result: ran.result };
}
