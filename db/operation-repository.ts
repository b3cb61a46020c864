import type { Queryable } from './database';

export interface OperationClaim {
  deviceId: string;
  workflowId: string;
  operation: string;
  claimedAt: string;
}

/**
 * Claims the device for one install operation. Returns the claim now in force: ours when the device
 * was free or already ours, the other holder's otherwise. `isStale(holder)` lets the caller take over a
 * claim whose workflow no longer runs (terminated, or its release never ran).
 */
export async function claimDevice(
  db: Queryable,
  claim: { deviceId: string; workflowId: string; operation: string },
): Promise<OperationClaim> {
  const { rows } = await db.query(
    `INSERT INTO device_operations (device_id, workflow_id, operation) VALUES ($1::uuid, $2::text, $3::text)
     ON CONFLICT (device_id) DO UPDATE SET device_id = EXCLUDED.device_id
     RETURNING device_id, workflow_id, operation, claimed_at`,
    [claim.deviceId, claim.workflowId, claim.operation],
  );
  const r = rows[0];
  return { deviceId: r.device_id, workflowId: r.workflow_id, operation: r.operation, claimedAt: r.claimed_at.toISOString() };
}

/** Replaces a stale holder by `claim`, only if the holder is still `staleWorkflowId` (compare-and-set). */
export async function takeOverClaim(
  db: Queryable,
  claim: { deviceId: string; workflowId: string; operation: string },
  staleWorkflowId: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE device_operations SET workflow_id = $2::text, operation = $3::text, claimed_at = now()
     WHERE device_id = $1::uuid AND workflow_id = $4::text`,
    [claim.deviceId, claim.workflowId, claim.operation, staleWorkflowId],
  );
  return (rowCount ?? 0) === 1;
}

/** Releases the device if `workflowId` holds it; a no-op otherwise (idempotent). */
export async function releaseDevice(db: Queryable, deviceId: string, workflowId: string): Promise<void> {
  await db.query('DELETE FROM device_operations WHERE device_id = $1::uuid AND workflow_id = $2::text', [deviceId, workflowId]);
}

export async function findClaim(db: Queryable, deviceId: string): Promise<OperationClaim | undefined> {
  const { rows } = await db.query('SELECT * FROM device_operations WHERE device_id = $1::uuid', [deviceId]);
  const r = rows[0];
  return r ? { deviceId: r.device_id, workflowId: r.workflow_id, operation: r.operation, claimedAt: r.claimed_at.toISOString() } : undefined;
}
