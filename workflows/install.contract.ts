/**
 * The contract of deviceInstallWorkflow: its id scheme, input, progress, result and message
 * definitions. api/ and cli/ import this file, never the workflow body.
 */
import type { DownloadReport } from '../domain/file-source';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CleanupResult, CommandType, GoAhead, PatchStart } from '../domain/device-protocol';
import type { PatchStatus } from '../domain/patch-status';
import type { MaintenanceWindow } from '../domain/maintenance-window';
import type { RebootActionConfig } from '../domain/reboot-actions';
import type { HealthCheckSettings } from '../domain/health-check';

export const INSTALL_WORKFLOW_TYPE = 'deviceInstallWorkflow';

/**
 * The device steps an install runs (trust_keys belongs to the key rotation, workflows/trust-keys.ts;
 * patch_test to the Patch Test, workflows/patch-test.ts).
 */
export type InstallCommandType = Exclude<CommandType, 'trust_keys' | 'patch_test'>;
/** The steps with a timeout of their own: execute_patches allows execute's once per patch. */
export type TimedCommandType = Exclude<InstallCommandType, 'execute_patches'>;

/** `install/<deviceId>/<key>`: what and for whom, readable in the Web UI's list. */
export function installWorkflowId(deviceId: string, key: string): string {
  return `install/${deviceId}/${key}`;
}

/** The device id and key of an install workflow id, or undefined when it is not one. */
export function parseInstallWorkflowId(workflowId: string): { deviceId: string; key: string } | undefined {
  const m = /^install\/([^/]+)\/(.+)$/.exec(workflowId);
  return m ? { deviceId: m[1], key: m[2] } : undefined;
}

/** How long each device step may take per attempt, and how retries back off. */
export interface InstallTiming {
  /** per-attempt limit of each step: past it the device "did not answer" and the step is offered again */
  commandTimeoutSeconds: Record<TimedCommandType, number>;
  /** first wait before offering an unanswered step again (default 5 s) */
  retryInitialSeconds: number;
  /** longest wait between offers while a device stays offline (default 300 s) */
  retryMaxSeconds: number;
  /** how often an execution answered "another install is running" (1618) is retried (default 5) */
  busyRetries: number;
  /** wait before retrying a busy execution (default 60 s) */
  busyBackoffSeconds: number;
  /**
   * how long cleanup (and the verifying scan after a cancel during execute) may keep trying an
   * offline device before the install ends "cleanup pending", releases the device and leaves the
   * cleanup queued for its next check-in (default 3,600 s)
   */
  cleanupDeadlineSeconds: number;
  /**
   * how long a device step's attempt may go without a heartbeat (default 120 s). The gateway
   * heartbeats every step whose command waits in PostgreSQL, so only an attempt that never recorded
   * its command (its worker died) times out this early, and is retried on a live worker.
   */
  heartbeatTimeoutSeconds: number;
}

/** Realistic defaults: a cumulative update can take an hour to execute, a reboot half an hour. */
export const DEFAULT_INSTALL_TIMING: InstallTiming = {
  commandTimeoutSeconds: { scan: 600, download: 1800, copy: 600, execute: 3600, reboot: 1800, cleanup: 300, uninstall: 3600, health_check: 600 },
  retryInitialSeconds: 5,
  retryMaxSeconds: 300,
  busyRetries: 5,
  busyBackoffSeconds: 60,
  cleanupDeadlineSeconds: 3600,
  heartbeatTimeoutSeconds: 120,
};

export interface DeviceInstallInput {
  deviceId: string;
  /** names for summaries and logs */
  deviceName: string;
  clientId: string;
  clientName: string;
  siteId: string;
  siteName: string;
  /** explicit KBs to install; absent: every approved missing patch (skeleton: every missing patch) */
  kbs?: string[];
  /** may the install restart the device when a patch asks for it (default true) */
  rebootAllowed: boolean;
  workingFolder: string;
  installFolder: string;
  /** who asked: "api-key:admin", "demo" */
  requestedBy: string;
  timing?: InstallTimingInput;
  /**
   * The workflow that holds the device's one-operation claim when this install runs on its behalf
   * (an Initial Update cycle): the install works under that claim and leaves releasing it to the holder.
   */
  operationHolder?: string;
  /** Automatic Update settings; absent for manual installs and Initial Update cycles */
  automatic?: AutomaticInstallSettings;
  /**
   * A health check after the post-scan (the schedule's); a failure rolls back what this install
   * installed. Absent: no check (every install before issue 14 part 6).
   */
  healthCheck?: HealthCheckSettings;
}

/** How an Automatic Update runs an install (Kaseya's AU): reboot action, maintenance window, retry cap. */
export interface AutomaticInstallSettings {
  /** the schedule's timezone: reboot times and the maintenance window are local to it */
  timezone: string;
  rebootAction: RebootActionConfig;
  /** installs and reboots happen only inside it */
  maintenanceWindow?: MaintenanceWindow;
  /** a device whose pre-scan has not answered after this long is reported offline (nothing was staged) */
  offlineAfterSeconds: number;
  /** failed patches are retried at scheduled runs only, up to this many failures (default 5) */
  failureCap: number;
  /**
   * the device's last check-in before this install (ISO), for the user-deferral action's grace period:
   * a device last heard before the deadline and heard again after it was offline at the deadline
   */
  lastSeenAt?: string;
}

/** Timing as callers give it: any part may be left out and takes the default. */
export type InstallTimingInput = Partial<Omit<InstallTiming, 'commandTimeoutSeconds'>> & {
  commandTimeoutSeconds?: Partial<Record<TimedCommandType, number>>;
};

/** The defaults with `input` laid over them, step timeouts one by one. */
export function resolveTiming(input: InstallTimingInput = {}): InstallTiming {
  return {
    ...DEFAULT_INSTALL_TIMING,
    ...input,
    commandTimeoutSeconds: { ...DEFAULT_INSTALL_TIMING.commandTimeoutSeconds, ...input.commandTimeoutSeconds },
  };
}

/** Where the install is. */
export type InstallStep =
  | 'claim' | 'pre-scan' | 'download' | 'copy' | 'execute' | 'uninstall' | 'reboot' | 'post-scan' | 'health-check' | 'rollback'
  | 'cleanup' | 'done';

/** A missing patch the install left out, and why (policy, Ignore): shown to the operator. */
export interface RefusedPatch {
  updateId: string;
  kb: string;
  decision: string;
  reason: string;
}

export interface PatchProgress {
  updateId: string;
  kb: string;
  title: string;
  status: PatchStatus;
  exitCode?: number;
  /** why it failed or was not installed, in an operator's words */
  error?: string;
  /** which file source served its download, how fast, and what failed first (agents that report it) */
  download?: DownloadReport;
}

export interface InstallProgress {
  step: InstallStep;
  patches: PatchProgress[];
  /** KBs asked for explicitly that the device does not need (not applicable or already installed) */
  skippedKbs: string[];
  /** missing patches approval left out, with the resolver's reason (installs since approval policies) */
  refused?: RefusedPatch[];
  /** superseded updates skipped because their successor installs in the same run */
  supersededKbs?: string[];
  /** installed updates removed by an operator's Uninstall action */
  removals?: PatchProgress[];
  cancelRequested: boolean;
  rebooted: boolean;
  /** why a reboot that was needed did not happen (reboot action, user, maintenance window) */
  rebootSkipped?: string;
  /** cleanup did not reach the device in time: it is queued for the device's next check-in */
  cleanupPending?: string;
  /** a fleet-wide halt (kill switch) reached this install, at this step */
  halted?: InstallHalt & { step: InstallStep };
  /** KBs a halt of one patch took out of this install before they executed */
  haltedKbs?: (InstallHalt & { kb: string })[];
  /** the health check after the post-scan (installs with one), and the one after a rollback */
  healthCheck?: { check: string; healthy: boolean; output: string; afterRollback?: { healthy: boolean; output: string } };
  /** KBs this install uninstalled because the health check failed (they are Failed "rolled back: ...") */
  rolledBack?: string[];
  /** the rollback could not leave the device healthy (an uninstall failed...): a person must look */
  needsAttention?: string;
  /**
   * the user-deferral reboot (ask_user_allow_deferrals): each postponement, and why the restart was
   * forced (postponements used up, or the deadline, with the grace of a device offline at it)
   */
  rebootDeferrals?: {
    postponed: { at: string; minutes: number }[];
    forced?: string;
    deadline?: string;
    forceAt?: string;
    offlineAtDeadline?: boolean;
    /** offline at the deadline: when it answered again (its grace period counts from here) */
    cameBackAt?: string;
  };
}

/** Who stopped an install and why (the kill switch's halt signal). */
export interface InstallHalt {
  reason: string;
  by: string;
}

export type InstallOutcome =
  | 'succeeded' | 'partially_failed' | 'failed' | 'nothing_to_install' | 'cancelled' | 'offline'
  /** cleanup timed out on an unreachable device; the claim is released and cleanup runs at its next check-in */
  | 'cleanup_pending'
  /**
   * a fleet-wide halt stopped the install: before execute it cleaned up without executing anything;
   * during execute it finished the patch in hand and ran no more (its post-scan and cleanup still ran)
   */
  | 'halted';

export interface InstallResult extends InstallProgress {
  outcome: InstallOutcome;
  cleanup: CleanupResult | null;
}

/** Current step and per-patch state. */
export const progressQuery = defineQuery<InstallProgress>('progress');

/** Asks the install to stop: steps not yet run are skipped, cleanup still runs. */
export const cancelInstallUpdate = defineUpdate<{ accepted: boolean; step: InstallStep }, [{ reason?: string }]>('cancel');

/**
 * May the device start this patch of its execute_patches command now? Asked by the agent gateway when
 * the agent posts progress naming the patch it is about to start (api/command-result-service.ts), with
 * the gateway's clock (`at`, ISO): a query reads the install's own state (its halts, whatever sent them,
 * and its maintenance window) and costs no history event.
 */
export const executeGoAheadQuery = defineQuery<GoAhead, [PatchStart & { at: string }]>('executeGoAhead');

/**
 * The kill switch, sent by the fleet-wide halt: an install that has not reached execute cleans up and
 * ends `halted`; one that is executing finishes its current patch and stops. With `kb`, only that patch
 * is skipped (unless it is already executing) and the install goes on with the rest.
 */
export const haltInstallSignal = defineSignal<[{ reason: string; by: string; kb?: string }]>('halt');
