import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { claimDeviceForOperation } from '../activities/device-claim';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { findDevice } from '../db/fleet-repository';
import { releaseDevice } from '../db/operation-repository';
import { findPatchTest, type PatchTestRow } from '../db/patch-test-repository';
import { ConflictError, NotFoundError } from '../domain/errors';
import { requireSafeDeviceFolders } from '../domain/folders';
import type { InstallTimingInput } from '../workflows/install.contract';
import { PATCH_TEST_WORKFLOW_TYPE, patchTestWorkflowId, type PatchTestInput } from '../workflows/patch-test.contract';
import { deviceSearchAttributes } from '../workflows/search-attributes';

export interface PatchTestServiceDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  /** the installs' step pacing, which the Patch Test's scan and cleanup follow (tests shorten it) */
  installTiming?: InstallTimingInput;
}

/**
 * Starts a Patch Test on a device: the device must exist (404), be live and enrolled (409), and be free
 * of any other install operation (409: the test claims it, as an install does). Audited.
 */
export async function startPatchTest(deps: PatchTestServiceDeps, deviceId: string, requestedBy: string): Promise<{ workflowId: string; key: string }> {
  const device = await findDevice(deps.db, deviceId);
  if (!device) throw new NotFoundError('device', deviceId);
  if (device.retiredAt) throw new ConflictError(`device ${device.id} is retired; nothing starts on it`);
  if (!device.enrolled) throw new ConflictError(`device ${device.id} has not enrolled yet: no agent could answer a Patch Test`);
  const folders = requireSafeDeviceFolders(device);
  const key = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const workflowId = patchTestWorkflowId(device.id, key);
  await claimDeviceForOperation(deps, { deviceId: device.id, workflowId, operation: 'patch-test' });
  const input: PatchTestInput = {
    deviceId: device.id, deviceName: device.name, clientName: device.clientName, siteName: device.siteName,
    workingFolder: folders.workingFolder, installFolder: folders.installFolder, requestedBy, timing: deps.installTiming,
  };
  try {
    await deps.client.workflow.start(PATCH_TEST_WORKFLOW_TYPE, {
      workflowId, taskQueue: deps.taskQueue, args: [input],
      staticSummary: `Patch Test of ${device.name} · ${device.clientName} / ${device.siteName}`,
      staticDetails: `Requested by ${requestedBy}. Every install step but execute and reboot: credentials, working folder (protected? permissions), disk space, file sources and hashes, Windows Update services.`,
      typedSearchAttributes: deviceSearchAttributes(device, 'patch-test'),
    });
  } catch (err) {
    await releaseDevice(deps.db, device.id, workflowId);
    throw err;
  }
  await appendAudit(deps.db, [{ actor: requestedBy, action: 'patch_test.started', deviceId: device.id, subject: workflowId }]);
  deps.log.info({ deviceId: device.id, workflowId }, 'patch test started');
  return { workflowId, key };
}

/** The device's latest Patch Test result; 404 for an unknown device, or one never tested. */
export async function latestPatchTest(deps: Pick<PatchTestServiceDeps, 'db'>, deviceId: string): Promise<PatchTestRow> {
  if (!(await findDevice(deps.db, deviceId))) throw new NotFoundError('device', deviceId);
  const row = await findPatchTest(deps.db, deviceId);
  if (!row) throw new NotFoundError('Patch Test of device', deviceId);
  return row;
}
