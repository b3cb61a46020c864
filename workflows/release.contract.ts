/**
 * The contract of releaseWorkflow (issue 14.1): a release of a cycle's patches through a plan's rings,
 * each ring an Automatic Update rollout (a child automaticUpdateWorkflow), promoted by its gate.
 * api/ and cli/ import this file.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ReleasePlan, RingResults } from '../domain/release-plan';
import type { RolloutInput } from './automatic-update.contract';

export const RELEASE_WORKFLOW_TYPE = 'releaseWorkflow';

/** `release/<planId>/<cycle>`: one release per plan and Patch Tuesday cycle (2026-12) or out-of-band patch (oob-KB…). */
export function releaseWorkflowId(planId: string, cycle: string): string {
  return `release/${planId}/${cycle}`;
}

/** Who or what halted a release: an operator (the kill switch), a ring's halt threshold, or its promotion gate. */
export interface ReleaseHalt {
  reason: string;
  by: string;
  /** true: the ring's own halt threshold or its gate; false: an operator */
  automatic: boolean;
}

/** How each ring's rollout runs (the rollout's settings other than its devices, patches and threshold). */
export type RingRolloutSettings = Pick<RolloutInput,
  'timezone' | 'distributionWindowMinutes' | 'maintenanceWindow' | 'rebootAction' | 'maxConcurrentDevices'
  | 'offlineAfterSeconds' | 'installTiming' | 'devicesPerRun' | 'failureCap' | 'missedRun'>;

export interface ReleaseInput {
  /** the plan as it was when the release started: an edit of the plan never reaches a running release */
  plan: ReleasePlan;
  cycle: string;
  /** the patches released */
  kbs: string[];
  /** the patches' release: deferrals "after release" count from here */
  releasedAt: string;
  startedBy: string;
  rollout: RingRolloutSettings;
}

export type RingOutcome = 'promoted' | 'promoted_manually' | 'skipped' | 'aborted';

export interface RingRecord {
  index: number;
  name: string;
  startedAt?: string;
  /** when the gate read the ring's results (after the soak) */
  evaluatedAt?: string;
  /** each run of the ring's rollout (a retry or a resume adds one) */
  rollouts: string[];
  kbs: string[];
  devices?: number;
  results?: RingResults;
  /** the gate's sentence, or who promoted and why */
  decision?: string;
  outcome?: RingOutcome;
}

export type ReleasePhase = 'waiting_deferral' | 'rolling_out' | 'soaking' | 'halted' | 'completed' | 'aborted';

export interface ReleaseProgress {
  planId: string;
  planName: string;
  cycle: string;
  phase: ReleasePhase;
  ringIndex: number;
  /** why the release is halted (its gate, a ring's halt threshold, or an operator), while halted */
  halted?: ReleaseHalt;
  /** when the current ring starts (while waiting for its deferral) */
  ringStartsAt?: string;
  rings: RingRecord[];
  /** failed in a ring: left out of later rings */
  excludedKbs: string[];
  /** paused by an operator: left out of the current and every later ring */
  pausedKbs: string[];
  /** every decision, in order ("ring 1: 96.2% success of 52 ≥ 95% after 24 h soak, promoted") */
  log: string[];
}

export interface ReleaseResult {
  outcome: 'completed' | 'aborted';
  rings: RingRecord[];
  log: string[];
}

/**
 * An operator's answer to a release (an Update): `resume` a halted one (a ring's rollout stopped: go
 * on with the devices it did not reach; halted at its gate: promote anyway), `retry` the failed
 * devices of the halted ring, `abort`, or `promote` the current ring now (while it waits for its
 * deferral, soaks, or is halted).
 */
export interface ReleaseAction {
  action: 'resume' | 'retry' | 'abort' | 'promote';
  by: string;
  reason?: string;
}

export const releaseActionUpdate = defineUpdate<ReleaseProgress, [ReleaseAction]>('releaseAction');
export const releaseProgressQuery = defineQuery<ReleaseProgress>('progress');
/**
 * The kill switch's signals to every running release: `halt` stops it starting rings and devices
 * (with `kb`: that patch is paused, left out of the current and every later ring); `resume` lifts an
 * operator's halt.
 */
export const haltReleaseSignal = defineSignal<[{ reason: string; by: string; kb?: string }]>('halt');
export const resumeReleaseSignal = defineSignal<[{ by: string }]>('resume');
