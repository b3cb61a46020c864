import type { FleetDeviceFacts } from '../domain/fleet-summary';
import { CRITICAL_CLASSIFICATION, SECURITY_CLASSIFICATION } from '../domain/fleet-summary';
import type { PatchStatus } from '../domain/patch-status';
import { automaticUpdateBlock } from '../domain/patch-test-result';
import type { Queryable } from './database';

const iso = (v: Date | null): string | null => (v ? v.toISOString() : null);

/**
 * Every live (not retired) device with its patch statuses counted, in one query: the fleet page's
 * figures are computed from it in domain/fleet-summary.ts. `clientIds` narrows to some clients.
 */
export async function loadFleetDeviceFacts(db: Queryable, filter: { clientIds?: readonly string[] } = {}): Promise<FleetDeviceFacts[]> {
  const { rows } = await db.query(
    `SELECT d.id, d.name, d.device_type, d.last_check_in_at, s.id AS site_id, s.name AS site_name,
            c.id AS client_id, c.name AS client_name, sc.last_scanned_at,
            pt.passed AS patch_test_passed, pt.checks AS patch_test_checks, pt.tested_at AS patch_test_at,
            COALESCE((SELECT jsonb_object_agg(t.status, t.n) FROM (
               SELECT dp.status, count(*)::int AS n FROM device_patches dp WHERE dp.device_id = d.id GROUP BY dp.status) t), '{}'::jsonb) AS status_counts,
            (SELECT count(*)::int FROM device_patches dp JOIN patches p ON p.update_id = dp.update_id
              WHERE dp.device_id = d.id AND dp.status = 'missing' AND p.classification = $2::text) AS missing_critical,
            (SELECT count(*)::int FROM device_patches dp JOIN patches p ON p.update_id = dp.update_id
              WHERE dp.device_id = d.id AND dp.status = 'missing' AND p.classification = $3::text) AS missing_security
       FROM devices d
       JOIN sites s ON s.id = d.site_id
       JOIN clients c ON c.id = s.client_id
       LEFT JOIN device_scans sc ON sc.device_id = d.id
       LEFT JOIN device_patch_tests pt ON pt.device_id = d.id
      WHERE d.retired_at IS NULL AND ($1::uuid[] IS NULL OR c.id = ANY($1::uuid[]))
      ORDER BY c.name, s.name, d.name`,
    [filter.clientIds ?? null, CRITICAL_CLASSIFICATION, SECURITY_CLASSIFICATION],
  );
  return rows.map((r) => ({
    deviceId: r.id, deviceName: r.name, deviceType: r.device_type,
    clientId: r.client_id, clientName: r.client_name, siteId: r.site_id, siteName: r.site_name,
    lastCheckInAt: iso(r.last_check_in_at), lastScanAt: iso(r.last_scanned_at),
    statusCounts: r.status_counts as Partial<Record<PatchStatus, number>>,
    missingCritical: r.missing_critical, missingSecurity: r.missing_security,
    automaticUpdateBlocked: r.patch_test_at
      ? automaticUpdateBlock({ passed: r.patch_test_passed, checks: r.patch_test_checks, testedAt: r.patch_test_at.toISOString() })
      : null,
  }));
}

export interface FailedInstallRow {
  deviceId: string;
  deviceName: string;
  clientName: string;
  siteName: string;
  updateId: string;
  kb: string;
  title: string;
  lastExitCode: number | null;
  lastError: string | null;
  failedAttempts: number;
  statusChangedAt: string;
}

/** The Failed (device, patch) pairs, newest first, at most `limit`. */
export async function listFailedInstalls(db: Queryable, limit: number): Promise<FailedInstallRow[]> {
  const { rows } = await db.query(
    `SELECT d.id AS device_id, d.name AS device_name, c.name AS client_name, s.name AS site_name,
            dp.update_id, p.kb, p.title, dp.last_exit_code, dp.last_error, dp.failed_attempts, dp.status_changed_at
       FROM device_patches dp
       JOIN patches p ON p.update_id = dp.update_id
       JOIN devices d ON d.id = dp.device_id
       JOIN sites s ON s.id = d.site_id
       JOIN clients c ON c.id = s.client_id
      WHERE dp.status = 'failed' AND d.retired_at IS NULL
      ORDER BY dp.status_changed_at DESC
      LIMIT $1::int`,
    [limit],
  );
  return rows.map((r) => ({
    deviceId: r.device_id, deviceName: r.device_name, clientName: r.client_name, siteName: r.site_name,
    updateId: r.update_id, kb: r.kb, title: r.title,
    lastExitCode: r.last_exit_code === null ? null : Number(r.last_exit_code), lastError: r.last_error,
    failedAttempts: r.failed_attempts, statusChangedAt: r.status_changed_at.toISOString(),
  }));
}

export interface ScopeDevicePatchRow {
  deviceId: string;
  deviceName: string;
  deviceType: 'server' | 'workstation';
  clientName: string;
  siteId: string;
  siteName: string;
  updateId: string;
  kb: string;
  status: PatchStatus;
}

/**
 * The live devices of a scope (device, site, client or device type, as PUT /patch-actions names
 * them) on which these patches were found, with each patch's status there.
 */
export async function listScopeDevicePatches(
  db: Queryable,
  scope: { scopeType: 'device' | 'site' | 'client' | 'device_type'; scopeId: string },
  updateIds: readonly string[],
): Promise<ScopeDevicePatchRow[]> {
  const column = { device: 'd.id::text', site: 's.id::text', client: 'c.id::text', device_type: 'd.device_type' }[scope.scopeType];
  const { rows } = await db.query(
    `SELECT d.id AS device_id, d.name AS device_name, d.device_type, c.name AS client_name, s.id AS site_id, s.name AS site_name,
            dp.update_id, p.kb, dp.status
       FROM device_patches dp
       JOIN patches p ON p.update_id = dp.update_id
       JOIN devices d ON d.id = dp.device_id
       JOIN sites s ON s.id = d.site_id
       JOIN clients c ON c.id = s.client_id
      WHERE d.retired_at IS NULL AND ${column} = $1::text AND dp.update_id = ANY($2::text[])
      ORDER BY c.name, s.name, d.name, p.kb`,
    [scope.scopeId, updateIds],
  );
  return rows.map((r) => ({
    deviceId: r.device_id, deviceName: r.device_name, deviceType: r.device_type, clientName: r.client_name,
    siteId: r.site_id, siteName: r.site_name, updateId: r.update_id, kb: r.kb, status: r.status,
  }));
}

/** For each catalog patch found on some live device: how many devices have it in each status. */
export async function patchStatusCounts(db: Queryable): Promise<{ updateId: string; counts: Partial<Record<PatchStatus, number>> }[]> {
  const { rows } = await db.query(
    `SELECT t.update_id, jsonb_object_agg(t.status, t.n) AS counts FROM (
       SELECT dp.update_id, dp.status, count(*)::int AS n
         FROM device_patches dp JOIN devices d ON d.id = dp.device_id
        WHERE d.retired_at IS NULL GROUP BY dp.update_id, dp.status) t
     GROUP BY t.update_id ORDER BY t.update_id`,
  );
  return rows.map((r) => ({ updateId: r.update_id, counts: r.counts }));
}
