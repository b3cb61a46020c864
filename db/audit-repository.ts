import { currentAuditContext } from './audit-context';
import type { Queryable } from './database';

/** How an audited action ended. */
export const AuditOutcome = {
  /** it happened */
  Succeeded: 'succeeded',
  /** it was not allowed: a failed authentication, a role or tenant refusal, a self-approval */
  Refused: 'refused',
  /** it was allowed but did not complete */
  Failed: 'failed',
} as const;
export type AuditOutcome = (typeof AuditOutcome)[keyof typeof AuditOutcome];

export interface AuditEntry {
  /** who: "user:<name>/key:<key name>", "device:<id>", "workflow:<id>", "address:<ip>" */
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
  /** default: succeeded */
  outcome?: AuditOutcome;
  /** the person, key and source address; default: the current request's (db/audit-context.ts) */
  userName?: string;
  keyId?: string;
  keyName?: string;
  sourceIp?: string;
}

/** Appends audit rows in one statement. The table refuses updates and deletes. */
export async function appendAudit(db: Queryable, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const ctx = currentAuditContext() ?? {};
  const rows = entries.map((e) => ({ ...e, userName: e.userName ?? ctx.userName, keyId: e.keyId ?? ctx.keyId, keyName: e.keyName ?? ctx.keyName, sourceIp: e.sourceIp ?? ctx.sourceIp }));
  await db.query(
    `INSERT INTO audit_log (actor, action, device_id, subject, details, idempotency_key, outcome, user_name, key_id, key_name, source_ip)
     SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])
     ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`,
    [
      rows.map((e) => e.actor),
      rows.map((e) => e.action),
      rows.map((e) => e.deviceId ?? null),
      rows.map((e) => e.subject ?? null),
      rows.map((e) => JSON.stringify(e.details ?? {})),
      rows.map((e) => e.idempotencyKey ?? null),
      rows.map((e) => e.outcome ?? AuditOutcome.Succeeded),
      rows.map((e) => e.userName ?? null),
      rows.map((e) => e.keyId ?? null),
      rows.map((e) => e.keyName ?? null),
      rows.map((e) => e.sourceIp ?? null),
    ],
  );
}

export interface AuditRow extends AuditEntry { id: number; at: string; outcome: AuditOutcome }

export interface AuditFilter {
  deviceId?: string;
  /** rows whose device belongs to this client */
  clientId?: string;
  /** a key limited to these clients sees only rows about their devices */
  visibleClients?: 'all' | readonly string[];
  /** exact actor, or a prefix ending in '*' ("user:alice/*") */
  actor?: string;
  /** exact action, or a prefix ending in '*' ("auth.*") */
  action?: string;
  since?: Date;
  until?: Date;
  /** newest first, older than this id (the previous page's nextCursor) */
  before?: number;
  /** oldest first, newer than this id (follow mode) */
  after?: number;
  limit?: number;
}

const likeOf = (v: string | undefined): string | null =>
  v === undefined ? null : v.endsWith('*') ? `${v.slice(0, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%` : v.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Audit rows, newest first (or oldest first after `after`), filtered and paged by id: an id cursor
 * stays exact while rows are appended, where an offset would skip or repeat rows.
 */
export async function listAudit(db: Queryable, filter: AuditFilter = {}): Promise<AuditRow[]> {
  const visible = filter.visibleClients === undefined || filter.visibleClients === 'all' ? null : [...filter.visibleClients];
  const ascending = filter.after !== undefined;
  const { rows } = await db.query(
    `SELECT a.id, a.at, a.actor, a.action, a.device_id, a.subject, a.details, a.outcome, a.user_name, a.key_id, a.key_name, a.source_ip
     FROM audit_log a
     LEFT JOIN devices d ON d.id = a.device_id
     LEFT JOIN sites s ON s.id = d.site_id
     WHERE ($1::uuid IS NULL OR a.device_id = $1::uuid)
       AND ($2::uuid IS NULL OR s.client_id = $2::uuid)
       AND ($3::uuid[] IS NULL OR s.client_id = ANY($3::uuid[]))
       AND ($4::text IS NULL OR a.actor LIKE $4::text)
       AND ($5::text IS NULL OR a.action LIKE $5::text)
       AND ($6::timestamptz IS NULL OR a.at >= $6::timestamptz)
       AND ($7::timestamptz IS NULL OR a.at < $7::timestamptz)
       AND ($8::bigint IS NULL OR a.id < $8::bigint)
       AND ($9::bigint IS NULL OR a.id > $9::bigint)
     ORDER BY a.id ${ascending ? 'ASC' : 'DESC'} LIMIT $10::int`,
    [
      filter.deviceId ?? null, filter.clientId ?? null, visible, likeOf(filter.actor), likeOf(filter.action),
      filter.since ?? null, filter.until ?? null, filter.before ?? null, filter.after ?? null, filter.limit ?? 200,
    ],
  );
  return rows.map((r) => ({
    id: Number(r.id), at: r.at.toISOString(), actor: r.actor, action: r.action,
    deviceId: r.device_id ?? undefined, subject: r.subject ?? undefined, details: r.details, outcome: r.outcome,
    userName: r.user_name ?? undefined, keyId: r.key_id ?? undefined, keyName: r.key_name ?? undefined, sourceIp: r.source_ip ?? undefined,
  }));
}
