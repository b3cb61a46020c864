import type { Queryable } from './database';
import { DEVICE_IN_SCOPE } from './scope-sql';

/**
 * How many devices (not retired) an action on a scope reaches: what the two-person rule counts.
 * Scopes as scans, schedules and actions name them: all, client, site, device, device type, policy.
 */
export async function countScopeDevices(db: Queryable, scopeType: string, scopeId = ''): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS n
     FROM devices d JOIN sites s ON s.id = d.site_id
     WHERE d.retired_at IS NULL AND ${DEVICE_IN_SCOPE}`,
    [scopeType, scopeId],
  );
  return rows[0].n as number;
}
