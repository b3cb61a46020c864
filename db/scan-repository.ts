import { syncIgnoredStatuses } from './ignored-statuses';
import { createHash } from 'node:crypto';
import type { ScanResult, ScannedUpdate, UnverifiedUpdate } from '../domain/device-protocol';
import { scanFingerprint } from '../domain/scan-digest';
import { withTransaction, type Db, type Queryable } from './database';
import { knownRevisions, reconcileScan } from './patch-repository';

/** Stamps newly discovered (or revised) patches with each approval policy's default status. */
export type StampNewPatches = (
  db: Queryable,
  patches: Pick<ScannedUpdate, 'updateId' | 'classification' | 'severity' | 'product'>[],
  options: { revisionChanged?: string[] },
) => Promise<unknown>;

export interface ScanSummary {
  /** false: same results as the device's last scan; only its timestamp was written */
  changed: boolean;
  updatesReported: number;
  missing: number;
  installed: number;
  /** KBs this device reports for the first time (the catalog itself changes only through a catalog feed) */
  newKbs: string[];
  /**
   * Always empty since the catalog feed: a revision is the catalog's (catalogSyncWorkflow), not a device's.
   * Kept so that readers of older scan results keep working.
   */
  revisedKbs: string[];
  /** reported updates the catalog does not confirm: recorded for the device, never installed */
  unverified: number;
  /** their KBs as the device named them (display only), or their update ids */
  unverifiedKbs: string[];
  rebootPending: boolean;
}

const digestOf = (updates: readonly ScannedUpdate[], unverified: readonly UnverifiedUpdate[]) =>
  createHash('sha256')
    .update(scanFingerprint([...updates, ...unverified.map((u) => ({ ...u, updateId: `unverified:${u.updateId}` }))]))
    .digest('hex');

/**
 * Processes a device's scan, only when it differs from the last one (compared by digest): reconciles the
 * device's statuses for the updates the catalog confirms and records the unverified ones for the device.
 * It never writes the catalog: a device says which updates apply to it, nothing else. An update that is
 * not in the catalog at the reported revision is unverified here too, whoever built the result.
 * `installVerification`: the scan is an install's post-scan (it does not decide an update loop).
 */
export async function processScan(db: Db, deviceId: string, scan: ScanResult, options: { installVerification?: boolean } = {}): Promise<ScanSummary> {
  return withTransaction(db, async (tx) => {
    const known = await knownRevisions(tx, scan.updates.map((u) => u.updateId));
    const updates = scan.updates.filter((u) => known.get(u.updateId) === u.revision);
    const unverified: UnverifiedUpdate[] = [
      ...(scan.unverified ?? []),
      ...scan.updates.filter((u) => known.get(u.updateId) !== u.revision).map((u) => ({
        updateId: u.updateId, revision: u.revision, installed: u.installed, kbHint: u.kb, titleHint: u.title,
        catalogRevision: known.get(u.updateId) ?? null,
        reason: known.has(u.updateId) ? `unverified: at revision ${u.revision}, the catalog has ${known.get(u.updateId)}` : 'unverified: not in the catalog',
      })),
    ];
    const digest = digestOf(updates, unverified);
    const summary: ScanSummary = {
      changed: false,
      updatesReported: updates.length + unverified.length,
      missing: updates.filter((u) => !u.installed).length,
      installed: updates.filter((u) => u.installed).length,
      newKbs: [],
      revisedKbs: [],
      unverified: unverified.length,
      unverifiedKbs: unverified.map((u) => u.kbHint ?? u.updateId),
      rebootPending: scan.rebootPending,
    };
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
    const before = await tx.query('SELECT update_id FROM device_patches WHERE device_id = $1::uuid AND update_id = ANY($2::text[])', [deviceId, updates.map((u) => u.updateId)]);
    const seen = new Set(before.rows.map((r) => r.update_id as string));
    // An install's own post-scan does not decide an update loop: the next scan does (the patch may
    // look installed until the restart or the servicing stack undoes it).
    await reconcileScan(tx, deviceId, updates, unverified.map((u) => u.updateId), { watchLoops: !options.installVerification });
    // A patch first reported after an Ignore was set is Ignored from the start, not Missing.
    await syncIgnoredStatuses(tx, { deviceIds: [deviceId], updateIds: updates.map((u) => u.updateId) });
    await replaceUnverified(tx, deviceId, unverified);
    await tx.query(
      `INSERT INTO device_scans (device_id, digest, last_scanned_at, last_changed_at, reboot_pending, free_disk_bytes, updates_reported, unverified)
       VALUES ($1::uuid, $2::text, $3::timestamptz, $3::timestamptz, $4::bool, $5::bigint, $6::int, $7::int)
       ON CONFLICT (device_id) DO UPDATE SET digest = EXCLUDED.digest, last_scanned_at = EXCLUDED.last_scanned_at,
         last_changed_at = EXCLUDED.last_changed_at, reboot_pending = EXCLUDED.reboot_pending,
         free_disk_bytes = EXCLUDED.free_disk_bytes, updates_reported = EXCLUDED.updates_reported, unverified = EXCLUDED.unverified`,
      [deviceId, digest, scan.scannedAt, scan.rebootPending, scan.freeDiskBytes, summary.updatesReported, unverified.length],
    );
    return { ...summary, changed: true, newKbs: updates.filter((u) => !seen.has(u.updateId)).map((u) => u.kb) };
  });
}

/** The device's unverified updates become exactly these (one statement each way). */
async function replaceUnverified(db: Queryable, deviceId: string, unverified: readonly UnverifiedUpdate[]): Promise<void> {
  await db.query('DELETE FROM device_unverified_updates WHERE device_id = $1::uuid AND NOT (update_id = ANY($2::text[]))', [deviceId, unverified.map((u) => u.updateId)]);
  if (unverified.length === 0) return;
  await db.query(
    `INSERT INTO device_unverified_updates AS d (device_id, update_id, revision, installed, kb_hint, title_hint, catalog_revision, reason)
     SELECT $1::uuid, u.* FROM unnest($2::text[], $3::int[], $4::bool[], $5::text[], $6::text[], $7::int[], $8::text[])
       AS u(update_id, revision, installed, kb_hint, title_hint, catalog_revision, reason)
     ON CONFLICT (device_id, update_id) DO UPDATE SET revision = EXCLUDED.revision, installed = EXCLUDED.installed,
       kb_hint = EXCLUDED.kb_hint, title_hint = EXCLUDED.title_hint, catalog_revision = EXCLUDED.catalog_revision,
       reason = EXCLUDED.reason, last_reported_at = now()`,
    [
      deviceId, unverified.map((u) => u.updateId), unverified.map((u) => u.revision), unverified.map((u) => u.installed),
      unverified.map((u) => u.kbHint?.slice(0, 100) ?? null), unverified.map((u) => u.titleHint?.slice(0, 500) ?? null),
      unverified.map((u) => u.catalogRevision), unverified.map((u) => u.reason),
    ],
  );
}

export interface UnverifiedRow extends UnverifiedUpdate {
  firstReportedAt: string;
  lastReportedAt: string;
}

/** A device's unverified updates, as its last processed scan left them. */
export async function listUnverified(db: Queryable, deviceId: string): Promise<UnverifiedRow[]> {
  const { rows } = await db.query('SELECT * FROM device_unverified_updates WHERE device_id = $1::uuid ORDER BY kb_hint, update_id', [deviceId]);
  return rows.map((r) => ({
    updateId: r.update_id, revision: r.revision, installed: r.installed, kbHint: r.kb_hint, titleHint: r.title_hint,
    catalogRevision: r.catalog_revision, reason: r.reason,
    firstReportedAt: r.first_reported_at.toISOString(), lastReportedAt: r.last_reported_at.toISOString(),
  }));
}

export interface DeviceScanRow {
  deviceId: string;
  lastScannedAt: string;
  lastChangedAt: string;
  rebootPending: boolean;
  freeDiskBytes: number | null;
  updatesReported: number;
  /** of those, how many the catalog does not confirm */
  unverified: number;
}

export async function findDeviceScan(db: Queryable, deviceId: string): Promise<DeviceScanRow | undefined> {
  const { rows } = await db.query('SELECT * FROM device_scans WHERE device_id = $1::uuid', [deviceId]);
  const r = rows[0];
  return r ? {
    deviceId: r.device_id, lastScannedAt: r.last_scanned_at.toISOString(), lastChangedAt: r.last_changed_at.toISOString(),
    rebootPending: r.reboot_pending, freeDiskBytes: r.free_disk_bytes === null ? null : Number(r.free_disk_bytes), updatesReported: r.updates_reported, unverified: r.unverified,
  } : undefined;
}

/**
 * Of these KBs, those the device reports only as unverified (no catalog-confirmed update of that KB on
 * the device), with the reason: an explicit install of them is refused, naming why.
 */
export async function unverifiedOnlyKbs(db: Queryable, deviceId: string, kbs: string[]): Promise<{ kb: string; reason: string }[]> {
  const { rows } = await db.query(
    `SELECT DISTINCT ON (k.kb) k.kb, u.reason
     FROM unnest($2::text[]) AS k(kb)
     JOIN device_unverified_updates u ON u.device_id = $1::uuid AND upper(u.kb_hint) = k.kb
     WHERE NOT EXISTS (
       SELECT 1 FROM device_patches dp JOIN patches p ON p.update_id = dp.update_id
       WHERE dp.device_id = $1::uuid AND p.kb = k.kb AND p.sha256 IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM device_unverified_updates x WHERE x.device_id = $1::uuid AND x.update_id = dp.update_id))
     ORDER BY k.kb, u.update_id`,
    [deviceId, kbs.map((k) => k.toUpperCase())],
  );
  return rows.map((r) => ({ kb: r.kb, reason: r.reason }));
}
