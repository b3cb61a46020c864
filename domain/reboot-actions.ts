/**
 * Kaseya's eight Reboot Actions (DOMAIN-RULES §2.4, rules 22–24): what happens after an install cycle
 * left patches waiting for a restart.
 *
 * The work is split the way a real agent splits it. The workflow plans (`planReboot`): no reboot, a
 * durable timer until a day and time in the device's time zone, or a reboot command at once. The
 * DEVICE applies the interactive part carried in the command's `mode` (is a user logged on? warn, ask,
 * wait for the answer), because only the device knows who is logged on. A device that does not
 * restart answers `succeeded` with `skipped` (see RebootResult); the workflow then rescans (rule 24).
 *
 * Pure and deterministic (Intl only): safe to import from workflow code. Its zod schema lives in
 * reboot-action-schema.ts, so the workflow bundle carries no zod: the worker's reusable V8 context
 * evaluates a workflow's modules once per cached workflow, and zod alone cost about 750 KiB each
 * (README "Benchmarks", open-workflows).
 */
import type { RebootPayload, RebootResult } from './device-protocol';
import {
  addDays, dayOfWeek, isKnownTimeZone, parseLocalTime, resolveLocalTime, wallClockAt, WEEKDAY_NAME, WEEKDAY_NUMBER, WEEKDAYS,
} from './local-time';
import { deadlineProblems } from './install-deadline';

/** The eight Reboot Actions, as Kaseya names them. */
export const RebootAction = {
  /** Reboot right after the update, without warning. */
  RebootImmediately: 'reboot_immediately',
  /** Reboot on a given day (or every day) at a given device-local time, only if an install cycle ran. */
  RebootAt: 'reboot_at',
  /** Warn the user the machine reboots in N minutes (no permission asked, cannot dismiss); nobody logged on → now. */
  WarnThenReboot: 'warn_then_reboot',
  /** DEFAULT: a user is logged on → skip the reboot (patches stay Reboot Required); nobody logged on → now. */
  SkipIfUserLoggedOn: 'skip_if_user_logged_on',
  /** A user is logged on → ask every N minutes until they accept; nobody logged on → now. */
  AskEveryNMinutes: 'ask_every_n_minutes',
  /** A user is logged on → ask; reboot if no answer in N minutes ("no" = no reboot); nobody logged on → now. */
  AskThenRebootIfNoAnswer: 'ask_then_reboot_if_no_answer',
  /** A user is logged on → ask; do nothing if no answer in N minutes ("yes" reboots); nobody logged on → now. */
  AskThenDoNothingIfNoAnswer: 'ask_then_do_nothing_if_no_answer',
  /** Never reboot: a rescan runs and the patches stay Reboot Required (pending clears if nothing is still missing). */
  DoNotReboot: 'do_not_reboot',
  /**
   * Issue 14 part 4, Kaseya's "ask every N minutes" with a limit: a user is logged on → ask "restart now,
   * or postpone M minutes?"; up to N postponements, then the restart is forced, and forced at once from
   * the deadline on (with a grace period for a device that was offline at it); nobody logged on → now.
   */
  AskUserAllowDeferrals: 'ask_user_allow_deferrals',
} as const;
export type RebootAction = (typeof RebootAction)[keyof typeof RebootAction];

/** Days for `reboot_at`: a weekday, or `every_day` (the next occurrence of the time). */
export const REBOOT_DAYS = [...WEEKDAYS, 'every_day'] as const;
export type RebootDay = (typeof REBOOT_DAYS)[number];

/** A Reboot Action with the parameters it needs. Minutes are 1–1440; time is "HH:MM" (24 h, device-local). */
export type RebootActionConfig =
  | { action: typeof RebootAction.RebootImmediately }
  | { action: typeof RebootAction.RebootAt; day: RebootDay; time: string }
  | { action: typeof RebootAction.WarnThenReboot; minutes: number }
  | { action: typeof RebootAction.SkipIfUserLoggedOn }
  | { action: typeof RebootAction.AskEveryNMinutes; minutes: number }
  | { action: typeof RebootAction.AskThenRebootIfNoAnswer; minutes: number }
  | { action: typeof RebootAction.AskThenDoNothingIfNoAnswer; minutes: number }
  | { action: typeof RebootAction.DoNotReboot }
  | {
      action: typeof RebootAction.AskUserAllowDeferrals;
      /** how many times the user may postpone (1–10) */
      deferrals: number;
      /** how long each postponement lasts, in minutes (1–1440) */
      minutes: number;
      /** days after the patch became available to the device after which postponements are ignored (0–30) */
      deadlineDays?: number;
      /** days a device offline at the deadline gets from when it comes back (0–7; needs deadlineDays) */
      graceDays?: number;
    };

/** The user-deferral action's limits (Intune: deadline 0–30 days, grace 0–7). */
export const USER_DEFERRAL_LIMITS = Object.freeze({ deferrals: { min: 1, max: 10 }, minutes: { min: 1, max: 1440 } });

/** Kaseya's default: skip the reboot when a user is logged on. */
export const DEFAULT_REBOOT_ACTION: RebootActionConfig = Object.freeze({ action: RebootAction.SkipIfUserLoggedOn });

/** The interaction a reboot command asks of the device (RebootPayload.mode). */
export type RebootMode = NonNullable<RebootPayload['mode']>;
/** Why a device did not restart (RebootResult.skipped.reason). */
export type RebootSkipReason = NonNullable<RebootResult['skipped']>['reason'];

// ---- validation (the zod schema and validateRebootAction: reboot-action-schema.ts) ----

/**
 * The rules a well-typed Reboot Action can still break (the API answers them with a 422 naming the
 * field): the user-deferral action's postponements 1–10 of 1–1440 minutes each, its deadline 0–30 days,
 * its grace 0–7 days and never a grace without a deadline. `where` prefixes the paths.
 */
export function rebootActionProblems(config: RebootActionConfig, where = 'rebootAction'): { path: string; message: string }[] {
  if (config.action !== RebootAction.AskUserAllowDeferrals) return [];
  const out: { path: string; message: string }[] = [];
  const ranged = (field: 'deferrals' | 'minutes', unit: string) => {
    const { min, max } = USER_DEFERRAL_LIMITS[field];
    const n = config[field];
    if (!Number.isInteger(n) || n < min || n > max) out.push({ path: `${where}.${field}`, message: `must be a whole number of ${unit} from ${min} to ${max}, got ${n}` });
  };
  ranged('deferrals', 'postponements');
  ranged('minutes', 'minutes');
  for (const p of deadlineProblems(config)) out.push({ path: `${where}.${p.field}`, message: p.message });
  return out;
}

// ---- description ----

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;

/** One human line for summaries and the UI, worded like Kaseya's Reboot Action page. */
export function describeRebootAction(config: RebootActionConfig): string {
  switch (config.action) {
    case RebootAction.RebootImmediately:
      return 'Reboot immediately after update';
    case RebootAction.RebootAt:
      return config.day === 'every_day'
        ? `Reboot every day at ${config.time} (device local time) after install`
        : `Reboot ${WEEKDAY_NAME[config.day]} at ${config.time} (device local time) after install`;
    case RebootAction.WarnThenReboot:
      return `Warn user that the machine will reboot in ${plural(config.minutes, 'minute')} (without asking permission); reboot at once if nobody is logged on`;
    case RebootAction.SkipIfUserLoggedOn:
      return 'Skip reboot if user logged on (patches stay Reboot Required until a reboot and rescan)';
    case RebootAction.AskEveryNMinutes:
      return `If user logged on, ask to reboot every ${plural(config.minutes, 'minute')} until the reboot occurs; reboot at once if nobody is logged on`;
    case RebootAction.AskThenRebootIfNoAnswer:
      return `If user logged on, ask permission; reboot if no response in ${plural(config.minutes, 'minute')}; reboot at once if nobody is logged on`;
    case RebootAction.AskThenDoNothingIfNoAnswer:
      return `If user logged on, ask permission; do nothing if no response in ${plural(config.minutes, 'minute')}; reboot at once if nobody is logged on`;
    case RebootAction.DoNotReboot:
      return 'Do not reboot after update (a rescan runs; patches stay Reboot Required)';
    case RebootAction.AskUserAllowDeferrals: {
      const deadline = config.deadlineDays === undefined ? ''
        : `; forced from ${plural(config.deadlineDays, 'day')} after the patch became available${config.graceDays ? ` (a device offline then gets ${plural(config.graceDays, 'day')} from its return)` : ''}`;
      return `If user logged on, ask to reboot; allow up to ${plural(config.deferrals, 'postponement')} of ${plural(config.minutes, 'minute')}, then force the reboot${deadline}; reboot at once if nobody is logged on`;
    }
  }
}

// ---- planning ----

export interface RebootPlanInput {
  /** an install cycle ran and left something waiting for a restart */
  rebootNeeded: boolean;
  /** workflow time */
  now: Date;
  /** the device's IANA time zone, e.g. "Europe/London" */
  timezone: string;
  /** the command's reason; default "patches installed pending reboot" */
  reason?: string;
}

export type RebootPlan =
  | {
      kind: 'none';
      /** `not_needed`: nothing waits for a restart; `do_not_reboot`: the action forbids it (rescan; patches stay Reboot Required) */
      reason: 'not_needed' | 'do_not_reboot';
      detail: string;
    }
  /** Sleep on a durable timer until `at`, then send `then` as the reboot command. */
  | { kind: 'wait_until'; at: Date; then: RebootPayload }
  /** Send `payload` as the reboot command now; the device applies its `mode`. */
  | { kind: 'command'; payload: RebootPayload };

/**
 * What the workflow does about the restart after an install cycle. Pure: `now` is the workflow's
 * clock, and `reboot_at` is computed in the device's time zone (throws a RangeError for an unknown
 * zone: check with `isKnownTimeZone` of domain/local-time first).
 */
export function planReboot(config: RebootActionConfig, input: RebootPlanInput): RebootPlan {
  if (!input.rebootNeeded) return { kind: 'none', reason: 'not_needed', detail: 'no patch is waiting for a restart' };
  const reason = input.reason ?? 'patches installed pending reboot';
  const payload = (mode: RebootMode): RebootPayload => ({ reason: `${reason} (${describeRebootAction(config)})`, mode });
  switch (config.action) {
    case RebootAction.DoNotReboot:
      return { kind: 'none', reason: 'do_not_reboot', detail: 'Reboot Action is "Do not reboot": rescan; patches stay Reboot Required' };
    case RebootAction.RebootImmediately:
      return { kind: 'command', payload: payload({ kind: 'immediate' }) };
    case RebootAction.RebootAt:
      return { kind: 'wait_until', at: nextOccurrence(config.day, config.time, input.now, input.timezone), then: payload({ kind: 'immediate' }) };
    case RebootAction.WarnThenReboot:
      return { kind: 'command', payload: payload({ kind: 'warn', minutes: config.minutes }) };
    case RebootAction.SkipIfUserLoggedOn:
      return { kind: 'command', payload: payload({ kind: 'skip_if_user_logged_on' }) };
    case RebootAction.AskEveryNMinutes:
      return { kind: 'command', payload: payload({ kind: 'ask_every', minutes: config.minutes }) };
    case RebootAction.AskThenRebootIfNoAnswer:
      return { kind: 'command', payload: payload({ kind: 'ask', minutes: config.minutes, ifNoAnswer: 'reboot' }) };
    case RebootAction.AskThenDoNothingIfNoAnswer:
      return { kind: 'command', payload: payload({ kind: 'ask', minutes: config.minutes, ifNoAnswer: 'do_nothing' }) };
    case RebootAction.AskUserAllowDeferrals:
      // The first question; the install's later ones come from domain/reboot-deferral.ts.
      return { kind: 'command', payload: payload({ kind: 'ask_defer', minutes: config.minutes, deferralsLeft: config.deferrals }) };
  }
}

/** A human line for why a device did not restart. */
export function describeRebootSkip(reason: RebootSkipReason): string {
  switch (reason) {
    case 'user_logged_on': return 'reboot skipped: a user is logged on';
    case 'user_declined': return 'reboot skipped: the user declined';
    case 'no_answer': return 'reboot skipped: the user did not answer';
    case 'user_deferred': return 'reboot postponed by the user';
  }
}

/**
 * The first instant strictly after `now` when the device's clock shows `time` on `day` (any day for
 * `every_day`). A time equal to now is next week's (or tomorrow's): a reboot is never planned for the past.
 */
export function nextOccurrence(day: RebootDay, time: string, now: Date, timezone: string): Date {
  const at = parseLocalTime(time);
  if (!at) throw new RangeError(`reboot time must be "HH:MM", got "${time}"`);
  if (!isKnownTimeZone(timezone)) throw new RangeError(`unknown time zone "${timezone}"`);
  const today = wallClockAt(now, timezone);
  for (let offset = 0; offset <= 8; offset++) {
    const date = addDays(today, offset);
    if (day !== 'every_day' && dayOfWeek(date) !== WEEKDAY_NUMBER[day]) continue;
    // A time the clock shows twice (it goes back) is its first; one it skips (it goes forward) moves
    // forward by the gap: 01:30 on the day London springs forward is 02:30 BST.
    const { instant } = resolveLocalTime(date, at.hour, at.minute, timezone);
    if (instant.getTime() > now.getTime()) return instant;
  }
  /* c8 ignore next */
  throw new Error(`no ${day} ${time} found in ${timezone} after ${now.toISOString()}`);
}

/**
 * The longest the device may keep a reboot command open while it warns or asks its user, in
 * seconds: the reboot step's timeout must cover it, or a patient prompt would look like an offline device.
 */
export function rebootInteractionSeconds(config: RebootActionConfig): number {
  switch (config.action) {
    case 'warn_then_reboot':
    case 'ask_then_reboot_if_no_answer':
    case 'ask_then_do_nothing_if_no_answer':
      return config.minutes * 60;
    case 'ask_every_n_minutes':
      return config.minutes * 60 * MAX_PROMPTS_PER_REBOOT;
    case 'ask_user_allow_deferrals':
      // one question at a time: the prompt stays up for at most `minutes` before it restarts
      return config.minutes * 60;
    default:
      return 0;
  }
}

/** The simulated and real agents stop asking after this many prompts (then report no answer). */
const MAX_PROMPTS_PER_REBOOT = 50;
