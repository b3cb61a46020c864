import type { Queryable } from './database';

export interface AuditEntry {
  /** who: "api-key:admin", "device:<id>", "workflow:<id>" */
  actor: string;
  /** what, as a dotted verb: "install.started", "patch.installed", "device.enrolled" */
  action: string;
  deviceId?: string;
  /** what it was about, e.g. a KB or a workflow id */
  subject?: string;
  details?: Record<string, unknown>;
  /**
   * Written once per key: an activity's retry passes the same key (its workflow run and activity id),
   * so its audit rows are not written twice.
   */
  idempotencyKey?: string;
}

/** Appends audit rows in one statement. The table refuses updates and deletes. */
export async function appendAudit(db: Queryable, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO audit_log (actor, action, device_id, subject, details, idempotency_key)
     SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::jsonb[], $6::text[])
     ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
    [
      entries.map((e) => e.actor),
      entries.map((e) => e.action),
      entries.map((e) => e.deviceId ?? null),
      entries.map((e) => e.subject ?? null),
      entries.map((e) => JSON.stringify(e.details ?? {})),
      entries.map((e) => e.idempotencyKey ?? null),
    ],
  );
}

export interface AuditRow extends AuditEntry { id: number; at: string }

export async function listAudit(db: Queryable, filter: { deviceId?: string; limit?: number } = {}): Promise<AuditRow[]> {
  const { rows } = await db.query(
    `SELECT id, at, actor, action, device_id, subject, details FROM audit_log
     WHERE ($1::uuid IS NULL OR device_id = $1::uuid) ORDER BY id DESC LIMIT $2::int`,
    [filter.deviceId ?? null, filter.limit ?? 200],
  );
  return rows.map((r) => ({
    id: Number(r.id), at: r.at.toISOString(), actor: r.actor, action: r.action,
    deviceId: r.device_id ?? undefined, subject: r.subject ?? undefined, details: r.details,
  }));
}
