import type { HealthCheckSettings } from '../domain/health-check';
import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { executeUpdateRetrying } from './workflow-updates';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { findDevice } from '../db/fleet-repository';
import { ignoredKbs } from '../db/ignored-statuses';
import { unverifiedOnlyKbs } from '../db/scan-repository';
import { ConflictError, NotFoundError, UnprocessableError } from '../domain/errors';
import { requireSafeDeviceFolders } from '../domain/folders';
import {
  INSTALL_WORKFLOW_TYPE,
  cancelInstallUpdate,
  installWorkflowId,
  progressQuery,
  type DeviceInstallInput,
  type InstallProgress,
  type InstallResult,
  type InstallTimingInput,
} from '../workflows/install.contract';
import { deviceWorkflowStart, startClaimed } from './workflow-starts';

export interface InstallServiceDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  /** per-step timeouts and retry pacing passed to every install (tests and demos shorten them) */
  installTiming?: InstallTimingInput;
}

/** A sortable, unique key: time first so the Web UI's list of a device's installs reads in order. */
function newInstallKey(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

function summaryOf(kbs?: string[]): string {
  const what = kbs && kbs.length > 0 ? `${kbs.length} patch${kbs.length === 1 ? '' : 'es'}` : 'missing patches';
  return `Install ${what} on`;
}

/**
 * Starts an install on a device: claims the device (one install operation at a time, 409 otherwise),
 * then starts deviceInstallWorkflow. A failed start releases the claim, so nothing is left held.
 */
export async function startInstall(
  deps: InstallServiceDeps,
  request: { deviceId: string; kbs?: string[]; rebootAllowed?: boolean; requestedBy: string; healthCheck?: HealthCheckSettings },
): Promise<{ workflowId: string; key: string }> {
  const device = await findDevice(deps.db, request.deviceId);
  if (!device) throw new NotFoundError('device', request.deviceId);
  if (device.retiredAt) throw new ConflictError(`device ${device.id} is retired; nothing starts on it`);
  // Refused before the claim and before any workflow exists: a bad folder never reaches a device.
  const folders = requireSafeDeviceFolders(device);
  if (request.kbs && request.kbs.length > 0) {
    // An update the catalog does not confirm never installs, even when asked for by name.
    const unverified = await unverifiedOnlyKbs(deps.db, device.id, request.kbs);
    if (unverified.length > 0) {
      throw new UnprocessableError(
        `body.kbs: ${unverified.map((u) => `${u.kb} is ${u.reason}`).join('; ')}; it installs once a catalog feed confirms it`, 'kbs');
    }
    const ignored = await ignoredKbs(deps.db, device.id, request.kbs);
    if (ignored.length > 0) {
      throw new ConflictError(`${ignored.map((i) => `${i.kb}: ${i.reason}`).join('; ')}; an Ignore holds for every install path, explicit ones too: clear it (action inherit) first`);
    }
  }
  const key = newInstallKey();
  const workflowId = installWorkflowId(device.id, key);
  const input: DeviceInstallInput = {
    deviceId: device.id,
    deviceName: device.name,
    clientId: device.clientId,
    clientName: device.clientName,
    siteId: device.siteId,
    siteName: device.siteName,
    kbs: request.kbs,
    rebootAllowed: request.rebootAllowed ?? true,
    workingFolder: folders.workingFolder,
    installFolder: folders.installFolder,
    requestedBy: request.requestedBy,
    timing: deps.installTiming,
    ...(request.healthCheck ? { healthCheck: request.healthCheck } : {}),
  };
  await startClaimed(deps, INSTALL_WORKFLOW_TYPE, deviceWorkflowStart({
    device, operation: 'install', workflowId, taskQueue: deps.taskQueue, args: [input],
    summary: summaryOf(request.kbs),
    details: `Requested by ${request.requestedBy}. Device ${device.name} (${device.id}), ${device.clientName} / ${device.siteName}.` +
      (request.kbs?.length ? ` KBs: ${request.kbs.join(', ')}.` : ''),
    kbs: request.kbs ?? [],
  }), { deviceId: device.id, operation: 'install' });
  await appendAudit(deps.db, [{
    actor: request.requestedBy, action: 'install.started', deviceId: device.id, subject: workflowId,
    details: { kbs: request.kbs ?? null, rebootAllowed: input.rebootAllowed },
  }]);
  deps.log.info({ deviceId: device.id, workflowId, kbs: request.kbs }, 'install started');
  return { workflowId, key };
}

export interface InstallView {
  workflowId: string;
  status: string;
  startedAt: string;
  closedAt: string | null;
  progress: InstallProgress | null;
  result: InstallResult | null;
  failure: string | null;
}

/** An install's state: live progress while it runs, its result once it is done. */
export async function describeInstall(deps: InstallServiceDeps, workflowId: string): Promise<InstallView> {
  const handle = deps.client.workflow.getHandle(workflowId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('install', workflowId);
    throw err;
  }
  const view: InstallView = {
    workflowId,
    status: d.status.name,
    startedAt: d.startTime.toISOString(),
    closedAt: d.closeTime ? d.closeTime.toISOString() : null,
    progress: null,
    result: null,
    failure: null,
  };
  if (d.status.name === 'RUNNING') {
    view.progress = await handle.query(progressQuery);
  } else if (d.status.name === 'COMPLETED') {
    view.result = (await handle.result()) as InstallResult;
  } else {
    view.failure = await handle.result().then(() => null, (err: Error) => failureChain(err));
  }
  return view;
}

/** Temporal's own wrappers ("Activity task failed"): they say where it failed, never why. */
const WRAPPER_MESSAGES = new Set(['Activity task failed', 'Child Workflow execution failed', 'Workflow execution failed']);

/**
 * What an operator reads of a failed workflow: every message down its cause chain below the workflow's
 * own, less Temporal's wrappers: "refused by the device: ... (rule: parent-segment)", the device's or
 * the activity's own words, not "Activity task failed".
 */
export function failureChain(err: Error): string {
  const messages: string[] = [];
  for (let e = err.cause as Error | undefined; e; e = e.cause as Error | undefined) {
    if (!WRAPPER_MESSAGES.has(e.message)) messages.push(e.message);
  }
  return messages.length > 0 ? messages.join(': ') : err.message;
}

/**
 * Asks a running install to stop; cleanup still runs on the device. An unknown install is a 404; one
 * that refuses the cancel, or has finished meanwhile, a 409.
 */
export async function cancelInstall(deps: InstallServiceDeps, workflowId: string, reason: string, actor: string) {
  const handle = deps.client.workflow.getHandle(workflowId);
  try {
    await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('install', workflowId);
    throw err;
  }
  let answer;
  try {
    answer = await executeUpdateRetrying(handle, cancelInstallUpdate, [{ reason }]);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new ConflictError(`cannot cancel: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    // It was there a moment ago (describe): it has finished since.
    if (err instanceof WorkflowNotFoundError) throw new ConflictError('cannot cancel: the install has already finished');
    throw err;
  }
  await appendAudit(deps.db, [{ actor, action: 'install.cancel_requested', subject: workflowId, details: { reason } }]);
  return answer;
}
