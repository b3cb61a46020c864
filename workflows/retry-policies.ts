/**
 * The retry policies of the workflows' server-side activities, each named for what it retries, so one
 * kind of work backs off the same way everywhere. (A device step's policy is `deviceRetry` in
 * step-options.ts: it retries for as long as the device is away.) Retry options are not part of a
 * history's command sequence, so changing one here never breaks a replay.
 */
import type { ActivityOptions } from '@temporalio/workflow';

type RetryPolicy = NonNullable<ActivityOptions['retry']>;

/** Bookkeeping writes to PostgreSQL (local activities): quick first retry, for ever, as the database comes back. */
export const BOOKKEEPING_RETRY: RetryPolicy = { initialInterval: '1 second', maximumInterval: '30 seconds' };

/** Reading or writing Patchflow's own state (scan results, request rows, report status): for ever, capped at 30 s apart. */
export const STATE_RETRY: RetryPolicy = { maximumInterval: '30 seconds' };

/** Work whose run is repeated by its Schedule anyway (a catalog feed, alert rules and webhooks): a few tries, then the next run. */
export const SCHEDULED_RUN_RETRY: RetryPolicy = { initialInterval: '5 seconds', maximumInterval: '1 minute', maximumAttempts: 5 };

/** An operator's request that runs an action once approved: bounded, so a broken action ends the request visibly. */
export const REQUESTED_ACTION_RETRY: RetryPolicy = { maximumInterval: '30 seconds', maximumAttempts: 10 };

/** Writing a report file: a few tries; a report that cannot be written is marked failed, not retried for ever. */
export const REPORT_WRITE_RETRY: RetryPolicy = { initialInterval: '5 seconds', maximumAttempts: 3 };
