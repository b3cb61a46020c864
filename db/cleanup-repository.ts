import type { CommandSignature, CommandType } from '../domain/device-protocol';
import { CommandEvent, CommandStatus, sqlFrom } from '../domain/command-lifecycle';
import { COMMAND_CHANNEL } from './command-repository';
import type { Queryable } from './database';

/**
 * Leaves an install's cleanup command queued for the device's next check-in: the install has given
 * up waiting (its deadline passed), so the command is offered again as `pending`, and the gateway
 * hands it over at the device's next poll like any other. The device's answer then finds no
 * activity waiting for it (the gateway keeps it and says so), which is all that is left to do.
 * Each queued command is signed again (`sign`, with a fresh device sequence): the envelope of the
 * attempt that gave up has expired by the time the device is back. Returns the ids of the queued
 * commands. Idempotent: a retry re-queues and re-signs the same rows.
 */
export async function queueCleanupForCheckIn(
  db: Queryable,
  workflowId: string,
  sign: (command: { id: string; deviceId: string; type: CommandType; payload: unknown; sequence: number }) => CommandSignature,
): Promise<string[]> {
  const { rows } = await db.query(
    `UPDATE agent_commands SET status = '${CommandStatus.Pending}', updated_at = now()
     WHERE workflow_id = $1::text AND type = 'cleanup' AND status IN ${sqlFrom(CommandEvent.Record)}
     RETURNING id, device_id, type, payload`,
    [workflowId],
  );
  for (const r of rows) {
    const seq = await db.query('UPDATE devices SET command_sequence = command_sequence + 1 WHERE id = $1::uuid RETURNING command_sequence', [r.device_id]);
    const signature = sign({ id: r.id, deviceId: r.device_id, type: r.type, payload: r.payload, sequence: Number(seq.rows[0].command_sequence) });
    await db.query(
      `WITH up AS (UPDATE agent_commands SET signature = $2::jsonb WHERE id = $1::text RETURNING device_id)
       SELECT pg_notify($3::text, device_id::text) FROM up`,
      [r.id, JSON.stringify(signature), COMMAND_CHANNEL],
    );
  }
  return rows.map((r) => r.id as string);
}
