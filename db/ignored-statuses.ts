import { Decision } from '../domain/approval-model';
import { explainDecision } from '../domain/approval-resolver';
import { PatchStatus } from '../domain/patch-status';
import { loadApprovalModel, loadDeviceStates } from './approval-model-loader';
import type { Queryable } from './database';

/**
 * Brings device statuses in line with the Ignore actions (N-able: device → site → client → device
 * type): a Missing or Failed patch that the resolver now ignores becomes Ignored, and an Ignored one it
 * no longer ignores becomes Missing again (the next scan says whether it still is). Without this the
 * resolver said "ignored" while the device's list said "missing", and `?status=ignored` found nothing.
 * Pending, Installing and Reboot Required rows belong to an install and are left to it; Installed
 * rows stay Installed (an Ignore does not remove anything).
 * Runs inside the caller's transaction, for these updates, on these devices (all, when omitted).
 */
export async function syncIgnoredStatuses(
  db: Queryable,
  scope: { updateIds: string[]; deviceIds?: string[] },
): Promise<{ ignored: number; restored: number }> {
  if (scope.updateIds.length === 0) return { ignored: 0, restored: 0 };
  // Most scans meet no Ignore at all: only load the resolver's model when one could matter.
  const relevant = await db.query(
    `SELECT EXISTS (SELECT 1 FROM patch_actions WHERE action = 'ignore' AND update_id = ANY($1::text[]))
         OR EXISTS (SELECT 1 FROM device_patches WHERE status = 'ignored' AND update_id = ANY($1::text[])
                    AND ($2::uuid[] IS NULL OR device_id = ANY($2::uuid[]))) AS any`,
    [scope.updateIds, scope.deviceIds ?? null],
  );
  if (!relevant.rows[0].any) return { ignored: 0, restored: 0 };
  const { rows } = await db.query(
    `SELECT device_id, update_id, status FROM device_patches
     WHERE update_id = ANY($1::text[]) AND ($2::uuid[] IS NULL OR device_id = ANY($2::uuid[]))
       AND status IN ('missing', 'failed', 'ignored')`,
    [scope.updateIds, scope.deviceIds ?? null],
  );
  if (rows.length === 0) return { ignored: 0, restored: 0 };
  const deviceIds = [...new Set(rows.map((r) => r.device_id as string))];
  const model = await loadApprovalModel(db, { deviceIds });
  const states = await loadDeviceStates(db, deviceIds);
  const changes: { deviceId: string; updateId: string; status: PatchStatus }[] = [];
  for (const r of rows) {
    const ignored = explainDecision(model, r.device_id, r.update_id, states).decision === Decision.Ignored;
    if (ignored && r.status !== PatchStatus.Ignored) changes.push({ deviceId: r.device_id, updateId: r.update_id, status: PatchStatus.Ignored });
    if (!ignored && r.status === PatchStatus.Ignored) changes.push({ deviceId: r.device_id, updateId: r.update_id, status: PatchStatus.Missing });
  }
  if (changes.length > 0) {
    await db.query(
      `UPDATE device_patches dp SET status = c.status, status_changed_at = now()
       FROM unnest($1::uuid[], $2::text[], $3::text[]) AS c(device_id, update_id, status)
       WHERE dp.device_id = c.device_id AND dp.update_id = c.update_id`,
      [changes.map((c) => c.deviceId), changes.map((c) => c.updateId), changes.map((c) => c.status)],
    );
  }
  const ignored = changes.filter((c) => c.status === PatchStatus.Ignored).length;
  return { ignored, restored: changes.length - ignored };
}

/**
 * The KBs among `kbs` that an Ignore keeps off this device, each with the resolver's reason ("Ignored
 * at site 'HQ'"). An explicit install overrides approval but never an Ignore, so it is refused up
 * front rather than accepted and then left out.
 */
export async function ignoredKbs(db: Queryable, deviceId: string, kbs: string[]): Promise<{ kb: string; reason: string }[]> {
  const wanted = [...new Set(kbs.map((k) => k.trim().toUpperCase()))];
  const { rows } = await db.query(
    `SELECT p.update_id, p.kb FROM device_patches dp JOIN patches p ON p.update_id = dp.update_id
     WHERE dp.device_id = $1::uuid AND upper(p.kb) = ANY($2::text[]) AND dp.status <> 'installed'`,
    [deviceId, wanted],
  );
  if (rows.length === 0) return [];
  const model = await loadApprovalModel(db, { deviceIds: [deviceId] });
  const states = await loadDeviceStates(db, [deviceId]);
  return rows.flatMap((r) => {
    const d = explainDecision(model, deviceId, r.update_id, states);
    return d.decision === Decision.Ignored ? [{ kb: r.kb as string, reason: d.reason }] : [];
  });
}
