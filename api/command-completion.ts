import { ActivityNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { markResultDelivered, type CommandRow } from '../db/command-repository';
import type { Db } from '../db/database';
import type { CommandError } from '../domain/device-protocol';
import { deliverOutcome, type ResultCompleter } from './result-delivery';

export interface CommandCompletionDeps {
  db: Db;
  client: Client;
  log: Logger;
  /** delivers the answers this gateway could not hand to Temporal itself (api/result-delivery.ts) */
  completer?: ResultCompleter;
}

export type StoredOutcome = { status: 'succeeded'; result: unknown } | { status: 'failed'; error: CommandError };

/**
 * Completes or fails the activity waiting on a command, whose answer is already stored; true when
 * delivered. When that attempt is gone (timed out while the device was away), the stored outcome is
 * what the next attempt returns, so nothing is lost. When Temporal cannot be reached, the answer stays
 * owed in the store and the result completer delivers it: the device's request still succeeds (its
 * answer is safe).
 */
export async function completeActivity(deps: CommandCompletionDeps, row: CommandRow, outcome: StoredOutcome): Promise<boolean> {
  try {
    const delivered = await deliverOutcome(deps.client, row.taskToken, outcome);
    await markResultDelivered(deps.db, [row.id], { late: delivered === 'late' });
    if (delivered === 'late') deps.log.info({ commandId: row.id }, 'activity attempt no longer waiting; outcome kept for the next attempt');
    return delivered === 'delivered';
  } catch (err) {
    if (err instanceof ActivityNotFoundError) return false;
    deps.log.warn({ err, commandId: row.id }, 'result stored but not delivered; the result completer will deliver it');
    deps.completer?.kick();
    return false;
  }
}
