import type { Queryable } from './database';

/**
 * How many devices (not retired) an action on a scope reaches: what the two-person rule counts.
 * Scopes as scans, schedules and actions name them: all, client, site, device, device type, policy.
 */
export async function countScopeDevices(db: Queryable, scopeType: string, scopeId = ''): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n
     FROM devices d JOIN sites s ON s.id = d.site_id
     WHERE d.retired_at IS NULL AND (
       $1::text = 'all'
       OR ($1::text = 'client' AND s.client_id::text = $2::text)
       OR ($1::text = 'site' AND d.site_id::text = $2::text)
       OR ($1::text = 'device' AND d.id::text = $2::text)
       OR ($1::text = 'device_type' AND d.device_type = $2::text)
       OR ($1::text = 'policy' AND EXISTS (
         SELECT 1 FROM policy_members m WHERE m.policy_id::text = $2::text AND (
           m.scope_type = 'all'
           OR (m.scope_type = 'device' AND m.scope_id = d.id::text)
           OR (m.scope_type = 'site' AND m.scope_id = d.site_id::text)
           OR (m.scope_type = 'client' AND m.scope_id = s.client_id::text)
           OR (m.scope_type = 'device_type' AND m.scope_id = d.device_type)))))`,
    [scopeType, scopeId],
  );
  return rows[0].n as number;
}
