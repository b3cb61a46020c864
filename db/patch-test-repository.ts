import type { PatchTestCheckResult } from '../domain/patch-test';
import { automaticUpdateBlock } from '../domain/patch-test-result';
import type { Queryable } from './database';

/** The latest Patch Test of a device, as GET /api/v1/devices/:id/patch-test shows it. */
export interface PatchTestRow {
  deviceId: string;
  workflowId: string;
  passed: boolean;
  checks: PatchTestCheckResult[];
  kbs: string[];
  requestedBy: string;
  testedAt: string;
  /** the reason Automatic Update skips the device, null when the test passed */
  automaticUpdateBlocked: string | null;
}

const toRow = (r: Record<string, any>): PatchTestRow => {
  const t = { passed: r.passed as boolean, checks: r.checks as PatchTestCheckResult[], testedAt: (r.tested_at as Date).toISOString() };
  return {
    deviceId: r.device_id, workflowId: r.workflow_id, ...t, kbs: r.kbs ?? [], requestedBy: r.requested_by,
    automaticUpdateBlocked: automaticUpdateBlock(t),
  };
};

/**
 * Stores a device's latest Patch Test. Exact under retry and out-of-order writes: a result replaces
 * the stored one only when it is not older, so a retried write of an earlier test never overwrites a
 * later one. Returns whether it was written.
 */
export async function savePatchTest(
  db: Queryable,
  t: { deviceId: string; workflowId: string; passed: boolean; checks: PatchTestCheckResult[]; kbs: string[]; requestedBy: string; testedAt: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO device_patch_tests (device_id, workflow_id, passed, checks, kbs, requested_by, tested_at)
     VALUES ($1::uuid, $2::text, $3::bool, $4::jsonb, $5::text[], $6::text, $7::timestamptz)
     ON CONFLICT (device_id) DO UPDATE SET workflow_id = EXCLUDED.workflow_id, passed = EXCLUDED.passed, checks = EXCLUDED.checks,
       kbs = EXCLUDED.kbs, requested_by = EXCLUDED.requested_by, tested_at = EXCLUDED.tested_at
     WHERE device_patch_tests.tested_at <= EXCLUDED.tested_at`,
    [t.deviceId, t.workflowId, t.passed, JSON.stringify(t.checks), t.kbs, t.requestedBy, t.testedAt],
  );
  return (rowCount ?? 0) === 1;
}

export async function findPatchTest(db: Queryable, deviceId: string): Promise<PatchTestRow | undefined> {
  const { rows } = await db.query('SELECT * FROM device_patch_tests WHERE device_id = $1::uuid', [deviceId]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** Of these devices, those whose latest Patch Test failed, with the reason Automatic Update skips them. */
export async function failedPatchTests(db: Queryable, deviceIds: readonly string[]): Promise<Map<string, string>> {
  if (deviceIds.length === 0) return new Map();
  const { rows } = await db.query('SELECT * FROM device_patch_tests WHERE device_id = ANY($1::uuid[]) AND NOT passed', [[...deviceIds]]);
  return new Map(rows.map((r) => [r.device_id as string, toRow(r).automaticUpdateBlocked!]));
}

/** The kind of a registered rollout ('scan', 'automatic_update'), or undefined when it has no row. */
export async function rolloutKind(db: Queryable, workflowId: string): Promise<string | undefined> {
  const { rows } = await db.query('SELECT kind FROM rollouts WHERE workflow_id = $1::text', [workflowId]);
  return rows[0]?.kind;
}

/** The devices a rollout left out because of a failed Patch Test (the same list on every retry). */
export async function recordRolloutBlocked(db: Queryable, workflowId: string, blocked: { deviceId: string; deviceName: string; reason: string }[]): Promise<void> {
  await db.query('UPDATE rollouts SET blocked_devices = $2::jsonb WHERE workflow_id = $1::text', [workflowId, JSON.stringify(blocked)]);
}
