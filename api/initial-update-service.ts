import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { executeUpdateRetrying } from './workflow-updates';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { findDevice } from '../db/fleet-repository';
import { ConflictError, NotFoundError } from '../domain/errors';
import { requireSafeDeviceFolders } from '../domain/folders';
import {
  INITIAL_UPDATE_WORKFLOW_TYPE,
  cancelInitialUpdate,
  initialUpdateProgressQuery,
  initialUpdateWorkflowId,
  type InitialUpdateInput,
  type InitialUpdateProgress,
  type InitialUpdateResult,
  type InitialUpdateRetry,
} from '../workflows/initial-update.contract';
import type { InstallTimingInput } from '../workflows/install.contract';
import { deviceWorkflowStart, startClaimed } from './workflow-starts';

export interface InitialUpdateDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  installTiming?: InstallTimingInput;
  initialUpdateRetry?: Partial<InitialUpdateRetry>;
  /** continue-as-new threshold (events); tests lower it to see the history split */
  initialUpdateHistoryLimit?: number;
  /** a device not heard from for this long is shown as offline (default 60 s) */
  offlineAfterSeconds?: number;
}

/**
 * Starts the device's Initial Update, or returns the one already running (one per device). The
 * device is claimed first: while an install runs, the Initial Update is refused (409), and while
 * the Initial Update runs, every other install on the device is refused.
 */
export async function startInitialUpdate(deps: InitialUpdateDeps, deviceId: string, requestedBy: string): Promise<{ workflowId: string; existing: boolean }> {
  const device = await findDevice(deps.db, deviceId);
  if (!device) throw new NotFoundError('device', deviceId);
  if (device.retiredAt) throw new ConflictError(`device ${device.id} is retired; nothing starts on it`);
  const workflowId = initialUpdateWorkflowId(device.id);
  const handle = deps.client.workflow.getHandle(workflowId);
  const running = await handle.describe().then((d) => d.status.name === 'RUNNING', () => false);
  if (running) return { workflowId, existing: true };
  // Refused before the claim and before any workflow exists: a bad folder never reaches a device.
  const folders = requireSafeDeviceFolders(device);
  const input: InitialUpdateInput = {
    deviceId: device.id, deviceName: device.name, clientId: device.clientId, clientName: device.clientName,
    siteId: device.siteId, siteName: device.siteName, workingFolder: folders.workingFolder, installFolder: folders.installFolder,
    requestedBy, retry: deps.initialUpdateRetry, installTiming: deps.installTiming, historyLimit: deps.initialUpdateHistoryLimit,
  };
  await startClaimed(deps, INITIAL_UPDATE_WORKFLOW_TYPE, deviceWorkflowStart({
    device, operation: 'initial-update', workflowId, taskQueue: deps.taskQueue, args: [input],
    // A start racing another start of the same device's Initial Update joins it instead of failing.
    conflictPolicy: 'USE_EXISTING',
    summary: 'Initial Update of',
    details: `Requested by ${requestedBy}. Installs every approved missing patch, rebooting as often as needed, until nothing approved is missing.`,
  }), { deviceId: device.id, operation: 'initial-update' });
  await appendAudit(deps.db, [{ actor: requestedBy, action: 'initial_update.started', deviceId: device.id, subject: workflowId }]);
  deps.log.info({ deviceId: device.id, workflowId }, 'Initial Update started');
  return { workflowId, existing: false };
}

export interface InitialUpdateView {
  workflowId: string;
  status: string;
  startedAt: string;
  closedAt: string | null;
  /** history length of the current run: stays bounded however long the Initial Update takes */
  historyLength: number;
  progress: InitialUpdateProgress | null;
  result: InitialUpdateResult | null;
  failure: string | null;
  device: { lastCheckInAt: string | null; online: boolean; waitingForDeviceSince: string | null };
}

export async function describeInitialUpdate(deps: InitialUpdateDeps, deviceId: string): Promise<InitialUpdateView> {
  const device = await findDevice(deps.db, deviceId);
  if (!device) throw new NotFoundError('device', deviceId);
  const workflowId = initialUpdateWorkflowId(deviceId);
  const handle = deps.client.workflow.getHandle(workflowId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('Initial Update of device', deviceId);
    throw err;
  }
  const lastSeen = device.lastCheckInAt ? new Date(device.lastCheckInAt).getTime() : 0;
  const online = Date.now() - lastSeen < (deps.offlineAfterSeconds ?? 60) * 1000;
  const running = d.status.name === 'RUNNING';
  return {
    workflowId,
    status: d.status.name,
    startedAt: d.startTime.toISOString(),
    closedAt: d.closeTime?.toISOString() ?? null,
    historyLength: d.historyLength,
    progress: running ? await handle.query(initialUpdateProgressQuery) : null,
    result: d.status.name === 'COMPLETED' ? ((await handle.result()) as InitialUpdateResult) : null,
    failure: running || d.status.name === 'COMPLETED' ? null
      : await handle.result().then(() => null, (err: Error) => (err.cause as Error | undefined)?.message ?? err.message),
    device: { lastCheckInAt: device.lastCheckInAt, online, waitingForDeviceSince: running && !online ? device.lastCheckInAt : null },
  };
}

export async function cancelDeviceInitialUpdate(deps: InitialUpdateDeps, deviceId: string, reason: string, actor: string) {
  const workflowId = initialUpdateWorkflowId(deviceId);
  const handle = deps.client.workflow.getHandle(workflowId);
  try {
    const d = await handle.describe();
    if (d.status.name !== 'RUNNING') throw new ConflictError('cannot cancel: the Initial Update has already finished');
    const answer = await executeUpdateRetrying(handle, cancelInitialUpdate, [{ reason }]);
    await appendAudit(deps.db, [{ actor, action: 'initial_update.cancel_requested', deviceId, subject: workflowId, details: { reason } }]);
    return answer;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('Initial Update of device', deviceId);
    if (err instanceof WorkflowUpdateFailedError) throw new ConflictError(`cannot cancel: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    throw err;
  }
}
