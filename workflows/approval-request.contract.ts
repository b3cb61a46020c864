/** The contract of approvalRequestWorkflow (the two-person rule): id scheme, input, decision, result. */
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const APPROVAL_REQUEST_WORKFLOW_TYPE = 'approvalRequestWorkflow';

/** `approval-request/<request id>`: one workflow per pending request. */
export const approvalRequestWorkflowId = (requestId: string) => `approval-request/${requestId}`;

export interface ApprovalRequestInput {
  requestId: string;
  /** what waits, in the operator's words: "Scan 812 devices of client Acme" */
  summary: string;
  /** the person who asked (the one who may not approve) */
  requestedByUserId: string;
  requestedBy: string;
  /** how long the request waits for a decision before it expires (default 24 h) */
  expiresInSeconds: number;
}

export interface ApprovalDecision {
  approve: boolean;
  userId: string;
  /** "user:<name>/key:<key name>" */
  actor: string;
  reason?: string;
}

export type ApprovalRequestOutcome = 'refused' | 'expired' | 'executed' | 'failed';

export interface ApprovalRequestResult {
  outcome: ApprovalRequestOutcome;
  decidedBy?: string;
  /** what the action answered (or why it failed) */
  result?: unknown;
}

/** Approves or refuses; refused by the validator when already decided, or when the requester approves. */
export const decideUpdate = defineUpdate<{ state: 'approved' | 'refused' }, [ApprovalDecision]>('decide');

export const approvalStateQuery = defineQuery<{ state: 'pending' | 'approved' | 'refused' | 'expired' | ApprovalRequestOutcome; decidedBy?: string }>('state');

/** Why a requester's own approval is refused, in the workflow and the API alike. */
/** The failure type the decide update's validator refuses a self-approval with: callers match the type, not the text. */
export const SELF_APPROVAL_FAILURE_TYPE = 'SelfApprovalRefused';
export const SELF_APPROVAL_REFUSED = 'the two-person rule: the person who asked cannot approve their own request; a second person must';
