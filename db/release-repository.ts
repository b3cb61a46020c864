import { createHash, randomUUID } from 'node:crypto';
import type { ReleasePlan, Ring, RingResults } from '../domain/release-plan';
import type { Queryable } from './database';

type PlanRow = { id: string; client_id: string; name: string; rings: Ring[]; created_at: Date; updated_at: Date };

export interface ReleasePlanRow extends ReleasePlan {
  createdAt: string;
  updatedAt: string;
}

const planOf = (r: PlanRow): ReleasePlanRow => ({
  id: r.id, clientId: r.client_id, name: r.name, rings: r.rings, createdAt: r.created_at.toISOString(), updatedAt: r.updated_at.toISOString(),
});

/** A new plan; null when the client already has a plan of that name. */
export async function insertReleasePlan(db: Queryable, p: Omit<ReleasePlan, 'id'>): Promise<ReleasePlanRow | null> {
  const { rows } = await db.query(
    `INSERT INTO release_plans (id, client_id, name, rings) VALUES ($1::uuid, $2::uuid, $3::text, $4::jsonb)
     ON CONFLICT (client_id, name) DO NOTHING RETURNING *`,
    [randomUUID(), p.clientId, p.name, JSON.stringify(p.rings)],
  );
  return rows[0] ? planOf(rows[0]) : null;
}

export async function findReleasePlan(db: Queryable, id: string): Promise<ReleasePlanRow | undefined> {
  const { rows } = await db.query('SELECT * FROM release_plans WHERE id = $1::uuid', [id]);
  return rows[0] ? planOf(rows[0]) : undefined;
}

export async function listReleasePlans(db: Queryable): Promise<ReleasePlanRow[]> {
  const { rows } = await db.query('SELECT * FROM release_plans ORDER BY name, id');
  return rows.map(planOf);
}

export async function deleteReleasePlan(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM release_plans WHERE id = $1::uuid', [id]);
  return (rowCount ?? 0) > 0;
}

/** Registers a release; false when this plan already has one for this cycle. */
export async function insertRelease(db: Queryable, r: { workflowId: string; planId: string; cycle: string; kbs: string[]; startedBy: string }): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO releases (workflow_id, plan_id, cycle, kbs, started_by) VALUES ($1::text, $2::uuid, $3::text, $4::text[], $5::text)
     ON CONFLICT DO NOTHING`,
    [r.workflowId, r.planId, r.cycle, r.kbs, r.startedBy],
  );
  return (rowCount ?? 0) === 1;
}

export async function deleteRelease(db: Queryable, workflowId: string): Promise<void> {
  await db.query('DELETE FROM releases WHERE workflow_id = $1::text', [workflowId]);
}

export async function listReleases(db: Queryable, planId?: string): Promise<{ workflowId: string; planId: string; cycle: string; kbs: string[]; startedBy: string; startedAt: string }[]> {
  const { rows } = await db.query(
    'SELECT * FROM releases WHERE ($1::uuid IS NULL OR plan_id = $1::uuid) ORDER BY started_at DESC LIMIT 100',
    [planId ?? null],
  );
  return rows.map((r) => ({ workflowId: r.workflow_id, planId: r.plan_id, cycle: r.cycle, kbs: r.kbs, startedBy: r.started_by, startedAt: r.started_at.toISOString() }));
}

/** A device's place in [0, 100): a stable hash of device id + plan id, so a "10%" ring is the same devices every cycle. */
export function samplePoint(deviceId: string, planId: string): number {
  return (createHash('sha256').update(`${deviceId}/${planId}`).digest().readUInt32BE(0) / 2 ** 32) * 100;
}

/** Whether a device matches a ring's scope (inside the plan's client). */
export function inRingScope(ring: Ring, d: { id: string; siteId: string; deviceType: string }, planId: string): boolean {
  switch (ring.scope.type) {
    case 'client': case 'rest': return true;
    case 'site': return d.siteId === ring.scope.siteId;
    case 'device_type': return d.deviceType === ring.scope.deviceType;
    case 'sample': return samplePoint(d.id, planId) < ring.scope.percent;
  }
}

/** Which ring each device of the plan's client belongs to: the first whose scope matches it (-1: none). */
export function assignRings(plan: Pick<ReleasePlan, 'id' | 'rings'>, devices: { id: string; siteId: string; deviceType: string }[]): Map<string, number> {
  return new Map(devices.map((d) => [d.id, plan.rings.findIndex((r) => inRingScope(r, d, plan.id))]));
}

const SUCCEEDED = new Set(['installed', 'reboot_required', 'superseded', 'ignored']);

/**
 * A ring's real results from its devices' patch states: a device failed when one of the KBs failed on
 * it, succeeded when every applicable one is installed (or needs only its reboot), and has no result
 * yet otherwise. A device none of the KBs applies to counts in neither.
 */
export async function ringResults(db: Queryable, deviceIds: string[], kbs: string[]): Promise<RingResults> {
  const { rows } = await db.query(
    `SELECT dp.device_id, upper(p.kb) AS kb, dp.status FROM device_patches dp JOIN patches p ON p.update_id = dp.update_id
     WHERE dp.device_id = ANY($1::uuid[]) AND upper(p.kb) = ANY($2::text[])`,
    [deviceIds, kbs.map((k) => k.toUpperCase())],
  );
  const byDevice = new Map<string, string[]>();
  const failedKbs = new Set<string>();
  for (const r of rows) {
    byDevice.set(r.device_id, [...(byDevice.get(r.device_id) ?? []), r.status]);
    if (r.status === 'failed') failedKbs.add(r.kb);
  }
  const result: RingResults = { devices: deviceIds.length, succeeded: 0, failed: 0, failedKbs: [...failedKbs].sort(), failedDeviceIds: [], pendingDeviceIds: [] };
  for (const id of deviceIds) {
    const statuses = byDevice.get(id);
    if (!statuses) continue;
    if (statuses.includes('failed')) {
      result.failed += 1;
      result.failedDeviceIds.push(id);
    } else if (statuses.every((s) => SUCCEEDED.has(s))) result.succeeded += 1;
    else result.pendingDeviceIds.push(id);
  }
  return result;
}
