/**
 * The contract of automaticUpdateWorkflow (one rollout of a schedule over its scope): ids, input,
 * progress, result. api/, cli/ and the schedule reconciler import this file.
 */
import type { HealthCheckSettings } from '../domain/health-check';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { MaintenanceWindow } from '../domain/maintenance-window';
import type { RebootActionConfig } from '../domain/reboot-actions';
import type { Tally } from '../domain/rollout-tally';
import type { InstallTimingInput } from './install.contract';

export const AUTOMATIC_UPDATE_WORKFLOW_TYPE = 'automaticUpdateWorkflow';

/**
 * `automatic-update/<scheduleId>`: the id a Temporal Schedule gives each rollout's workflow, to which
 * Temporal appends the scheduled time (`automatic-update/<scheduleId>-2026-12-09T07:00:00Z`).
 */
export function rolloutWorkflowIdPrefix(scheduleId: string): string {
  return `automatic-update/${scheduleId}`;
}

/** The Temporal Schedule that runs a Patchflow schedule. */
export function temporalScheduleId(scheduleId: string): string {
  return `patchflow-schedule-${scheduleId}`;
}

export type RolloutScope = {
  scopeType: 'all' | 'policy' | 'client' | 'site' | 'device_type';
  scopeId: string;
  /**
   * a release's ring (issue 14): of the scope's devices, only those whose first matching ring of the
   * plan is `index` (site, device type, a stable-hash sample, or the rest), optionally only `deviceIds`
   * of them (a retry of the failed ones). Resolved by the rollout's device-listing activity, so the
   * rollout workflow needs no change to run a ring.
   */
  ring?: RingSelection;
};

export interface RingSelection {
  planId: string;
  index: number;
  deviceIds?: string[];
}

export interface RolloutInput {
  scheduleId: string;
  scheduleName: string;
  /** scan only, or scan + install what policy approves + reboot as the action says */
  kind: 'scan' | 'automatic_update';
  scope: RolloutScope;
  timezone: string;
  /** each device starts at a deterministic random moment in [start, start + window] */
  distributionWindowMinutes: number;
  maintenanceWindow?: MaintenanceWindow;
  rebootAction: RebootActionConfig;
  /** at most this many devices in flight at once (Temporal's limit is 2,000 pending children) */
  maxConcurrentDevices: number;
  /** "run as soon as it checks in" schedules remember the devices that were offline */
  missedRun: 'skip' | 'run_on_check_in';
  /** a device whose scan has not answered after this long is offline (default: the window + 30 min) */
  offlineAfterSeconds?: number;
  installTiming?: InstallTimingInput;
  /** devices per run before continuing as new, so the history stays bounded (default 1,000) */
  devicesPerRun?: number;
  /** failed patches are retried at scheduled runs up to this many failures (default 5) */
  failureCap?: number;
  /**
   * a per-patch schedule: each device's install is an explicit install of these KBs (approval aside,
   * Ignore still wins); absent: what the approval policy approves
   */
  kbs?: string[];
  /** the schedule's health check: each install runs it after its post-scan, and rolls back on a failure */
  healthCheck?: HealthCheckSettings;
  /**
   * Automatic halt: once at least `minFinished` devices finished (done or failed) and failed/finished
   * is above `failureRate` (a fraction, 0.1 = 10%), the rollout halts itself (by 'automatic') and starts
   * no more devices until an operator resumes it. Absent: no automatic halt.
   */
  autoHalt?: { failureRate: number; minFinished: number };
  carried?: RolloutCarry;
}

/** Why a rollout stopped starting devices: the kill switch (an operator) or its own failure rate. */
export interface RolloutHalt {
  by: 'operator' | 'automatic';
  reason: string;
  /** who halted it (the operator's actor, or 'automatic') */
  actor?: string;
  at?: string;
}

/**
 * The defaults that shape a rollout's command sequence. They are written into each rollout's input
 * when it is started (api/schedule-service.ts), so changing one here changes new rollouts only, never
 * a running one; the workflow's own fallbacks serve only rollouts started before inputs carried them.
 */
export const ROLLOUT_DEFAULTS = {
  /** ~4 history events per device: 1,000 per run stays far below Temporal's 10,240-event warning */
  devicesPerRun: 1000,
  failureCap: 5,
  /** a device whose pre-scan has not answered this long after its distribution window is offline */
  offlineGraceSeconds: 1800,
} as const;

export interface RolloutDevice {
  deviceId: string;
  deviceName: string;
  clientId: string;
  clientName: string;
  siteId: string;
  siteName: string;
  workingFolder: string;
  installFolder: string;
  /**
   * the device's last check-in when the rollout listed it (ISO): a deadline's grace period needs to
   * know whether the device was away at the deadline (domain/install-deadline.ts)
   */
  lastSeenAt?: string;
}

/** A rollout's counts (the tally lives with its pure rules in domain/rollout-tally.ts). */
export type RolloutCounts = Tally;

export const EMPTY_COUNTS: RolloutCounts = {
  devices: 0, done: 0, failed: 0, offline: 0, busy: 0, rebootPending: 0, patchesInstalled: 0, patchesFailed: 0,
};

export interface RolloutCarry {
  /** the devices not yet started, carried whole: rollouts started before device lists were stored */
  remaining?: RolloutDevice[];
  /**
   * where the next run reads on in the rollout's stored device list (listRolloutDevices), and how long
   * it is: the list stays in PostgreSQL, so no payload holds it (since patched('rollout-device-pages'))
   */
  listed?: { offset: number; total: number };
  counts: RolloutCounts;
  startedAt: string;
  scheduledAt: string;
  runs: number;
  /** the halt still in force when the rollout continued as new (since patched('rollout-halt')) */
  halted?: RolloutHalt;
  /** KBs halted for this rollout's devices not yet started */
  haltedKbs?: HaltedKb[];
  /** an operator resumed an automatic halt: the rollout does not halt itself again */
  autoHaltOff?: boolean;
}

export interface RolloutProgress {
  scheduleName: string;
  kind: RolloutInput['kind'];
  scheduledAt: string;
  started: number;
  inFlight: number;
  waiting: number;
  counts: RolloutCounts;
  runs: number;
  /** the halt in force now, if any */
  halted?: RolloutHalt;
  haltedKbs?: HaltedKb[];
}

/** A patch halted for a rollout: devices not yet started leave it out. */
export interface HaltedKb { kb: string; reason: string; by: string }

export interface RolloutResult {
  /** halted: cancelled while halted (the devices not yet started never started) */
  outcome: 'completed' | 'skipped_duplicate_local_date' | 'halted';
  localSlot: string;
  counts: RolloutCounts;
  runs: number;
  /** the halt in force when the rollout ended */
  halted?: RolloutHalt;
  haltedKbs?: HaltedKb[];
}

export const rolloutProgressQuery = defineQuery<RolloutProgress>('progress');

/**
 * The kill switch, by name 'halt' (the fleet halt sends it to every running rollout and release): no
 * new device starts until 'resume'; running installs get haltInstallSignal. With `kb`, only that patch
 * is dropped for devices not yet started (and halted in running installs).
 */
export const haltRolloutSignal = defineSignal<[{ reason: string; by: string; kb?: string }]>('halt');
/**
 * Ends a halt. Without `kb`: the all-devices halt (operator's or automatic); with `kb`: that patch's.
 * `fleet: true` (the fleet resume) ends only an operator's halt, never the rollout's automatic one.
 */
export const resumeRolloutSignal = defineSignal<[{ by: string; kb?: string; fleet?: boolean }]>('resume');

/** The fleet halt state a rollout reads at start and before each batch (db/halt-repository.ts). */
export interface FleetHaltState {
  all?: { reason: string; by: string; at: string };
  kbs: { kb: string; reason: string; by: string; at: string }[];
}

/** What a rollout records when it halts itself (the recordAutoHalt activity, since patched('rollout-auto-halt-audit')). */
export interface AutoHaltRecord {
  workflowId: string;
  scheduleId: string;
  scheduleName: string;
  reason: string;
  failed: number;
  finished: number;
  /** the threshold crossed, a fraction */
  failureRate: number;
}

/** "failure rate 12.0% of 50 > 10%" */
export function autoHaltReason(failed: number, finished: number, failureRate: number): string {
  return `failure rate ${((failed / finished) * 100).toFixed(1)}% of ${finished} > ${+(failureRate * 100).toFixed(2)}%`;
}
