/** The contract of scopeScanWorkflow: id scheme, input and result. api/ imports this file. */
import type { PatchScanInput } from './scan.contract';

export const SCOPE_SCAN_WORKFLOW_TYPE = 'scopeScanWorkflow';

export type ScanScope = { scopeType: 'all' | 'client' | 'site' | 'device_type'; scopeId?: string };

/** `scope-scan/<scopeType>/<scopeId or "all">/<key>` */
export function scopeScanWorkflowId(scope: ScanScope, key: string): string {
  return `scope-scan/${scope.scopeType}/${scope.scopeId ?? 'all'}/${key}`;
}

export interface ScopeScanInput {
  scope: ScanScope;
  /** the key of every device scan it starts: `scan/<deviceId>/<key>`, so the API can name them at once */
  key: string;
  requestedBy: string;
  /** the devices the API resolved for the scope, by id (names are read when each batch starts) */
  deviceIds: string[];
  /** how many device scans are started at once (default 50) */
  startsAtOnce?: number;
  /** devices per run before continue-as-new keeps the history short (default 500) */
  devicesPerRun?: number;
  /** step pacing for the device scans (tests and demos) */
  scanTiming?: Pick<PatchScanInput, 'scanTimeoutSeconds' | 'retryInitialSeconds' | 'retryMaxSeconds' | 'heartbeatTimeoutSeconds'>;
  /** carried over continue-as-new */
  tally?: ScopeScanResult;
}

export interface ScopeScanResult {
  /** device scans started */
  started: number;
  /** devices retired or deleted since the request: nothing started on them */
  skipped: number;
}
