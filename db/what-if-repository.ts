import type { DevicePatchState } from '../domain/approval-model';
import type { MissingPatch } from '../domain/what-if';
import { NOT_INSTALLED_STATUSES } from '../domain/what-if';
import type { Queryable } from './database';

/**
 * Each device's patches as its last scan left them, for a whole set of devices in one query: those
 * not yet installed (what the next pre-scan reports missing; `catalog` adds the KB and supersedence),
 * and, for the update ids in `installedOf` only (those an Uninstall action names), the installed ones.
 * Installed rows are most of a fleet's and matter to nothing else here, so they are not read.
 * Rows come back as arrays, not objects: at 10,000 devices there are hundreds of thousands.
 */
export async function loadDevicePatches(
  db: Queryable, deviceIds: string[], catalog: ReadonlyMap<string, { kb: string; supersededBy: string | null }>, installedOf: string[],
): Promise<{ states: Map<string, Map<string, DevicePatchState>>; missing: Map<string, MissingPatch[]> }> {
  const { rows } = await db.query({
    text: `SELECT device_id::text, update_id, status, failed_attempts FROM device_patches
           WHERE device_id = ANY($1::uuid[])
             AND (status = ANY($2::text[]) OR (status = 'installed' AND update_id = ANY($3::text[])))`,
    values: [deviceIds, [...NOT_INSTALLED_STATUSES], installedOf],
    rowMode: 'array',
  });
  const states = new Map<string, Map<string, DevicePatchState>>(deviceIds.map((id) => [id, new Map()]));
  const missing = new Map<string, MissingPatch[]>(deviceIds.map((id) => [id, []]));
  for (const [deviceId, updateId, status, failedAttempts] of rows as [string, string, string, number][]) {
    states.get(deviceId)?.set(updateId, { status, failedAttempts: Number(failedAttempts) });
    const patch = catalog.get(updateId);
    if (status !== 'installed' && patch) missing.get(deviceId)?.push({ updateId, kb: patch.kb, supersededBy: patch.supersededBy });
  }
  return { states, missing };
}
