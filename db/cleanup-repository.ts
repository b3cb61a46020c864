import type { Queryable } from './database';

/**
 * Leaves an install's cleanup command queued for the device's next check-in: the install has given
 * up waiting (its deadline passed), so the command is offered again as `pending`, and the gateway
 * hands it over at the device's next poll like any other. The device's answer then finds no
 * activity waiting for it (the gateway keeps it and says so), which is all that is left to do.
 * Returns the ids of the queued commands. Idempotent: a retry re-queues the same rows.
 */
export async function queueCleanupForCheckIn(db: Queryable, workflowId: string): Promise<string[]> {
  const { rows } = await db.query(
    `UPDATE agent_commands SET status = 'pending', updated_at = now()
     WHERE workflow_id = $1::text AND type = 'cleanup' AND status IN ('pending', 'claimed', 'failed')
     RETURNING id`,
    [workflowId],
  );
  return rows.map((r) => r.id as string);
}
