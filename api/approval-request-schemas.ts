import { z } from 'zod';
import { ROLES_IN_ORDER, type Role } from '../domain/roles';
import { SELF_APPROVAL_REFUSED } from '../workflows/approval-request.contract';

const role = z.enum(ROLES_IN_ORDER as [Role, ...Role[]]);
const state = z.enum(['pending', 'approved', 'refused', 'expired', 'executed', 'failed']);

export const requestIdParam = z.object({ requestId: z.string().uuid('must be a UUID') });
export const listRequestsQuery = z.object({ state: state.optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });
export const decisionSchema = z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict();

/** 202 of a gated route: the action waits for a second person (README "Two-person rule"). */
export const pendingApprovalResponse = z.object({
  pending: z.literal(true),
  requestId: z.string().uuid(),
  location: z.string(),
  kind: z.string(),
  summary: z.string(),
  devices: z.number().int(),
  threshold: z.number().int(),
  neededRole: role,
  expiresAt: z.string(),
  note: z.string(),
});
export type PendingApprovalResponse = z.infer<typeof pendingApprovalResponse>;

export const approvalRequestResponse = z.object({
  id: z.string().uuid(), kind: z.string(), summary: z.string(), parameters: z.record(z.string(), z.unknown()), devices: z.number().int(),
  neededRole: role, clientIds: z.array(z.string().uuid()).nullable(), requestedBy: z.string(), requestedByUserId: z.string().uuid(),
  requestedAt: z.string(), expiresAt: z.string(), state, decidedBy: z.string().nullable(), decidedByUserId: z.string().uuid().nullable(),
  decidedAt: z.string().nullable(), decisionReason: z.string().nullable(), result: z.unknown(), finishedAt: z.string().nullable(),
});
export const approvalRequestListResponse = z.object({ requests: z.array(approvalRequestResponse) });

/** 202 (approved: the action runs now) or 200 (refused). */
export const decisionResponse = z.object({ requestId: z.string().uuid(), state: z.enum(['approved', 'refused']), location: z.string() });
/** 403 of approve: the requester tried to approve their own request. */
export const selfApprovalResponse = z.object({ error: z.literal(SELF_APPROVAL_REFUSED) });
