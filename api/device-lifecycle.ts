import { ActivityNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { COMMAND_WITHDRAWN } from '../activities/device-command';
import { isRunning } from '../activities/device-claim';
import { appendAudit } from '../db/audit-repository';
import { withdrawDeviceCommands } from '../db/command-repository';
import { withTransaction, type Db } from '../db/database';
import { findDevice, reissueEnrollmentToken, retireDevice, revokeCredential, type DeviceRow } from '../db/fleet-repository';
import { findClaim } from '../db/operation-repository';
import { ConflictError, NotFoundError } from '../domain/errors';
import { hashSecret, newSecret } from './credentials';

export interface DeviceLifecycleDeps {
  db: Db;
  client: Client;
  log: Logger;
}

async function activeDevice(db: Db, deviceId: string): Promise<DeviceRow> {
  const device = await findDevice(db, deviceId);
  if (!device) throw new NotFoundError('device', deviceId);
  if (device.retiredAt) throw new ConflictError(`device ${deviceId} was retired at ${device.retiredAt}`);
  return device;
}

/** Revokes the device's credential: the agent's next request gets a 401. Audited. */
export async function revokeDeviceCredential(deps: DeviceLifecycleDeps, deviceId: string, actor: string): Promise<{ revoked: boolean }> {
  await activeDevice(deps.db, deviceId);
  const revoked = await withTransaction(deps.db, async (tx) => {
    const r = await revokeCredential(tx, deviceId);
    if (!r) throw new ConflictError(`device ${deviceId} is retired`);
    await appendAudit(tx, [{ actor, action: 'device.credential_revoked', deviceId, details: { hadCredential: r.hadCredential } }]);
    return r.hadCredential;
  });
  deps.log.info({ deviceId, revoked }, 'device credential revoked');
  return { revoked };
}

/**
 * Issues a new one-time enrollment token; any earlier unused one and the current credential stop
 * working. The token is answered once: only its hash is stored. Audited.
 */
export async function issueEnrollmentToken(deps: DeviceLifecycleDeps, deviceId: string, actor: string): Promise<{ enrollmentToken: string }> {
  const device = await activeDevice(deps.db, deviceId);
  const enrollmentToken = newSecret();
  await withTransaction(deps.db, async (tx) => {
    if (!(await reissueEnrollmentToken(tx, deviceId, hashSecret(enrollmentToken)))) throw new ConflictError(`device ${deviceId} is retired`);
    await appendAudit(tx, [{ actor, action: 'device.enrollment_token_issued', deviceId, details: { credentialRevoked: device.enrolled } }]);
  });
  deps.log.info({ deviceId }, 'enrollment token issued');
  return { enrollmentToken };
}

export interface RetireResult {
  device: DeviceRow;
  /** commands withdrawn (their waiting steps fail as withdrawn) */
  withdrawnCommands: number;
  /** the install or Initial Update that was running and was asked to cancel (only with force) */
  cancelledWorkflowId: string | null;
}

/**
 * Retires a device (DELETE /api/v1/devices/:id). The row stays, so patch history, commands and audit
 * keep their device; its credential and enrollment token go, and every open command is withdrawn and
 * its waiting activity failed as withdrawn, so no workflow hangs on a device that is gone. While an
 * install or Initial Update runs on it the answer is 409 naming it, unless `force`: then that
 * workflow is also asked to cancel.
 */
export async function retireDeviceById(deps: DeviceLifecycleDeps, deviceId: string, options: { force: boolean; actor: string }): Promise<RetireResult> {
  await activeDevice(deps.db, deviceId);
  const claim = await findClaim(deps.db, deviceId);
  const running = claim && (await isRunning(deps.client, claim.workflowId)) ? claim : undefined;
  if (running && !options.force) {
    throw new ConflictError(`device ${deviceId} is running ${running.operation} ${running.workflowId}; cancel it first, or retire with ?force=true`);
  }
  const withdrawn = await withTransaction(deps.db, async (tx) => {
    if (!(await retireDevice(tx, deviceId))) throw new ConflictError(`device ${deviceId} is already retired`);
    const rows = await withdrawDeviceCommands(tx, deviceId);
    await appendAudit(tx, [{
      actor: options.actor, action: 'device.retired', deviceId,
      details: { force: options.force, withdrawnCommands: rows.map((r) => r.id), runningWorkflowId: running?.workflowId ?? null },
    }]);
    return rows;
  });
  // After the commit: a step whose activity is gone (timed out meanwhile) reads "cancelled" on its retry.
  for (const row of withdrawn) {
    await deps.client.activity.fail(row.taskToken, ApplicationFailure.create({
      type: COMMAND_WITHDRAWN, message: `command ${row.id} was withdrawn: device ${deviceId} was retired`, nonRetryable: true,
    })).catch((err) => {
      if (!(err instanceof ActivityNotFoundError)) deps.log.warn({ err, commandId: row.id }, 'withdrawn command: activity not failed');
    });
  }
  if (running) {
    await deps.client.workflow.getHandle(running.workflowId).cancel()
      .catch((err) => deps.log.warn({ err, workflowId: running.workflowId }, 'retired device: running operation not cancelled'));
  }
  deps.log.info({ deviceId, withdrawn: withdrawn.length, force: options.force }, 'device retired');
  return { device: (await findDevice(deps.db, deviceId))!, withdrawnCommands: withdrawn.length, cancelledWorkflowId: running?.workflowId ?? null };
}
