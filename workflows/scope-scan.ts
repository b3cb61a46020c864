import { ParentClosePolicy, continueAsNew, proxyActivities, setCurrentDetails, startChild } from '@temporalio/workflow';
import type { ScanActivities } from '../activities';
import { SCAN_WORKFLOW_TYPE, scanWorkflowId, type PatchScanInput } from './scan.contract';
import type { ScopeScanInput, ScopeScanResult } from './scope-scan.contract';
import { STATE_RETRY } from './retry-policies';
import { deviceSearchAttributes } from './search-attributes';

const scans = proxyActivities<ScanActivities>({ startToCloseTimeout: '1 minute', retry: STATE_RETRY });

/**
 * An operator's scan of a scope (every device, a client, a site or a device type): starts one
 * patchScanWorkflow per device, `startsAtOnce` at a time, so the request that asked for it returns at
 * once and a crash half-way loses no device. It does not wait for the scans: each is its own workflow
 * (abandoned by this one, found by DeviceName in the Web UI), and a device that is away is waited for
 * there, not here. Long scopes continue as new every `devicesPerRun` devices.
 */
export async function scopeScanWorkflow(input: ScopeScanInput): Promise<ScopeScanResult> {
  const startsAtOnce = input.startsAtOnce ?? 50;
  const perRun = input.devicesPerRun ?? 500;
  const tally: ScopeScanResult = { ...(input.tally ?? { started: 0, skipped: 0 }) };
  const thisRun = input.deviceIds.slice(0, perRun);

  for (let i = 0; i < thisRun.length; i += startsAtOnce) {
    const ids = thisRun.slice(i, i + startsAtOnce);
    const devices = await scans.scanTargets(ids);
    tally.skipped += ids.length - devices.length;
    await Promise.all(devices.map(async (d) => {
      const scanInput: PatchScanInput = {
        deviceId: d.id, deviceName: d.name, clientName: d.clientName, siteName: d.siteName,
        reason: `requested by ${input.requestedBy}`, ...input.scanTiming,
      };
      await startChild(SCAN_WORKFLOW_TYPE, {
        workflowId: scanWorkflowId(d.id, input.key),
        args: [scanInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        staticSummary: `Scan ${d.name} · ${d.clientName} / ${d.siteName}`,
        staticDetails: `Requested by ${input.requestedBy} for ${input.scope.scopeType}${input.scope.scopeId ? ` ${input.scope.scopeId}` : ''}.`,
        typedSearchAttributes: deviceSearchAttributes(d, 'scan'),
      });
      tally.started++;
    }));
    setCurrentDetails(`**scan ${input.scope.scopeType}**: ${tally.started} device scans started, ${tally.skipped} skipped; ${input.deviceIds.length - i - ids.length} to go`);
  }

  if (input.deviceIds.length > perRun) {
    await continueAsNew<typeof scopeScanWorkflow>({ ...input, deviceIds: input.deviceIds.slice(perRun), tally });
  }
  return tally;
}
