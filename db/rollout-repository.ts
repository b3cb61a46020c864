import type { RolloutCounts, RolloutDevice, RolloutScope } from '../workflows/automatic-update.contract';
import { withTransaction, type Db, type Queryable } from './database';
import { assignRings, findReleasePlan } from './release-repository';
import { DEVICE_IN_SCOPE } from './scope-sql';

/**
 * Registers a rollout; false when this schedule already ran in this local slot (date and time of day):
 * Temporal Schedules follow wall-clock time, so the hour repeated when clocks go back would otherwise
 * fire twice. Operators expect one run per local date and time. A retry by the same workflow finds
 * its own row and is told true again (the slot is its own, not a duplicate's).
 */
export async function beginRollout(
  db: Queryable,
  r: { workflowId: string; scheduleId: string; kind: string; localSlot: string; scheduledAt: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO rollouts (workflow_id, schedule_id, kind, local_date, scheduled_at)
     SELECT $1::text, s.id, $3::text, $4::text, $5::timestamptz FROM update_schedules s WHERE s.id = $2::uuid
     UNION ALL SELECT $1::text, NULL, $3::text, $4::text, $5::timestamptz WHERE NOT EXISTS (SELECT 1 FROM update_schedules WHERE id = $2::uuid)
     ON CONFLICT DO NOTHING`,
    [r.workflowId, r.scheduleId, r.kind, r.localSlot, r.scheduledAt],
  );
  if ((rowCount ?? 0) === 1) return true;
  const { rows } = await db.query('SELECT 1 FROM rollouts WHERE workflow_id = $1::text AND local_date = $2::text', [r.workflowId, r.localSlot]);
  return rows.length === 1;
}

export async function finishRollout(db: Queryable, workflowId: string, counts: RolloutCounts): Promise<void> {
  // A retry keeps the first finish time: the counts are absolute, so writing them again changes nothing.
  await db.query('UPDATE rollouts SET finished_at = COALESCE(finished_at, now()), counts = $2::jsonb WHERE workflow_id = $1::text', [workflowId, JSON.stringify(counts)]);
}

/**
 * Stores a rollout's resolved devices, in order, unless it has a list already: a retried listing keeps
 * the first one (the devices resolved then), so every page the rollout reads comes from one list.
 * Returns how many devices the stored list holds.
 */
export async function storeRolloutDeviceList(db: Db, workflowId: string, resolve: () => Promise<RolloutDevice[]>): Promise<number> {
  const existing = await countRolloutDevices(db, workflowId);
  if (existing !== undefined) return existing;
  const devices = await resolve();
  return withTransaction(db, async (tx) => {
    // Two attempts racing: the one that locks second finds the other's list.
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1::text))', [`rollout-devices:${workflowId}`]);
    const raced = await countRolloutDevices(tx, workflowId);
    if (raced !== undefined) return raced;
    await tx.query(
      `INSERT INTO rollout_device_lists (workflow_id, ordinal, device)
       SELECT $1::text, d.ordinal - 1, d.device FROM unnest($2::jsonb[]) WITH ORDINALITY AS d(device, ordinal)`,
      [workflowId, devices.map((d) => JSON.stringify(d))],
    );
    // An empty list is a list too: one marker row (ordinal -1) says so.
    if (devices.length === 0) await tx.query(`INSERT INTO rollout_device_lists (workflow_id, ordinal, device) VALUES ($1::text, -1, 'null'::jsonb)`, [workflowId]);
    return devices.length;
  });
}

async function countRolloutDevices(db: Queryable, workflowId: string): Promise<number | undefined> {
  const { rows } = await db.query(
    'SELECT count(*) FILTER (WHERE ordinal >= 0)::int AS devices, count(*)::int AS rows FROM rollout_device_lists WHERE workflow_id = $1::text',
    [workflowId],
  );
  return rows[0].rows > 0 ? rows[0].devices : undefined;
}

/** Devices `offset` to `offset + limit` (exclusive) of a rollout's stored list. */
export async function rolloutDevicePage(db: Queryable, workflowId: string, offset: number, limit: number): Promise<RolloutDevice[]> {
  const { rows } = await db.query(
    `SELECT device FROM rollout_device_lists WHERE workflow_id = $1::text AND ordinal >= $2::int ORDER BY ordinal LIMIT $3::int`,
    [workflowId, offset, limit],
  );
  return rows.map((r) => r.device as RolloutDevice);
}

/** A finished rollout's list is not needed any more. */
export async function dropRolloutDeviceList(db: Queryable, workflowId: string): Promise<void> {
  await db.query('DELETE FROM rollout_device_lists WHERE workflow_id = $1::text', [workflowId]);
}

export interface RolloutRow {
  workflowId: string;
  scheduleId: string | null;
  kind: string;
  localSlot: string | null;
  scheduledAt: string | null;
  startedAt: string;
  finishedAt: string | null;
  counts: RolloutCounts | Record<string, never>;
  /** devices an Automatic Update left out because their latest Patch Test failed, with the reason */
  blockedDevices?: { deviceId: string; deviceName: string; reason: string }[];
}

export async function listRollouts(db: Queryable, scheduleId?: string, limit = 50): Promise<RolloutRow[]> {
  const { rows } = await db.query(
    `SELECT * FROM rollouts WHERE ($1::uuid IS NULL OR schedule_id = $1::uuid) ORDER BY started_at DESC LIMIT $2::int`,
    [scheduleId ?? null, limit],
  );
  return rows.map((r) => ({
    workflowId: r.workflow_id, scheduleId: r.schedule_id, kind: r.kind, localSlot: r.local_date,
    scheduledAt: r.scheduled_at?.toISOString() ?? null, startedAt: r.started_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null, counts: r.counts, blockedDevices: r.blocked_devices ?? [],
  }));
}

/** The devices a schedule covers right now (resolved at run time, so new devices are included), with their OS. */
export async function resolveScopeDevices(db: Queryable, scope: RolloutScope): Promise<(RolloutDevice & { os: string | null })[]> {
  const { rows } = await db.query(
    `SELECT d.id, d.name, d.os, d.device_type, s.client_id, c.name AS client_name, d.site_id, s.name AS site_name, d.working_folder, d.install_folder,
            d.last_check_in_at
     FROM devices d JOIN sites s ON s.id = d.site_id JOIN clients c ON c.id = s.client_id
     WHERE d.credential_hash IS NOT NULL AND ${DEVICE_IN_SCOPE}
     ORDER BY d.id`,
    [scope.scopeType, scope.scopeId],
  );
  let selected = rows;
  if (scope.ring) {
    // A release's ring: the scope's devices whose first matching ring of the plan is this one.
    const { ring } = scope;
    const plan = await findReleasePlan(db, ring.planId);
    if (!plan) throw new Error(`release plan ${ring.planId} not found`);
    const rings = assignRings(plan, rows.map((r) => ({ id: r.id as string, siteId: r.site_id as string, deviceType: r.device_type as string })));
    const only = ring.deviceIds ? new Set(ring.deviceIds) : undefined;
    selected = rows.filter((r) => rings.get(r.id) === ring.index && (!only || only.has(r.id)));
  }
  return selected.map((r) => ({
    deviceId: r.id, deviceName: r.name, clientId: r.client_id, clientName: r.client_name,
    siteId: r.site_id, siteName: r.site_name, workingFolder: r.working_folder, installFolder: r.install_folder, os: r.os,
    ...(r.last_check_in_at ? { lastSeenAt: (r.last_check_in_at as Date).toISOString() } : {}),
  }));
}

/**
 * Remembers that a device missed this schedule's run, until its next check-in takes the row. An
 * existing row stays as it is (its first miss is the one to catch up on), so a retry writes nothing.
 */
export async function recordMissedRun(db: Queryable, deviceId: string, scheduleId: string): Promise<void> {
  await db.query(
    `INSERT INTO missed_runs (device_id, schedule_id) SELECT $1::uuid, id FROM update_schedules WHERE id = $2::uuid
     ON CONFLICT (device_id, schedule_id) DO NOTHING`,
    [deviceId, scheduleId],
  );
}

/**
 * Takes (deletes and returns) the schedules whose runs a device missed, on its check-in. One DELETE,
 * so of two gateway replicas seeing the same check-in only one gets each row.
 */
export async function takeMissedRuns(db: Queryable, deviceId: string): Promise<string[]> {
  const { rows } = await db.query('DELETE FROM missed_runs WHERE device_id = $1::uuid RETURNING schedule_id', [deviceId]);
  return rows.map((r) => r.schedule_id as string);
}
