import { randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { findDevice, listDevices, type DeviceRow } from '../db/fleet-repository';
import { ConflictError, NotFoundError } from '../domain/errors';
import { failureChain } from './install-service';
import { SCAN_WORKFLOW_TYPE, scanWorkflowId, type PatchScanInput, type PatchScanResult } from '../workflows/scan.contract';
import { deviceWorkflowStart } from './workflow-starts';
import { SCOPE_SCAN_WORKFLOW_TYPE, scopeScanWorkflowId, type ScanScope, type ScopeScanInput } from '../workflows/scope-scan.contract';
import { ClientIdAttr, OperationAttr } from '../workflows/search-attributes';

export interface ScanServiceDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  /** shorter step pacing for tests and demos */
  scanTiming?: Pick<PatchScanInput, 'scanTimeoutSeconds' | 'retryInitialSeconds' | 'retryMaxSeconds' | 'heartbeatTimeoutSeconds'>;
}

const newKey = () => `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** Starts patchScanWorkflow for one device. Scans are silent (no reboot), so they need no device claim. */
export async function startScanFor(deps: ScanServiceDeps, device: DeviceRow, requestedBy: string): Promise<{ workflowId: string; key: string }> {
  const key = newKey();
  const workflowId = scanWorkflowId(device.id, key);
  const input: PatchScanInput = {
    deviceId: device.id, deviceName: device.name, clientName: device.clientName, siteName: device.siteName,
    reason: `requested by ${requestedBy}`, ...deps.scanTiming,
  };
  await deps.client.workflow.start(SCAN_WORKFLOW_TYPE, deviceWorkflowStart({
    device, operation: 'scan', workflowId, taskQueue: deps.taskQueue, args: [input],
    summary: 'Scan', details: `Requested by ${requestedBy}. Device ${device.name} (${device.id}).`,
  }));
  return { workflowId, key };
}

export async function startDeviceScan(deps: ScanServiceDeps, deviceId: string, requestedBy: string) {
  const device = await findDevice(deps.db, deviceId);
  if (!device) throw new NotFoundError('device', deviceId);
  if (device.retiredAt) throw new ConflictError(`device ${device.id} is retired; nothing starts on it`);
  const started = await startScanFor(deps, device, requestedBy);
  await appendAudit(deps.db, [{ actor: requestedBy, action: 'scan.started', deviceId, subject: started.workflowId }]);
  return started;
}

/**
 * Scans every device of a scope (all devices, a client, a site, or a device type) through one
 * scopeScanWorkflow, which starts the device scans in batches: the request returns once that one
 * workflow has started, however large the scope. The device scans' ids are known now (they share the
 * request's key), so the answer names each one.
 */
export async function startScopeScan(deps: ScanServiceDeps, scope: ScanScope, requestedBy: string) {
  const devices = (await listDevices(deps.db, {
    clientId: scope.scopeType === 'client' ? scope.scopeId : undefined,
    siteId: scope.scopeType === 'site' ? scope.scopeId : undefined,
  })).filter((d) => !d.retiredAt && (scope.scopeType !== 'device_type' || d.deviceType === scope.scopeId));
  const key = newKey();
  const workflowId = scopeScanWorkflowId(scope, key);
  const input: ScopeScanInput = { scope, key, requestedBy, deviceIds: devices.map((d) => d.id), ...(deps.scanTiming ? { scanTiming: deps.scanTiming } : {}) };
  await deps.client.workflow.start(SCOPE_SCAN_WORKFLOW_TYPE, {
    workflowId,
    taskQueue: deps.taskQueue,
    args: [input],
    staticSummary: `Scan of ${scope.scopeType}${scope.scopeId ? ` ${scope.scopeId}` : ''}: ${devices.length} devices`,
    staticDetails: `Requested by ${requestedBy}.`,
    typedSearchAttributes: [
      { key: OperationAttr, value: 'scan' },
      ...(scope.scopeType === 'client' && scope.scopeId ? [{ key: ClientIdAttr, value: scope.scopeId }] : []),
    ],
  });
  const scans = devices.map((d) => ({ deviceId: d.id, workflowId: scanWorkflowId(d.id, key), key }));
  await appendAudit(deps.db, [{ actor: requestedBy, action: 'scan.started_for_scope', subject: `${scope.scopeType}:${scope.scopeId ?? ''}`, details: { devices: scans.length, workflowId } }]);
  deps.log.info({ scope, devices: scans.length, workflowId }, 'scope scan started');
  return { workflowId, scans };
}

export async function describeScan(deps: ScanServiceDeps, workflowId: string) {
  const handle = deps.client.workflow.getHandle(workflowId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('scan', workflowId);
    throw err;
  }
  return {
    workflowId,
    status: d.status.name,
    startedAt: d.startTime.toISOString(),
    closedAt: d.closeTime?.toISOString() ?? null,
    result: d.status.name === 'COMPLETED' ? ((await handle.result()) as PatchScanResult) : null,
    // e.g. "refused by the device: bad signature (...)": the device's own words
    failure: d.status.name === 'FAILED' ? await handle.result().then(() => null, (err: Error) => failureChain(err)) : null,
  };
}
