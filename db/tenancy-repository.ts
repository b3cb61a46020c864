import type { Queryable } from './database';

/**
 * The clients a thing belongs to: a list of client ids, `'all'` when it spans every client (or no
 * client at all: a policy without members, a schedule for a device type), or undefined when it does
 * not exist (the route's own 404 then answers, as it would for any unknown id).
 */
export type Tenancy = readonly string[] | 'all' | undefined;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: string) => UUID.test(v);

const one = async (db: Queryable, sql: string, id: string): Promise<Tenancy> => {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query(sql, [id]);
  return rows[0] ? [rows[0].client_id as string] : undefined;
};

export const deviceTenancy = (db: Queryable, id: string) =>
  one(db, 'SELECT s.client_id FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.id = $1::uuid', id);
export const siteTenancy = (db: Queryable, id: string) => one(db, 'SELECT client_id FROM sites WHERE id = $1::uuid', id);
export const releasePlanTenancy = (db: Queryable, id: string) => one(db, 'SELECT client_id FROM release_plans WHERE id = $1::uuid', id);
export const clientTenancy = (db: Queryable, id: string) => one(db, 'SELECT id AS client_id FROM clients WHERE id = $1::uuid', id);

/** A policy's clients are its members' (a device type or "all" member spans every client). */
export async function policyTenancy(db: Queryable, id: string): Promise<Tenancy> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query(
    `SELECT p.id, m.scope_type,
            CASE m.scope_type
              WHEN 'client' THEN (SELECT c.id FROM clients c WHERE c.id::text = m.scope_id)
              WHEN 'site' THEN (SELECT s.client_id FROM sites s WHERE s.id::text = m.scope_id)
              WHEN 'device' THEN (SELECT s.client_id FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.id::text = m.scope_id)
            END AS client_id
     FROM approval_policies p LEFT JOIN policy_members m ON m.policy_id = p.id WHERE p.id = $1::uuid`,
    [id],
  );
  if (rows.length === 0) return undefined;
  if (rows.some((r) => !r.client_id)) return 'all';
  return [...new Set(rows.map((r) => r.client_id as string))];
}

/** The clients of a scope as schedules, scans and actions name it. */
export async function scopeTenancy(db: Queryable, scopeType: string, scopeId: string): Promise<Tenancy> {
  switch (scopeType) {
    case 'device': return deviceTenancy(db, scopeId);
    case 'site': return siteTenancy(db, scopeId);
    case 'client': return clientTenancy(db, scopeId);
    case 'policy': return policyTenancy(db, scopeId);
    default: return 'all'; // all, device_type: every client's devices
  }
}

export async function scheduleTenancy(db: Queryable, id: string): Promise<Tenancy> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query('SELECT scope_type, scope_id FROM update_schedules WHERE id = $1::uuid', [id]);
  if (!rows[0]) return undefined;
  // A schedule whose scope is gone still exists: it belongs to no client, so only all-client keys see it.
  return (await scopeTenancy(db, rows[0].scope_type, rows[0].scope_id)) ?? 'all';
}

export async function reportTenancy(db: Queryable, id: string): Promise<Tenancy> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query(`SELECT parameters->>'clientId' AS client_id FROM reports WHERE id = $1::uuid`, [id]);
  if (!rows[0]) return undefined;
  return rows[0].client_id ? [rows[0].client_id as string] : 'all';
}

export async function approvalRequestTenancy(db: Queryable, id: string): Promise<Tenancy> {
  if (!isUuid(id)) return undefined;
  const { rows } = await db.query('SELECT client_ids FROM approval_requests WHERE id = $1::uuid', [id]);
  if (!rows[0]) return undefined;
  return rows[0].client_ids ?? 'all';
}
