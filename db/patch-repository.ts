import type { PatchFile, ScannedUpdate } from '../domain/device-protocol';
import type { PatchStatus } from '../domain/patch-status';
import { observeScan, SERVER_LOOP_WORDING, updateLoopProblem, type UpdateLoopState } from '../domain/wua-update-loop';
import type { Queryable } from './database';

/** The catalog's revision of each of these updates (absent: never seen). */
export async function knownRevisions(db: Queryable, updateIds: string[]): Promise<Map<string, number>> {
  const { rows } = await db.query('SELECT update_id, revision FROM patches WHERE update_id = ANY($1::text[])', [updateIds]);
  return new Map(rows.map((r) => [r.update_id as string, Number(r.revision)]));
}

/**
 * Reconciles a device's statuses with a scan, in one statement:
 * - reported missing: a new row is Missing; an Installed row becomes Missing again (removed, or
 *   superseded locally); Pending / Installing / Failed / Ignored / Reboot Required rows keep their
 *   status, because an install or an operator owns them.
 * - reported installed: becomes Installed; the install date stays as it was (set only by Patchflow).
 * `updates` are the catalog-confirmed ones; `unverified` are update ids the device reported that the
 * catalog does not confirm: they keep their rows as they are (an install never reaches them now).
 */
export async function reconcileScan(
  db: Queryable, deviceId: string, updates: ScannedUpdate[], unverified: string[] = [], options: { watchLoops?: boolean } = {},
): Promise<void> {
  // An empty scan (a device that reports nothing, e.g. WUA broken) changes no statuses.
  if (updates.length === 0 && unverified.length === 0) return;
  if (options.watchLoops ?? true) await watchUpdateLoops(db, deviceId, updates);
  if (updates.length > 0) await db.query(
    `INSERT INTO device_patches AS dp (device_id, update_id, status)
     SELECT $1::uuid, u.update_id, CASE WHEN u.installed THEN 'installed' ELSE 'missing' END
     FROM unnest($2::text[], $3::bool[]) AS u(update_id, installed)
     ON CONFLICT (device_id, update_id) DO UPDATE SET
       status = CASE
         WHEN EXCLUDED.status = 'installed' THEN 'installed'
         WHEN dp.status IN ('installed', 'superseded') THEN 'missing'
         ELSE dp.status END,
       status_changed_at = CASE
         WHEN dp.status IS DISTINCT FROM (CASE WHEN EXCLUDED.status = 'installed' THEN 'installed'
                                              WHEN dp.status IN ('installed', 'superseded') THEN 'missing' ELSE dp.status END)
         THEN now() ELSE dp.status_changed_at END`,
    [deviceId, updates.map((u) => u.updateId), updates.map((u) => u.installed)],
  );
  // Gone from the list after an install: Windows no longer offers it because it is in place.
  await db.query(
    `UPDATE device_patches SET status = 'installed', status_changed_at = now()
     WHERE device_id = $1::uuid AND status IN ('reboot_required', 'installing')
       AND NOT (update_id = ANY($2::text[]))`,
    [deviceId, [...updates.map((u) => u.updateId), ...unverified]],
  );
  // Gone from the list because its successor is installed (an install skipped it as superseded and
  // installed the newer one, or Windows did): it needs nothing more, so it leaves the missing count.
  await db.query(
    `UPDATE device_patches dp SET status = 'superseded', status_changed_at = now()
     FROM patches p
     WHERE dp.device_id = $1::uuid AND dp.update_id = p.update_id AND dp.status IN ('missing', 'failed')
       AND NOT (dp.update_id = ANY($2::text[])) AND p.superseded_by IS NOT NULL
       AND EXISTS (SELECT 1 FROM device_patches s JOIN patches sp ON sp.update_id = s.update_id
                   WHERE s.device_id = dp.device_id AND s.status IN ('installed', 'reboot_required')
                     AND (upper(sp.kb) = upper(p.superseded_by) OR sp.update_id = p.superseded_by))`,
    [deviceId, [...updates.map((u) => u.updateId), ...unverified]],
  );
}

/**
 * Update loops, for every executor (domain/wua-update-loop.ts): a success an install reported waits for
 * the next scan, which confirms it (reported installed) or counts a comeback (reported missing, and not
 * waiting for a restart: its row is Installed, not Reboot Required). At the second comeback the patch
 * is Failed "update loop detected"; the reconcile that follows keeps a Failed row Failed. Run before
 * the reconcile, in its transaction, on the rows as the install left them.
 */
async function watchUpdateLoops(db: Queryable, deviceId: string, updates: ScannedUpdate[]): Promise<void> {
  const { rows } = await db.query(
    `SELECT dp.update_id, p.kb, dp.status, dp.loop_successes, dp.loop_comebacks FROM device_patches dp
     JOIN patches p ON p.update_id = dp.update_id
     WHERE dp.device_id = $1::uuid AND dp.loop_awaiting_scan AND dp.update_id = ANY($2::text[])`,
    [deviceId, updates.map((u) => u.updateId)],
  );
  if (rows.length === 0) return;
  const before: UpdateLoopState = Object.fromEntries(rows.map((r) => [r.update_id.toLowerCase(),
    { successes: r.loop_successes, comebacks: r.loop_comebacks, awaitingScan: true }]));
  const waitingForRestart = new Set(rows.filter((r) => r.status === 'reboot_required').map((r) => r.update_id.toLowerCase()));
  const after = observeScan(before, updates.map((u) => ({ updateId: u.updateId, installed: u.installed, rebootRequired: waitingForRestart.has(u.updateId.toLowerCase()) })));
  for (const r of rows) {
    const next = after[r.update_id.toLowerCase()]!;
    if (next.awaitingScan) continue;
    const problem = updateLoopProblem(after, r.update_id, r.kb, SERVER_LOOP_WORDING);
    await db.query(
      `UPDATE device_patches SET loop_awaiting_scan = false, loop_comebacks = $3::int,
         status = CASE WHEN $4::text IS NULL THEN status ELSE 'failed' END,
         status_changed_at = CASE WHEN $4::text IS NULL OR status = 'failed' THEN status_changed_at ELSE now() END,
         last_error = COALESCE($4::text, last_error)
       WHERE device_id = $1::uuid AND update_id = $2::text`,
      [deviceId, r.update_id, next.comebacks, problem ?? null],
    );
  }
}

/** One status change of one patch on one device, written by an install as it happens. */
export interface PatchStateChange {
  updateId: string;
  status: PatchStatus;
  /** set when Patchflow installed the patch */
  installedAt?: string;
  exitCode?: number;
  error?: string;
  /** add one to the failed attempts */
  countFailure?: boolean;
  /** Failed because the install rolled it back after a failed health check (sets rolled_back_at) */
  rolledBack?: boolean;
}

/** One install's status changes, as one writer (activity attempt) wrote them. */
export interface PatchStatesWrite {
  deviceId: string;
  /** the install's workflow id (`last_operation_id`) */
  operationId: string;
  changes: PatchStateChange[];
  /** the writing activity's workflow run and activity id: the same on every retry */
  changeKey: string;
}

/**
 * Writes a batch of status changes in one statement. Exact under retry: statuses, codes and dates are
 * absolute values, and a failure is counted only when `changeKey` (the writing activity's workflow
 * run and activity id, the same on every retry) did not already count it for that patch.
 */
export async function applyPatchStates(
  db: Queryable,
  deviceId: string,
  operationId: string,
  changes: PatchStateChange[],
  changeKey: string,
): Promise<void> {
  await applyPatchStateWrites(db, [{ deviceId, operationId, changes, changeKey }]);
}

/**
 * Many installs' status changes in one multi-row statement, with the same rules as `applyPatchStates`
 * (db/patch-state-writer.ts gathers concurrent installs' writes into it). A (device, update) pair may
 * appear only once: ON CONFLICT cannot update one row twice in a statement, so the caller splits.
 * Rows go in key order, so two such statements never lock the same rows in opposite orders.
 */
export async function applyPatchStateWrites(db: Queryable, writes: PatchStatesWrite[]): Promise<void> {
  const rows = writes.flatMap((w) => w.changes.map((c) => ({ w, c })))
    .sort((a, b) => a.w.deviceId.localeCompare(b.w.deviceId) || a.c.updateId.localeCompare(b.c.updateId));
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO device_patches AS dp (device_id, update_id, status, installed_at, last_exit_code, last_error,
                                       failed_attempts, last_operation_id, failure_counted_by, rolled_back_at)
     SELECT c.device_id, c.update_id, c.status, c.installed_at, c.exit_code, c.error,
            CASE WHEN c.count_failure THEN 1 ELSE 0 END, c.operation_id,
            CASE WHEN c.count_failure THEN c.change_key END,
            CASE WHEN c.rolled_back THEN now() END
     FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::text[], $7::bool[], $8::bool[], $9::text[], $10::text[])
          AS c(device_id, update_id, status, installed_at, exit_code, error, count_failure, rolled_back, operation_id, change_key)
     ON CONFLICT (device_id, update_id) DO UPDATE SET
       status = EXCLUDED.status,
       status_changed_at = CASE WHEN dp.status = EXCLUDED.status THEN dp.status_changed_at ELSE now() END,
       installed_at = COALESCE(EXCLUDED.installed_at, dp.installed_at),
       last_exit_code = COALESCE(EXCLUDED.last_exit_code, dp.last_exit_code),
       last_error = CASE WHEN EXCLUDED.status IN ('installed', 'reboot_required') THEN NULL
                         ELSE COALESCE(EXCLUDED.last_error, dp.last_error) END,
       failed_attempts = dp.failed_attempts
         + CASE WHEN EXCLUDED.failure_counted_by IS NOT NULL
                 AND dp.failure_counted_by IS DISTINCT FROM EXCLUDED.failure_counted_by THEN 1 ELSE 0 END,
       failure_counted_by = COALESCE(EXCLUDED.failure_counted_by, dp.failure_counted_by),
       last_operation_id = EXCLUDED.last_operation_id,
       -- An install's success (Installing → Installed / Reboot Required) arms the update-loop watch, once
       -- however often the write is retried (the row is no longer Installing then). Any other outcome
       -- an install writes (failed, rolled back, removed) disarms it.
       loop_successes = dp.loop_successes
         + CASE WHEN dp.status = 'installing' AND EXCLUDED.status IN ('installed', 'reboot_required') THEN 1 ELSE 0 END,
       loop_awaiting_scan = CASE WHEN EXCLUDED.status IN ('installed', 'reboot_required')
                                 THEN dp.loop_awaiting_scan OR dp.status = 'installing' ELSE false END,
       rolled_back_at = CASE WHEN EXCLUDED.status <> 'failed' THEN NULL
                             ELSE COALESCE(dp.rolled_back_at, EXCLUDED.rolled_back_at) END`,
    [
      rows.map((r) => r.w.deviceId),
      rows.map((r) => r.c.updateId),
      rows.map((r) => r.c.status),
      rows.map((r) => r.c.installedAt ?? null),
      rows.map((r) => r.c.exitCode ?? null),
      rows.map((r) => r.c.error ?? null),
      rows.map((r) => r.c.countFailure ?? false),
      rows.map((r) => r.c.rolledBack ?? false),
      rows.map((r) => r.w.operationId),
      rows.map((r) => r.w.changeKey),
    ],
  );
}

export interface DevicePatchRow {
  updateId: string;
  kb: string;
  title: string;
  product: string;
  classification: string;
  severity: string;
  status: PatchStatus;
  statusChangedAt: string;
  installedAt: string | null;
  lastExitCode: number | null;
  lastError: string | null;
  failedAttempts: number;
  lastOperationId: string | null;
  /** for a Superseded patch: its successor, which is installed */
  supersededBy?: string;
  /** when an install rolled it back after a failed health check (its lastError has the check's output) */
  rolledBackAt: string | null;
  /** times the next scan offered it again after an install reported success (2: update loop, Failed) */
  loopComebacks: number;
}

export async function listDevicePatches(
  db: Queryable,
  deviceId: string,
  filter: { status?: PatchStatus } = {},
): Promise<DevicePatchRow[]> {
  const { rows } = await db.query(
    `SELECT dp.update_id, p.kb, p.title, p.product, p.classification, p.severity, dp.status,
            dp.status_changed_at, dp.installed_at, dp.last_exit_code, dp.last_error, dp.failed_attempts,
            dp.last_operation_id, p.superseded_by, dp.rolled_back_at, dp.loop_comebacks
     FROM device_patches dp JOIN patches p ON p.update_id = dp.update_id
     WHERE dp.device_id = $1::uuid AND ($2::text IS NULL OR dp.status = $2::text)
     ORDER BY p.kb`,
    [deviceId, filter.status ?? null],
  );
  return rows.map((r) => ({
    updateId: r.update_id,
    kb: r.kb,
    title: r.title,
    product: r.product,
    classification: r.classification,
    severity: r.severity,
    status: r.status,
    statusChangedAt: r.status_changed_at.toISOString(),
    installedAt: r.installed_at ? r.installed_at.toISOString() : null,
    lastExitCode: r.last_exit_code === null ? null : Number(r.last_exit_code),
    lastError: r.last_error,
    failedAttempts: r.failed_attempts,
    lastOperationId: r.last_operation_id,
    ...(r.status === 'superseded' ? { supersededBy: r.superseded_by as string } : {}),
    rolledBackAt: r.rolled_back_at ? r.rolled_back_at.toISOString() : null,
    loopComebacks: r.loop_comebacks,
  }));
}

/** The catalog's file facts (hash, URL, size) for these updates, keyed by update id. */
export async function catalogFiles(db: Queryable, updateIds: string[]): Promise<Record<string, PatchFile>> {
  const { rows } = await db.query(
    // A row without file facts (imported, no feed yet) has nothing a device could fetch.
    `SELECT update_id, kb, file_name, download_url, size_bytes, sha256 FROM patches
     WHERE update_id = ANY($1::text[]) AND sha256 IS NOT NULL`,
    [updateIds],
  );
  return Object.fromEntries(rows.map((r) => [r.update_id, {
    updateId: r.update_id, kb: r.kb, fileName: r.file_name, downloadUrl: r.download_url,
    sizeBytes: Number(r.size_bytes), sha256: r.sha256,
  }]));
}
