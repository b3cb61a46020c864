/** The contract of patchScanWorkflow: id scheme, input and result. api/ and cli/ import this file. */
import type { ScanSummary } from '../db/scan-repository';

export const SCAN_WORKFLOW_TYPE = 'patchScanWorkflow';

/** `scan/<deviceId>/<key>` */
export function scanWorkflowId(deviceId: string, key: string): string {
  return `scan/${deviceId}/${key}`;
}

export interface PatchScanInput {
  deviceId: string;
  deviceName: string;
  clientName: string;
  siteName: string;
  /** why: "requested by api-key:admin", "scheduled", "demo" */
  reason: string;
  /** per-attempt limit of the scan step (default 600 s) and the pacing of offers while the device is away */
  scanTimeoutSeconds?: number;
  retryInitialSeconds?: number;
  retryMaxSeconds?: number;
  /** how long the scan's attempt may go without a heartbeat (default 120 s; see InstallTiming.heartbeatTimeoutSeconds) */
  heartbeatTimeoutSeconds?: number;
  /** a scheduled scan gives up on a device that has not answered after this long: it is offline */
  offlineAfterSeconds?: number;
}

export type PatchScanResult = ScanSummary;
