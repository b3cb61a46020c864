/**
 * One place for the activity options of a device step: how long an attempt may take, how long it may
 * go without a heartbeat, how retries back off while the device is away, and (optionally) a deadline
 * after which the step gives up. Pure: workflows import it.
 */
import type { ActivityOptions } from '@temporalio/workflow';

/** The timing a device step's options derive from (an install's resolved timing is one). */
export interface StepTiming {
  heartbeatTimeoutSeconds: number;
  retryInitialSeconds: number;
  retryMaxSeconds: number;
}

/** A device's retry policy: offered again after `retryInitialSeconds`, doubling up to `retryMaxSeconds`, for ever. */
export function deviceRetry(timing: Pick<StepTiming, 'retryInitialSeconds' | 'retryMaxSeconds'>): NonNullable<ActivityOptions['retry']> {
  return {
    initialInterval: `${timing.retryInitialSeconds} seconds`,
    maximumInterval: `${timing.retryMaxSeconds} seconds`,
    backoffCoefficient: 2,
  };
}

/**
 * Options of one device step. `attemptSeconds` limits each attempt; `deadlineSeconds` (when given)
 * bounds the whole step (each attempt then gets at most that long too); `summary` is what the Web UI
 * shows for the activity.
 */
export function stepOptions(
  timing: StepTiming,
  step: { attemptSeconds: number; summary?: string; deadlineSeconds?: number },
): ActivityOptions {
  const { attemptSeconds, summary, deadlineSeconds } = step;
  return {
    heartbeatTimeout: `${timing.heartbeatTimeoutSeconds} seconds`,
    startToCloseTimeout: `${deadlineSeconds === undefined ? attemptSeconds : Math.min(attemptSeconds, deadlineSeconds)} seconds`,
    ...(deadlineSeconds === undefined ? {} : { scheduleToCloseTimeout: `${deadlineSeconds} seconds` }),
    retry: deviceRetry(timing),
    ...(summary === undefined ? {} : { summary }),
  };
}
