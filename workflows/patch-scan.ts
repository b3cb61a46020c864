import { ActivityFailure, ApplicationFailure, TimeoutFailure, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { DeviceCommandActivities, ScanActivities } from '../activities';
import type { ScanResult } from '../domain/device-protocol';
import type { PatchScanInput, PatchScanResult } from './scan.contract';
import { STATE_RETRY } from './retry-policies';

/**
 * Scans one device for applicable updates and processes the results, only when they changed since
 * its last scan: the catalog, the policies' stamps for new and revised patches, the device's statuses.
 * A device that is offline is waited for, like every device step.
 */
export async function patchScanWorkflow(input: PatchScanInput): Promise<PatchScanResult> {
  const retry = {
    initialInterval: `${input.retryInitialSeconds ?? 5} seconds`,
    maximumInterval: `${input.retryMaxSeconds ?? 300} seconds`,
    backoffCoefficient: 2,
  };
  const heartbeatTimeout = `${input.heartbeatTimeoutSeconds ?? 120} seconds`;
  const device = proxyActivities<DeviceCommandActivities>({ startToCloseTimeout: `${input.scanTimeoutSeconds ?? 600} seconds`, heartbeatTimeout, retry });
  const scans = proxyActivities<ScanActivities>({ startToCloseTimeout: '2 minutes', retry: STATE_RETRY });

  setCurrentDetails(`**scan**: waiting for ${input.deviceName} to report its updates`);
  let scan: ScanResult;
  try {
    scan = (await device.deviceCommand.executeWithOptions(
      {
        startToCloseTimeout: `${input.scanTimeoutSeconds ?? 600} seconds`, heartbeatTimeout, retry, summary: `scan ${input.deviceName}`,
        ...(input.offlineAfterSeconds ? { scheduleToCloseTimeout: `${input.offlineAfterSeconds} seconds` } : {}),
      },
      [input.deviceId, 'scan', { reason: input.reason }],
    )) as ScanResult;
  } catch (err) {
    if (input.offlineAfterSeconds && err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
      throw ApplicationFailure.create({ type: 'DeviceOffline', message: `${input.deviceName} did not answer within ${input.offlineAfterSeconds} s`, nonRetryable: true });
    }
    throw err;
  }
  const summary = await scans.processDeviceScan.executeWithOptions(
    { startToCloseTimeout: '2 minutes', retry: STATE_RETRY, summary: `process ${scan.updates.length} updates` },
    [input.deviceId, scan],
  );
  setCurrentDetails(summary.changed
    ? `**done**: ${summary.missing} missing, ${summary.installed} installed; new ${summary.newKbs.join(', ') || 'none'}; revised ${summary.revisedKbs.join(', ') || 'none'}`
    : `**done**: unchanged since the last scan (${summary.missing} missing)`);
  return summary;
}
