import type { Queryable } from './database';
import type { Role } from '../domain/roles';

export const ApprovalRequestState = {
  /** waiting for a second person */
  Pending: 'pending',
  /** approved; the action is running */
  Approved: 'approved',
  Refused: 'refused',
  /** nobody decided in time */
  Expired: 'expired',
  /** approved and done */
  Executed: 'executed',
  /** approved, but the action failed */
  Failed: 'failed',
} as const;
export type ApprovalRequestState = (typeof ApprovalRequestState)[keyof typeof ApprovalRequestState];

export interface ApprovalRequestRow {
  id: string;
  kind: string;
  summary: string;
  parameters: Record<string, unknown>;
  devices: number;
  neededRole: Role;
  /** null: every client */
  clientIds: string[] | null;
  requestedBy: string;
  requestedByUserId: string;
  requestedAt: string;
  expiresAt: string;
  state: ApprovalRequestState;
  decidedBy: string | null;
  decidedByUserId: string | null;
  decidedAt: string | null;
  decisionReason: string | null;
  result: unknown;
  finishedAt: string | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const toRow = (r: Record<string, any>): ApprovalRequestRow => ({
  id: r.id, kind: r.kind, summary: r.summary, parameters: r.parameters, devices: r.devices, neededRole: r.needed_role,
  clientIds: r.client_ids ?? null, requestedBy: r.requested_by, requestedByUserId: r.requested_by_user_id,
  requestedAt: r.requested_at.toISOString(), expiresAt: r.expires_at.toISOString(), state: r.state,
  decidedBy: r.decided_by ?? null, decidedByUserId: r.decided_by_user_id ?? null, decidedAt: iso(r.decided_at),
  decisionReason: r.decision_reason ?? null, result: r.result ?? null, finishedAt: iso(r.finished_at),
});

export async function insertApprovalRequest(db: Queryable, r: {
  id: string; kind: string; summary: string; parameters: Record<string, unknown>; devices: number; neededRole: Role;
  clientIds: string[] | null; requestedBy: string; requestedByUserId: string; expiresAt: Date;
}): Promise<ApprovalRequestRow> {
  const { rows } = await db.query(
    `INSERT INTO approval_requests (id, kind, summary, parameters, devices, needed_role, client_ids, requested_by, requested_by_user_id, expires_at)
     VALUES ($1::uuid, $2::text, $3::text, $4::jsonb, $5::int, $6::text, $7::uuid[], $8::text, $9::uuid, $10::timestamptz) RETURNING *`,
    [r.id, r.kind, r.summary, JSON.stringify(r.parameters), r.devices, r.neededRole, r.clientIds, r.requestedBy, r.requestedByUserId, r.expiresAt],
  );
  return toRow(rows[0]);
}

export async function findApprovalRequest(db: Queryable, id: string): Promise<ApprovalRequestRow | undefined> {
  const { rows } = await db.query('SELECT * FROM approval_requests WHERE id = $1::uuid', [id]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

export async function listApprovalRequests(db: Queryable, filter: { state?: ApprovalRequestState; limit?: number } = {}): Promise<ApprovalRequestRow[]> {
  const { rows } = await db.query(
    'SELECT * FROM approval_requests WHERE ($1::text IS NULL OR state = $1::text) ORDER BY requested_at DESC LIMIT $2::int',
    [filter.state ?? null, filter.limit ?? 200],
  );
  return rows.map(toRow);
}

/** Records a decision; only a pending request takes one (a retried activity changes nothing twice). */
export async function recordDecision(db: Queryable, id: string, d: { state: 'approved' | 'refused' | 'expired'; by?: string; byUserId?: string; reason?: string }): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE approval_requests SET state = $2::text, decided_by = $3::text, decided_by_user_id = $4::uuid, decided_at = now(), decision_reason = $5::text,
       finished_at = CASE WHEN $2::text = 'approved' THEN NULL ELSE now() END
     WHERE id = $1::uuid AND state = 'pending'`,
    [id, d.state, d.by ?? null, d.byUserId ?? null, d.reason ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Records what the approved action did; only once. */
export async function recordExecution(db: Queryable, id: string, e: { state: 'executed' | 'failed'; result: unknown }): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE approval_requests SET state = $2::text, result = $3::jsonb, finished_at = now() WHERE id = $1::uuid AND state = 'approved'`,
    [id, e.state, JSON.stringify(e.result ?? null)],
  );
  return (rowCount ?? 0) > 0;
}

/** A request whose workflow never started: failed at once, so it never shows as pending for ever. */
export async function failUnstartedRequest(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query(
    `UPDATE approval_requests SET state = 'failed', result = $2::jsonb, finished_at = now() WHERE id = $1::uuid AND state = 'pending'`,
    [id, JSON.stringify({ error: reason })],
  );
}
