import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { CommandKeyring } from '../config/command-keys';
import { pinnableKeys } from '../config/command-keys';
import { appendAudit } from '../db/audit-repository';
import { DeviceRetiredError, recordCommandAttempt, recordPinnedCommandKeys, storeOutcome } from '../db/command-repository';
import { withTransaction, type Db } from '../db/database';
import { deviceFileSource, findDevice } from '../db/fleet-repository';
import { commandExpiry, signCommand } from '../domain/command-envelope';
import { CommandStatus, rebootVerdict } from '../domain/command-lifecycle';
import { CommandType, type CommandPayloads, type DownloadPatchesPayload, type DownloadPayload, type RebootResult, type TrustKeysResult } from '../domain/device-protocol';
import { sourceOrder } from '../domain/file-source';

/** Failure type of a step whose command the install withdrew (cancelled). */
export const COMMAND_WITHDRAWN = 'CommandWithdrawn';
/** Failure type of a step on a device that was retired (DELETE /api/v1/devices/:id). */
export const DEVICE_RETIRED = 'DeviceRetired';

/**
 * The command id: the same for every attempt of one step of one workflow run, so the agent's journal
 * recognises a re-delivery. The run id keeps a later run of the same workflow id (a re-used key,
 * continue-as-new) from reading an old run's answers.
 */
export function commandIdOf(info: { workflowExecution: { workflowId: string; runId: string }; activityId: string }): string {
  return `${info.workflowExecution.workflowId}/${info.workflowExecution.runId}/${info.activityId}`;
}

/** The run id inside a command id (commandIdOf): the workflow id itself may hold slashes, the run id and activity id do not. */
export function runIdOfCommand(commandId: string): string | undefined {
  const parts = commandId.split('/');
  return parts.length >= 3 ? parts[parts.length - 2] : undefined;
}

export interface DeviceCommandDeps {
  db: Db;
  log: Logger;
  /** the worker signs every attempt with `current` (config/command-keys.ts) */
  commandKeys: CommandKeyring;
}

/**
 * Records this attempt of a device step, signed, for the agent gateway and returns without a result:
 * the gateway completes the activity when the device answers. Before asking the device, it re-checks
 * what is already known, so a retry never re-runs a finished step: a stored answer is returned as is, a
 * permanent failure stays a failure, and an acknowledged reboot that the device's new boot id proves
 * done completes at once.
 */
async function askDevice<T extends CommandType>(deps: DeviceCommandDeps, deviceId: string, type: T, payload: CommandPayloads[T]): Promise<unknown> {
  const { db, log, commandKeys } = deps;
  const info = Context.current().info;
  if (!info.workflowExecution) throw ApplicationFailure.nonRetryable('deviceCommand runs only inside a workflow', 'Misuse');
  const id = commandIdOf({ workflowExecution: info.workflowExecution, activityId: info.activityId });
  const key = commandKeys.current;
  if (!key.privateKey) throw ApplicationFailure.nonRetryable(`command key ${key.keyId} has no private key: the worker cannot sign`, 'Misconfigured');
  const issuedAtMs = Date.now();
  // The envelope lives as long as this attempt: the next attempt is re-signed anyway (see commandExpiry).
  const expiresAtMs = commandExpiry(issuedAtMs, info.startToCloseTimeoutMs);
  const row = await recordCommandAttempt(
    db,
    { id, deviceId, workflowId: info.workflowExecution.workflowId, type, payload, taskToken: Buffer.from(info.taskToken), attempt: info.attempt },
    ({ sequence, payload: stored }) => signCommand(key.privateKey!, key.keyId, { id, type, payload: stored as never }, { deviceId, sequence, issuedAtMs, expiresAtMs }),
  ).catch((err: unknown) => {
    // A retired device will never answer: fail the step at once rather than wait for its timeouts.
    if (err instanceof DeviceRetiredError) throw ApplicationFailure.create({ type: DEVICE_RETIRED, message: `device ${deviceId} is retired; ${type} not sent`, nonRetryable: true });
    throw err;
  });
  switch (row.status) {
    case CommandStatus.Succeeded:
      return row.result;
    case CommandStatus.Failed:
      if (row.error && !row.error.retryable) {
        throw ApplicationFailure.create({ type: row.error.code, message: row.error.message, nonRetryable: true });
      }
      break;
    case CommandStatus.Withdrawn:
      throw ApplicationFailure.create({ type: COMMAND_WITHDRAWN, message: `command ${id} was withdrawn`, nonRetryable: true });
    case CommandStatus.Acknowledged: {
      const device = await findDevice(db, deviceId);
      // Only "finished" matters here: a reboot that never happened is the gateway's to offer again.
      if (device?.bootId && rebootVerdict({ ackedBootId: row.ackedBootId, acknowledgedSecondsAgo: 0 }, device.bootId, Infinity) === 'finished') {
        const result: RebootResult = { previousBootId: row.ackedBootId!, bootId: device.bootId };
        await storeOutcome(db, id, { status: 'succeeded', result }, { deliveredBy: 'this attempt' });
        return result;
      }
      break;
    }
    default:
      break;
  }
  log.debug({ commandId: id, deviceId, type, attempt: info.attempt, status: row.status }, 'device command waiting for the agent');
  throw new CompleteAsyncError();
}

/**
 * The download step carries the sources its device tries, in order: its site's file source (migration
 * 0031), read here when the worker signs the step, so the list is covered by the signature and the agent
 * refuses a list changed on the way. The first attempt's payload is the one stored and re-signed for every
 * later attempt (db/command-repository.ts), so a retry tries the same sources; a change of the setting
 * applies to the next download step. The workflow's input and history do not change.
 */
async function withFileSources<P extends DownloadPayload | DownloadPatchesPayload>(db: Db, deviceId: string, payload: P): Promise<P> {
  if (payload.sources) return payload;
  const policy = await deviceFileSource(db, deviceId);
  return policy ? { ...payload, sources: sourceOrder(policy) } : payload;
}

export function createDeviceCommandActivities(deps: DeviceCommandDeps) {
  return {
    /** One device step (see askDevice). trust_keys is not one: only the worker's own keyring may fill it. */
    async deviceCommand<T extends CommandType>(deviceId: string, type: T, payload: CommandPayloads[T]): Promise<unknown> {
      if (type === CommandType.TrustKeys) throw ApplicationFailure.nonRetryable('trust_keys is sent by trustKeysCommand only', 'Misuse');
      if (type === CommandType.Download) return askDevice(deps, deviceId, type, await withFileSources(deps.db, deviceId, payload as CommandPayloads['download']) as CommandPayloads[T]);
      return askDevice(deps, deviceId, type, payload);
    },
  };
}

/** The key rotation's activities (workflows/trust-keys.ts). */
export function createCommandKeyActivities(deps: DeviceCommandDeps) {
  return {
    /**
     * Asks the device to pin the worker's keys (current and next). The list comes from the worker's own
     * configuration, never from the workflow's input: whoever can start workflows (the API) must not be
     * able to make agents trust a key of their choosing.
     */
    async trustKeysCommand(deviceId: string): Promise<TrustKeysResult> {
      return (await askDevice(deps, deviceId, CommandType.TrustKeys, { keys: pinnableKeys(deps.commandKeys) })) as TrustKeysResult;
    },
    /** Remembers which keys the device now pins (the rotation's progress), audited. */
    async recordPinnedCommandKeys(deviceId: string, keyIds: string[]): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? 'unknown';
      await withTransaction(deps.db, async (tx) => {
        await recordPinnedCommandKeys(tx, deviceId, keyIds);
        await appendAudit(tx, [{ actor: `workflow:${workflowId}`, action: 'device.command_keys_pinned', deviceId, details: { keyIds } }]);
      });
    },
  };
}
