import type { Queryable } from './database';
import { COMMAND_CHANNEL } from './command-repository';

/**
 * A long poll starting on some replica: payload `<deviceId> <replicaId> <openedAtMs>`; the other
 * replicas end that device's polls opened before it.
 */
export const POLL_CHANNEL = 'patchflow_agent_polls';

/** Subscribes a dedicated connection to new commands (COMMAND_CHANNEL) and to other replicas' polls (POLL_CHANNEL). */
export async function listenForAgentEvents(client: Queryable): Promise<void> {
  // LISTEN takes no parameters: the channel names are constants, never input.
  await client.query(`LISTEN ${COMMAND_CHANNEL}`);
  await client.query(`LISTEN ${POLL_CHANNEL}`);
}

/** Announces poll take-overs in one statement, one notification per payload. */
export async function announcePolls(client: Queryable, payloads: string[]): Promise<void> {
  await client.query('SELECT pg_notify($1::text, p) FROM unnest($2::text[]) AS p', [POLL_CHANNEL, payloads]);
}
