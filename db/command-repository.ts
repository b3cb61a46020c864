import { CommandType, type CommandError, type CommandSignature } from '../domain/device-protocol';
import { ANSWERED, CLAIMABLE, CommandEvent, CommandStatus, WAITING_ON_DEVICE, sqlFrom, sqlStatuses } from '../domain/command-lifecycle';
import { withTransaction, type Db, type Queryable } from './database';

/** Channel on which a new command for a device is announced; the payload is the device id. */
export const COMMAND_CHANNEL = 'patchflow_agent_commands';

export type { CommandStatus } from '../domain/command-lifecycle';

// The statements below take their status lists from the lifecycle table (domain/command-lifecycle.ts).
const WAITING = sqlStatuses(WAITING_ON_DEVICE);
const ANSWERED_SQL = sqlStatuses(ANSWERED);
/** record on any other status keeps it: finished, acknowledged, withdrawn (afterRecord) */
const RECORD_FROM = sqlFrom(CommandEvent.Record);

/**
 * A poll may take a command of `alias` (CLAIMABLE): pending, or claimed with a claim that may have been
 * lost, older than the lease in seconds `$lease` or from before the agent said it restarted (`$restarted`).
 * Shared by the claim and by the check-in's "anything to claim?" flag, so the two cannot disagree.
 */
export function claimableWhere(alias: string, lease: string, restarted: string): string {
  const [pending, claimed] = CLAIMABLE;
  return `(${alias}.status = '${pending}'
            OR (${alias}.status = '${claimed}' AND (${restarted}::boolean OR ${alias}.claimed_at < now() - make_interval(secs => ${lease}::float8))))`;
}

export interface CommandRow {
  id: string;
  deviceId: string;
  workflowId: string;
  type: CommandType;
  payload: unknown;
  taskToken: Buffer;
  attempt: number;
  status: CommandStatus;
  ackedBootId: string | null;
  result: unknown;
  error: CommandError | null;
  /** the current attempt's signature; null for rows recorded before commands were signed */
  signature: CommandSignature | null;
  /** when the stored answer reached Temporal (null: the result completer still owes it) */
  deliveredAt: Date | null;
  /** Temporal said the attempt no longer existed: the next attempt reads the stored answer */
  deliveredLate: boolean;
  /** when the device finished it (stored its answer) */
  finishedAt: Date | null;
  /** the device's last progress report, repeated by the gateway's keep-alive heartbeats */
  lastProgress: unknown;
  /** how often an acknowledged reboot that never happened was offered again */
  rebootOffers: number;
}

const toRow = (r: Record<string, any>): CommandRow => ({
  id: r.id,
  deviceId: r.device_id,
  workflowId: r.workflow_id,
  type: r.type,
  payload: r.payload,
  taskToken: r.task_token,
  attempt: r.attempt,
  status: r.status,
  ackedBootId: r.acked_boot_id,
  result: r.result,
  error: r.error,
  signature: r.signature ?? null,
  deliveredAt: r.delivered_at ?? null,
  deliveredLate: r.delivered_late ?? false,
  finishedAt: r.finished_at ?? null,
  lastProgress: r.last_progress ?? null,
  rebootOffers: r.reboot_offers ?? 0,
});

/** The device a step was to be recorded for is retired: it will never answer, so nothing was recorded. */
export class DeviceRetiredError extends Error {
  constructor(readonly deviceId: string) {
    super(`device ${deviceId} is retired`);
    this.name = 'DeviceRetiredError';
  }
}

/**
 * Records the current attempt of a device step, signs it, and returns the row as it now stands.
 * - new: inserted as pending.
 * - finished (succeeded, or failed for good): left alone, so a retry returns the stored outcome
 *   instead of asking the device again.
 * - acknowledged reboot: keeps waiting for the device to come back; only the task token moves on.
 * - otherwise: offered to the device again (pending) with the new attempt's task token, because an
 *   attempt that timed out may never have reached the device.
 * The statement that records the attempt also takes the device's next sequence number; `sign` then
 * builds this attempt's signature over it (a re-offered command is a new signed envelope), and the
 * second statement stores it and announces the command on the device's channel. Both run in one
 * transaction, so no poll ever sees a pending attempt without its own signature (the row is locked,
 * and the claim skips locked rows); NOTIFY is delivered on commit.
 * A retired device gets nothing (DeviceRetiredError): the first statement checks it too, one round
 * trip for both, as a device step is recorded about six times per install.
 */
export async function recordCommandAttempt(
  db: Db,
  c: { id: string; deviceId: string; workflowId: string; type: CommandType; payload: unknown; taskToken: Buffer; attempt: number },
  sign: (fields: { sequence: number; payload: unknown }) => CommandSignature,
): Promise<CommandRow> {
  return withTransaction(db, async (tx) => {
    const { rows } = await tx.query(
      `WITH device AS (
         SELECT retired_at IS NOT NULL AS retired FROM devices WHERE id = $2::uuid
       ), seq AS (
         UPDATE devices SET command_sequence = command_sequence + 1 WHERE id = $2::uuid AND retired_at IS NULL RETURNING command_sequence
       ), up AS (
         INSERT INTO agent_commands AS ac (id, device_id, workflow_id, type, payload, task_token, attempt, status)
         SELECT $1::text, $2::uuid, $3::text, $4::text, $5::jsonb, $6::bytea, $7::int, '${CommandStatus.Pending}' WHERE EXISTS (SELECT 1 FROM seq)
         ON CONFLICT (id) DO UPDATE SET
           task_token = EXCLUDED.task_token,
           attempt = EXCLUDED.attempt,
           -- afterRecord(): what a new attempt leaves the row at.
           status = CASE WHEN ac.status NOT IN ${RECORD_FROM} THEN ac.status
                         WHEN ac.status = '${CommandStatus.Failed}' AND (ac.error->>'retryable')::boolean IS NOT TRUE THEN ac.status
                         ELSE '${CommandStatus.Pending}' END,
           -- This attempt returns a finished row's answer itself: nothing is owed to Temporal any more.
           delivered_at = CASE WHEN ac.status = '${CommandStatus.Succeeded}'
                                 OR (ac.status = '${CommandStatus.Failed}' AND (ac.error->>'retryable')::boolean IS NOT TRUE)
                               THEN coalesce(ac.delivered_at, now()) ELSE ac.delivered_at END,
           updated_at = now()
         RETURNING *
       )
       SELECT up.*, (SELECT command_sequence FROM seq) AS sequence, (SELECT retired FROM device) AS device_retired
       FROM (SELECT 1) AS one LEFT JOIN up ON true`,
      [c.id, c.deviceId, c.workflowId, c.type, JSON.stringify(c.payload), c.taskToken, c.attempt],
    );
    const recorded = rows[0];
    if (recorded.device_retired === true) throw new DeviceRetiredError(c.deviceId);
    if (recorded.device_retired === null || recorded.sequence === null) throw new Error(`device ${c.deviceId} not found`);
    if (recorded.status !== CommandStatus.Pending) return toRow(recorded);
    // Signed over the payload as stored (the row's, not the caller's), so what the agent gets is what was signed.
    const signature = sign({ sequence: Number(recorded.sequence), payload: recorded.payload });
    const signed = await tx.query(
      `WITH up AS (UPDATE agent_commands SET signature = $2::jsonb WHERE id = $1::text RETURNING *),
       notify AS (SELECT pg_notify($3::text, $4::text) FROM up)
       SELECT up.*, (SELECT count(*) FROM notify) AS notified FROM up`,
      [c.id, JSON.stringify(signature), COMMAND_CHANNEL, c.deviceId],
    );
    return toRow(signed.rows[0]);
  });
}

/**
 * Hands the device its pending commands, each once per attempt: the UPDATE claims them, so a second
 * poll (from this or another gateway replica) does not get the same attempt again. A claimed command
 * is handed out again when the poll reply that carried it may have been lost: its claim is older than
 * `claimLeaseSeconds` with no answer or progress since, or the agent says it restarted (`restarted`).
 * It goes out as the same signed envelope; the agent admits that exact envelope again (its journal
 * answers it if it already ran).
 */
export async function claimPendingCommands(
  db: Queryable,
  deviceId: string,
  options: { limit?: number; claimLeaseSeconds?: number; restarted?: boolean } = {},
): Promise<CommandRow[]> {
  const { rows } = await db.query(
    `UPDATE agent_commands SET status = '${CommandStatus.Claimed}', claimed_attempt = attempt, claimed_at = now(), updated_at = now()
     WHERE id IN (
       SELECT id FROM agent_commands c WHERE device_id = $1::uuid AND ${claimableWhere('c', '$3', '$4')}
       ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED)
     RETURNING *`,
    [deviceId, options.limit ?? 10, options.claimLeaseSeconds ?? 86_400, options.restarted ?? false],
  );
  return rows.map(toRow).sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * Gives claimed commands back (their poll could not hand them out: the agent hung up, or a newer poll
 * of the same device took over) and wakes the device's polls, so a poll already waiting gets them now.
 */
export async function releaseClaimedCommands(db: Queryable, deviceId: string, ids: string[]): Promise<void> {
  await db.query(
    `WITH up AS (UPDATE agent_commands SET status = '${CommandStatus.Pending}'
                 WHERE id = ANY($1::text[]) AND device_id = $2::uuid AND status IN ${sqlFrom(CommandEvent.Release)} RETURNING 1)
     SELECT pg_notify($3::text, $2::text) FROM up LIMIT 1`,
    [ids, deviceId, COMMAND_CHANNEL],
  );
}

export async function findCommandForDevice(db: Queryable, id: string, deviceId: string): Promise<CommandRow | undefined> {
  const { rows } = await db.query('SELECT * FROM agent_commands WHERE id = $1::text AND device_id = $2::uuid', [id, deviceId]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** How long the gateway that stored an answer has to deliver it itself before the completer tries. */
export const INLINE_DELIVERY_GRACE_SECONDS = 5;

/**
 * Stores a device's final answer; returns undefined when the command was already finished or cancelled.
 * The answer is then owed to Temporal (delivered_at NULL) until the caller delivers it
 * (markResultDelivered) or the result completer does, from `INLINE_DELIVERY_GRACE_SECONDS` on.
 * `deliveredBy: 'this attempt'`: the activity returns it itself, so nothing is owed.
 */
export async function storeOutcome(
  db: Queryable,
  id: string,
  outcome: { status: 'succeeded'; result: unknown } | { status: 'failed'; error: CommandError },
  options: { deliveredBy?: 'this attempt' } = {},
): Promise<CommandRow | undefined> {
  const { rows } = await db.query(
    `UPDATE agent_commands SET status = $2::text, result = $3::jsonb, error = $4::jsonb,
            finished_at = now(), updated_at = now(),
            delivered_at = CASE WHEN $5::boolean THEN now() END, delivered_late = false,
            delivery_attempts = 0, next_delivery_at = now() + make_interval(secs => $6::int)
     WHERE id = $1::text AND status IN ${sqlFrom(CommandEvent.Finish)}
     RETURNING *`,
    [
      id,
      outcome.status,
      outcome.status === 'succeeded' ? JSON.stringify(outcome.result) : null,
      outcome.status === 'failed' ? JSON.stringify(outcome.error) : null,
      options.deliveredBy === 'this attempt',
      INLINE_DELIVERY_GRACE_SECONDS,
    ],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** The stored answer reached Temporal (`late`: Temporal said that attempt no longer exists). */
export async function markResultDelivered(db: Queryable, ids: string[], options: { late: boolean }): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `UPDATE agent_commands SET delivered_at = now(), delivered_late = $2::boolean
     WHERE id = ANY($1::text[]) AND delivered_at IS NULL AND status IN ${ANSWERED_SQL}`,
    [ids, options.late],
  );
}

/**
 * Locks up to `limit` finished rows whose answer is owed to Temporal and due, oldest first, skipping
 * rows another replica's completer holds. Run it inside a transaction: the locks last until it ends.
 */
export async function claimUndeliveredResults(tx: Queryable, limit: number): Promise<CommandRow[]> {
  const { rows } = await tx.query(
    `SELECT * FROM agent_commands
     WHERE delivered_at IS NULL AND status IN ${ANSWERED_SQL} AND next_delivery_at <= now()
     ORDER BY next_delivery_at LIMIT $1::int FOR UPDATE SKIP LOCKED`,
    [limit],
  );
  return rows.map(toRow);
}

/** A delivery try failed (Temporal unreachable): try again after `backoffSeconds`. */
export async function postponeDelivery(tx: Queryable, ids: string[], backoffSeconds: (attempts: number) => number): Promise<void> {
  if (ids.length === 0) return;
  const { rows } = await tx.query('SELECT id, delivery_attempts FROM agent_commands WHERE id = ANY($1::text[])', [ids]);
  await tx.query(
    `UPDATE agent_commands AS ac SET delivery_attempts = ac.delivery_attempts + 1,
            next_delivery_at = now() + make_interval(secs => d.secs)
     FROM unnest($1::text[], $2::float8[]) AS d(id, secs) WHERE ac.id = d.id`,
    [rows.map((r) => r.id), rows.map((r) => backoffSeconds(r.delivery_attempts + 1))],
  );
}

/** Temporal answers again: every owed answer is due now, whatever its backoff said. */
export async function makeUndeliveredDue(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE agent_commands SET next_delivery_at = now()
     WHERE delivered_at IS NULL AND status IN ${ANSWERED_SQL} AND next_delivery_at > now()`,
  );
  return rowCount ?? 0;
}

/** How many answers are owed to Temporal, and how long the oldest has waited (seconds; 0 when none). */
export async function undeliveredResults(db: Queryable): Promise<{ count: number; oldestSeconds: number }> {
  const { rows } = await db.query(
    `SELECT count(*)::int AS count, coalesce(extract(epoch FROM now() - min(finished_at)), 0)::float8 AS oldest
     FROM agent_commands WHERE delivered_at IS NULL AND status IN ${ANSWERED_SQL}`,
  );
  return { count: rows[0].count, oldestSeconds: rows[0].oldest };
}

/** One page (by id) of commands that wait for their device: their attempts are kept alive by heartbeats. */
export async function waitingCommands(db: Queryable, afterId: string, limit: number): Promise<Pick<CommandRow, 'id' | 'taskToken' | 'attempt' | 'status' | 'lastProgress'>[]> {
  const { rows } = await db.query(
    `SELECT id, task_token, attempt, status, last_progress FROM agent_commands
     WHERE status IN ${WAITING} AND id > $1::text ORDER BY id LIMIT $2::int`,
    [afterId, limit],
  );
  return rows.map((r) => ({ id: r.id, taskToken: r.task_token, attempt: r.attempt, status: r.status, lastProgress: r.last_progress ?? null }));
}

/**
 * Keeps the device's last progress report, for the keep-alive heartbeats (operational state, not
 * audited). Progress proves the device has the command: a claimed one's lease starts again.
 */
export async function recordProgress(db: Queryable, id: string, progress: unknown): Promise<void> {
  await db.query(
    `UPDATE agent_commands SET last_progress = $2::jsonb,
            claimed_at = CASE WHEN status = '${CommandStatus.Claimed}' THEN now() ELSE claimed_at END
     WHERE id = $1::text`,
    [id, JSON.stringify(progress)],
  );
}

/**
 * The usual progress report in one round trip: stored (as recordProgress) only on the device's own
 * command while it waits on the device and, for a report naming the patch it is about to start
 * (`startingUpdateId`), only on an execute_patches command with that patch; the row as it now is.
 * Undefined when any of that does not hold: the caller finds out which, and says so.
 */
export async function recordWaitingProgress(db: Queryable, id: string, deviceId: string, progress: unknown, startingUpdateId?: string): Promise<CommandRow | undefined> {
  const { rows } = await db.query(
    `UPDATE agent_commands SET last_progress = $3::jsonb,
            claimed_at = CASE WHEN status = '${CommandStatus.Claimed}' THEN now() ELSE claimed_at END
     WHERE id = $1::text AND device_id = $2::uuid AND status IN ${WAITING}
       AND ($4::text IS NULL OR (type = '${CommandType.ExecutePatches}' AND payload->'patches' @> jsonb_build_array(jsonb_build_object('updateId', $4::text))))
     RETURNING *`,
    [id, deviceId, JSON.stringify(progress), startingUpdateId ?? null],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/**
 * Tries to take the PostgreSQL advisory lock `key` on this session (a dedicated client): the lease
 * that lets one gateway replica at a time do a periodic job. Held until the session ends or
 * `releaseAdvisoryLock`; a replica that dies drops its session, so another takes over at its next try.
 * No rows are written, so the lease costs nothing in the data.
 */
export async function tryAdvisoryLock(session: Queryable, key: number): Promise<boolean> {
  const { rows } = await session.query('SELECT pg_try_advisory_lock($1::bigint) AS locked', [key]);
  return rows[0].locked === true;
}

export async function releaseAdvisoryLock(session: Queryable, key: number): Promise<void> {
  await session.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
}

/** Marks a reboot as acknowledged by the device running boot `bootId`. */
export async function acknowledgeReboot(db: Queryable, id: string, bootId: string): Promise<CommandRow | undefined> {
  const { rows } = await db.query(
    `UPDATE agent_commands SET status = '${CommandStatus.Acknowledged}', acked_boot_id = $2::text, acknowledged_at = now(), updated_at = now()
     WHERE id = $1::text AND type = 'reboot' AND status IN ${sqlFrom(CommandEvent.Acknowledge)} RETURNING *`,
    [id, bootId],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** A device's acknowledged reboots, with how long ago each was acknowledged (by the database's clock). */
export async function acknowledgedReboots(db: Queryable, deviceId: string): Promise<Array<CommandRow & { acknowledgedSecondsAgo: number }>> {
  const { rows } = await db.query(
    `SELECT *, extract(epoch FROM now() - acknowledged_at)::float8 AS acked_seconds_ago FROM agent_commands
     WHERE device_id = $1::uuid AND type = 'reboot' AND status = '${CommandStatus.Acknowledged}'`,
    [deviceId],
  );
  return rows.map((r) => ({ ...toRow(r), acknowledgedSecondsAgo: r.acked_seconds_ago ?? 0 }));
}

/**
 * An acknowledged reboot that never happened (rebootVerdict: the device came back with boot id
 * `bootId`, the one it acknowledged from) is offered again — pending, the same signed envelope, the
 * device's poll woken — unless it was already offered `maxOffers` times: then `given-up`, for the
 * caller to fail the step. `settled`: another check-in dealt with it first.
 */
export async function reofferReboot(
  db: Queryable, id: string, bootId: string, maxOffers: number,
): Promise<{ outcome: 'reoffered' | 'given-up'; row: CommandRow } | { outcome: 'settled' }> {
  const { rows } = await db.query(
    `WITH up AS (
       UPDATE agent_commands SET status = '${CommandStatus.Pending}', reboot_offers = reboot_offers + 1, updated_at = now()
       WHERE id = $1::text AND status IN ${sqlFrom(CommandEvent.ReofferReboot)} AND acked_boot_id = $2::text AND reboot_offers < $3::int
       RETURNING *
     ), notify AS (SELECT pg_notify($4::text, up.device_id::text) FROM up)
     SELECT up.*, true AS reoffered, (SELECT count(*) FROM notify) AS notified FROM up
     UNION ALL
     SELECT ac.*, false, 0 FROM agent_commands ac
     WHERE ac.id = $1::text AND ac.status = '${CommandStatus.Acknowledged}' AND ac.acked_boot_id = $2::text
       AND ac.reboot_offers >= $3::int`,
    [id, bootId, maxOffers, COMMAND_CHANNEL],
  );
  const r = rows[0];
  if (!r) return { outcome: 'settled' };
  return { outcome: r.reoffered ? 'reoffered' : 'given-up', row: toRow(r) };
}

/** Withdraws a workflow's unfinished commands (cancelled install); returns how many. */
export async function cancelOpenCommands(db: Queryable, workflowId: string, exceptIds: string[] = []): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE agent_commands SET status = '${CommandStatus.Withdrawn}', finished_at = now(), updated_at = now()
     WHERE workflow_id = $1::text AND status IN ${sqlFrom(CommandEvent.Withdraw)} AND NOT (id = ANY($2::text[]))`,
    [workflowId, exceptIds],
  );
  return rowCount ?? 0;
}

/**
 * Withdraws every unfinished command of a device (retired), whichever workflow sent it; returns them
 * with the task tokens whose activities the caller fails, so no step waits for a device that is gone.
 */
export async function withdrawDeviceCommands(db: Queryable, deviceId: string): Promise<CommandRow[]> {
  const { rows } = await db.query(
    `UPDATE agent_commands SET status = '${CommandStatus.Withdrawn}', finished_at = now(), updated_at = now()
     WHERE device_id = $1::uuid AND status IN ${sqlFrom(CommandEvent.Withdraw)} RETURNING *`,
    [deviceId],
  );
  return rows.map(toRow);
}

/** Which command keys a device pins (from its enrollment answer, then from each trust_keys it ran). */
export async function recordPinnedCommandKeys(db: Queryable, deviceId: string, keyIds: string[]): Promise<void> {
  await db.query('UPDATE devices SET pinned_command_key_ids = $2::text[] WHERE id = $1::uuid', [deviceId, keyIds]);
}

/** How many enrolled devices pin each key set, and the enrolled devices that do not pin all of `keyIds`. */
export async function devicesMissingKeys(db: Queryable, keyIds: string[]): Promise<{ id: string; name: string }[]> {
  const { rows } = await db.query(
    `SELECT id, name FROM devices
     WHERE credential_hash IS NOT NULL AND NOT (coalesce(pinned_command_key_ids, '{}') @> $1::text[])
     ORDER BY name, id`,
    [keyIds],
  );
  return rows.map((r) => ({ id: r.id, name: r.name }));
}

/** Enrolled devices per pinned key id (a device pinning two keys counts for both). */
export async function pinnedKeyCounts(db: Queryable): Promise<Record<string, number>> {
  const { rows } = await db.query(
    `SELECT k AS key_id, count(*)::int AS devices FROM devices, unnest(coalesce(pinned_command_key_ids, '{}')) AS k
     WHERE credential_hash IS NOT NULL GROUP BY k`,
  );
  return Object.fromEntries(rows.map((r) => [r.key_id, r.devices]));
}
