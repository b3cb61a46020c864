/**
 * The contract of automaticUpdateWorkflow (one rollout of a schedule over its scope): ids, input,
 * progress, result. api/, cli/ and the schedule reconciler import this file.
 */
import type { HealthCheckSettings } from '../domain/health-check';
import { defineQuery } from '@temporalio/workflow';
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
  /** the rollout stops starting new devices when its failure rate passes this (after minFinished finished) */
  autoHalt?: { failureRate: number; minFinished: number };
  carried?: RolloutCarry;
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
}

/** A rollout's counts (the tally lives with its pure rules in domain/rollout-tally.ts). */
export type RolloutCounts = Tally;

export const EMPTY_COUNTS: RolloutCounts = {
  devices: 0, done: 0, failed: 0, offline: 0, busy: 0, rebootPending: 0, patchesInstalled: 0, patchesFailed: 0,
};

export interface RolloutCarry {
  remaining: RolloutDevice[];
  counts: RolloutCounts;
  startedAt: string;
  scheduledAt: string;
  runs: number;
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
}

export interface RolloutResult {
  outcome: 'completed' | 'skipped_duplicate_local_date';
  halted?: { by: 'operator' | 'automatic'; reason: string };
  localSlot: string;
  counts: RolloutCounts;
  runs: number;
}

export const rolloutProgressQuery = defineQuery<RolloutProgress>('progress');
