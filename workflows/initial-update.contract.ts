/**
 * The contract of initialUpdateWorkflow: id, input, progress, result and messages. api/ and cli/
 * import this file, never the workflow body.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { InstallTimingInput } from './install.contract';

export const INITIAL_UPDATE_WORKFLOW_TYPE = 'initialUpdateWorkflow';

/** `initial-update/<deviceId>`: one per device; starting a second returns the running one. */
export function initialUpdateWorkflowId(deviceId: string): string {
  return `initial-update/${deviceId}`;
}

/** How failed patches are retried from one cycle to the next. */
export interface InitialUpdateRetry {
  /** failed attempts after which a patch is reported as needing attention (default 5) */
  maxAttempts: number;
  /** wait before retrying a patch that failed because another installer was busy (default 60 s) */
  busySeconds: number;
  /** first wait before retrying a failed patch; doubles per attempt (default 300 s) */
  failedSeconds: number;
  /** longest wait between retries (default 3600 s) */
  maxSeconds: number;
}

/** Restarts one Initial Update may make before it is stopped as a reboot loop (more than 5). */
export const DEFAULT_MAX_REBOOTS = 5;

export const DEFAULT_INITIAL_UPDATE_RETRY: InitialUpdateRetry = { maxAttempts: 5, busySeconds: 60, failedSeconds: 300, maxSeconds: 3600 };

/** One patch's failures so far, carried across cycles and continue-as-new. */
export interface PatchAttempts {
  updateId: string;
  kb: string;
  attempts: number;
  lastError?: string;
  lastExitCode?: number;
  /** not retried before this time (ISO) */
  notBefore?: string;
  /** attempts used up: reported, skipped until an operator's Reprocess failed re-arms it */
  needsAttention: boolean;
}

/** What continue-as-new carries into the next run. */
export interface InitialUpdateCarry {
  cycle: number;
  reboots: number;
  installed: string[];
  attempts: PatchAttempts[];
  runs: number;
  startedAt: string;
}

export interface InitialUpdateInput {
  deviceId: string;
  deviceName: string;
  clientId: string;
  clientName: string;
  siteId: string;
  siteName: string;
  workingFolder: string;
  installFolder: string;
  requestedBy: string;
  retry?: Partial<InitialUpdateRetry>;
  /** step pacing for each cycle's install (tests and demos shorten it) */
  installTiming?: InstallTimingInput;
  /** continue as new once the history passes this many events (default 8,000; Temporal warns at 10,240) */
  historyLimit?: number;
  /**
   * a device that restarts more than this many times in one Initial Update is in a reboot loop: the
   * Initial Update stops with the reason (default 5, as Ansible's and osconfig's guards)
   */
  maxReboots?: number;
  /** state from the previous run (continue-as-new) */
  carried?: InitialUpdateCarry;
}

export type InitialUpdateStep = 'claim' | 'scan' | 'install' | 'backoff' | 'done';

export interface InitialUpdateProgress {
  cycle: number;
  step: InitialUpdateStep;
  /** the group being installed, e.g. "os_security" */
  currentGroup?: string;
  currentInstallWorkflowId?: string;
  /** approved patches still missing (KBs) at the last scan */
  remaining: string[];
  installed: string[];
  /** patches that failed at least once, with attempts and the last error */
  failed: PatchAttempts[];
  reboots: number;
  /** how many runs the history has been split into (continue-as-new) */
  runs: number;
  startedAt: string;
  cancelRequested: boolean;
  /** why the Initial Update stopped early (a reboot loop) */
  stoppedReason?: string;
}

export interface InitialUpdateResult {
  /** `stopped_reboot_loop`: the device asked for more restarts than `maxReboots`; `stoppedReason` says so */
  outcome: 'completed' | 'completed_needs_attention' | 'cancelled' | 'stopped_reboot_loop';
  stoppedReason?: string;
  cycles: number;
  reboots: number;
  installed: string[];
  needsAttention: PatchAttempts[];
  runs: number;
}

export const initialUpdateProgressQuery = defineQuery<InitialUpdateProgress>('progress');

/** Stops the Initial Update after the current step; the running install still cleans up. */
export const cancelInitialUpdate = defineUpdate<{ accepted: boolean; cycle: number }, [{ reason?: string }]>('cancel');
