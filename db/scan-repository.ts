import { createHash } from 'node:crypto';
import type { ScanResult, ScannedUpdate } from '../domain/device-protocol';
import { diffAgainstCatalog, scanFingerprint } from '../domain/scan-digest';
import { withTransaction, type Db, type Queryable } from './database';
import { knownRevisions, reconcileScan, upsertCatalog } from './patch-repository';

/** Stamps newly discovered (or revised) patches with each approval policy's default status. */
export type StampNewPatches = (
  db: Queryable,
  patches: Pick<ScannedUpdate, 'updateId' | 'classification' | 'product'>[],
  options: { revisionChanged?: string[] },
) => Promise<unknown>;

export interface ScanSummary {
  /** false: same results as the device's last scan; only its timestamp was written */
  changed: boolean;
  updatesReported: number;
  missing: number;
  installed: number;
  /** KBs the catalog had never seen (they start at their policies' default, usually Pending Approval) */
  newKbs: string[];
  /** KBs seen at a new revision (back to their default status, usually Pending Approval) */
  revisedKbs: string[];
  rebootPending: boolean;
}

/**
 * Processes a device's scan, only when it differs from the last one (compared by digest):
 * upserts the catalog, stamps new and revised patches in every approval policy, reconciles the
 * device's statuses, and records the digest. An unchanged scan writes its timestamp and nothing else.
 */
export async function processScan(db: Db, deviceId: string, scan: ScanResult, stamp: StampNewPatches): Promise<ScanSummary> {
  const digest = createHash('sha256').update(scanFingerprint(scan.updates)).digest('hex');
  const summary: ScanSummary = {
    changed: false,
    updatesReported: scan.updates.length,
    missing: scan.updates.filter((u) => !u.installed).length,
    installed: scan.updates.filter((u) => u.installed).length,
    newKbs: [],
    revisedKbs: [],
    rebootPending: scan.rebootPending,
  };
  return withTransaction(db, async (tx) => {
    // The row lock serialises two scans of one device (a scheduled scan racing an install's pre-scan).
    const { rows } = await tx.query('SELECT digest FROM device_scans WHERE device_id = $1::uuid FOR UPDATE', [deviceId]);
    if (rows[0]?.digest === digest) {
      await tx.query(
        `UPDATE device_scans SET last_scanned_at = $2::timestamptz, reboot_pending = $3::bool, free_disk_bytes = $4::bigint
         WHERE device_id = $1::uuid`,
        [deviceId, scan.scannedAt, scan.rebootPending, scan.freeDiskBytes],
      );
      return summary;
    }
    const diff = diffAgainstCatalog(scan.updates, await knownRevisions(tx, scan.updates.map((u) => u.updateId)));
    await upsertCatalog(tx, scan.updates);
    const fresh = new Set([...diff.newUpdateIds, ...diff.revisedUpdateIds]);
    const stamped = scan.updates.filter((u) => fresh.has(u.updateId));
    if (stamped.length > 0) await stamp(tx, stamped, { revisionChanged: diff.revisedUpdateIds });
    await reconcileScan(tx, deviceId, scan.updates);
    await tx.query(
      `INSERT INTO device_scans (device_id, digest, last_scanned_at, last_changed_at, reboot_pending, free_disk_bytes, updates_reported)
       VALUES ($1::uuid, $2::text, $3::timestamptz, $3::timestamptz, $4::bool, $5::bigint, $6::int)
       ON CONFLICT (device_id) DO UPDATE SET digest = EXCLUDED.digest, last_scanned_at = EXCLUDED.last_scanned_at,
         last_changed_at = EXCLUDED.last_changed_at, reboot_pending = EXCLUDED.reboot_pending,
         free_disk_bytes = EXCLUDED.free_disk_bytes, updates_reported = EXCLUDED.updates_reported`,
      [deviceId, digest, scan.scannedAt, scan.rebootPending, scan.freeDiskBytes, scan.updates.length],
    );
    const kbOf = new Map(scan.updates.map((u) => [u.updateId, u.kb]));
    return {
      ...summary,
      changed: true,
      newKbs: diff.newUpdateIds.map((id) => kbOf.get(id)!),
      revisedKbs: diff.revisedUpdateIds.map((id) => kbOf.get(id)!),
    };
  });
}

export interface DeviceScanRow {
  deviceId: string;
  lastScannedAt: string;
  lastChangedAt: string;
  rebootPending: boolean;
  freeDiskBytes: number | null;
  updatesReported: number;
}

export async function findDeviceScan(db: Queryable, deviceId: string): Promise<DeviceScanRow | undefined> {
  const { rows } = await db.query('SELECT * FROM device_scans WHERE device_id = $1::uuid', [deviceId]);
  const r = rows[0];
  return r ? {
    deviceId: r.device_id, lastScannedAt: r.last_scanned_at.toISOString(), lastChangedAt: r.last_changed_at.toISOString(),
    rebootPending: r.reboot_pending, freeDiskBytes: r.free_disk_bytes === null ? null : Number(r.free_disk_bytes), updatesReported: r.updates_reported,
  } : undefined;
}
