import { CompleteAsyncError, Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { recordCommandAttempt, storeOutcome } from '../db/command-repository';
import type { Db } from '../db/database';
import { findDevice, isDeviceRetired } from '../db/fleet-repository';
import type { CommandPayloads, CommandType, RebootResult } from '../domain/device-protocol';

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

export function createDeviceCommandActivities(deps: { db: Db; log: Logger }) {
  const { db, log } = deps;
  return {
    /**
     * One device step. Records the command (with this attempt's task token) for the agent gateway and
     * returns without a result: the gateway completes the activity when the device answers. Before
     * asking the device, it re-checks what is already known, so a retry never re-runs a finished step:
     * a stored answer is returned as is, a permanent failure stays a failure, and an acknowledged
     * reboot that the device's new boot id proves done completes at once.
     */
    async deviceCommand<T extends CommandType>(deviceId: string, type: T, payload: CommandPayloads[T]): Promise<unknown> {
      const info = Context.current().info;
      if (!info.workflowExecution) throw ApplicationFailure.nonRetryable('deviceCommand runs only inside a workflow', 'Misuse');
      const id = commandIdOf({ workflowExecution: info.workflowExecution, activityId: info.activityId });
      // A retired device will never answer: fail the step at once rather than wait for its timeouts.
      if (await isDeviceRetired(db, deviceId)) {
        throw ApplicationFailure.create({ type: DEVICE_RETIRED, message: `device ${deviceId} is retired; ${type} not sent`, nonRetryable: true });
      }
      const row = await recordCommandAttempt(db, {
        id, deviceId, workflowId: info.workflowExecution.workflowId, type, payload,
        taskToken: Buffer.from(info.taskToken), attempt: info.attempt,
      });
      switch (row.status) {
        case 'succeeded':
          return row.result;
        case 'failed':
          if (row.error && !row.error.retryable) {
            throw ApplicationFailure.create({ type: row.error.code, message: row.error.message, nonRetryable: true });
          }
          break;
        case 'cancelled':
          throw ApplicationFailure.create({ type: COMMAND_WITHDRAWN, message: `command ${id} was withdrawn`, nonRetryable: true });
        case 'acknowledged': {
          const device = await findDevice(db, deviceId);
          if (device?.bootId && row.ackedBootId && device.bootId !== row.ackedBootId) {
            const result: RebootResult = { previousBootId: row.ackedBootId, bootId: device.bootId };
            await storeOutcome(db, id, { status: 'succeeded', result });
            return result;
          }
          break;
        }
        default:
          break;
      }
      log.debug({ commandId: id, deviceId, type, attempt: info.attempt, status: row.status }, 'device command waiting for the agent');
      throw new CompleteAsyncError();
    },
  };
}
