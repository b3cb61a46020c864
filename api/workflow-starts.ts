/**
 * How the API starts a workflow that runs on one device (install, missed-run install, Initial Update,
 * scan): one shape of start options and one claim discipline, so that every such workflow carries the
 * same search attributes (an operator's `DeviceName = "NORT-WS-09"` in the Web UI finds all of them)
 * and the same summary line, and no failed start leaves a device claimed.
 */
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import type { Logger } from 'pino';
import { claimDeviceForOperation } from '../activities/device-claim';
import type { Db } from '../db/database';
import { releaseDevice } from '../db/operation-repository';
import { deviceSearchAttributes, type NamedDevice } from '../workflows/search-attributes';

/** The device a workflow runs on, as the start names it. */
export type DeviceOfStart = NamedDevice;

/** The `Operation` search attribute: what kind of device workflow this is. */
export type DeviceOperation = 'install' | 'automatic-update' | 'initial-update' | 'scan';

/** "NORT-WS-09 · Acme / HQ": the device as summaries name it. */
export const deviceLabel = (device: DeviceOfStart): string => `${device.name} · ${device.clientName} / ${device.siteName}`;

/**
 * Start options for a workflow on one device: its id, task queue and input, a summary that ends with
 * the device's label ("Scan NORT-WS-09 · Acme / HQ"), and the device's search attributes (plus the
 * KBs, when `kbs` is given: an install asked for by KB is then found by `PatchKBs`).
 */
export function deviceWorkflowStart(request: {
  device: DeviceOfStart;
  operation: DeviceOperation;
  workflowId: string;
  taskQueue: string;
  /** the workflow's input */
  args: unknown[];
  /** what the workflow does, before the device's label: "Scan", "Initial Update of" */
  summary: string;
  details?: string;
  kbs?: string[];
  /** USE_EXISTING: a start racing another of the same id joins it */
  conflictPolicy?: WorkflowStartOptions['workflowIdConflictPolicy'];
}): WorkflowStartOptions & { workflowId: string } {
  const { device } = request;
  const attributes = deviceSearchAttributes(device, request.operation, request.kbs);
  return {
    workflowId: request.workflowId,
    taskQueue: request.taskQueue,
    args: request.args,
    ...(request.conflictPolicy ? { workflowIdConflictPolicy: request.conflictPolicy } : {}),
    staticSummary: `${request.summary} ${deviceLabel(device)}`,
    ...(request.details ? { staticDetails: request.details } : {}),
    typedSearchAttributes: attributes,
  };
}

/**
 * Claims the device for `workflowId` (DeviceBusyError while another install operation runs on it),
 * then starts the workflow; a start that fails releases the claim before the error goes on, so
 * nothing is left holding the device.
 */
export async function startClaimed(
  deps: { db: Db; client: Client; log: Logger },
  workflowType: string,
  options: WorkflowStartOptions & { workflowId: string },
  claim: { deviceId: string; operation: string },
): Promise<void> {
  await claimDeviceForOperation(deps, { deviceId: claim.deviceId, workflowId: options.workflowId, operation: claim.operation });
  try {
    await deps.client.workflow.start(workflowType, options);
  } catch (err) {
    await releaseDevice(deps.db, claim.deviceId, options.workflowId);
    throw err;
  }
}
