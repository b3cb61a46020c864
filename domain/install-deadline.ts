/**
 * Deadlines and grace periods (issue 14 part 3, Intune's semantics): a deadline 0–30 days after a
 * patch became available to the device, after which the install ignores the user's deferrals and
 * restarts as forced; and a grace period of 0–7 days for a device that was offline at the deadline,
 * counted from when it comes back, so that a laptop back from a fortnight away is not restarted the
 * minute it connects.
 *
 * Pure date arithmetic (no clock, no I/O): the workflow passes its own time and what it saw of the
 * device, so that the same history gives the same decision on replay.
 */

export const DEADLINE_DAYS = Object.freeze({ min: 0, max: 30 });
export const GRACE_DAYS = Object.freeze({ min: 0, max: 7 });

const DAY_MS = 86_400_000;

export interface DeadlineSettings {
  /** days after the patch became available to the device (0–30) */
  deadlineDays: number;
  /** days a device offline at the deadline gets from when it comes back (0–7; default 0) */
  graceDays?: number;
}

/**
 * A stretch when the device did not answer: from the moment Patchflow started waiting for it to the
 * moment it answered again (ms since the epoch).
 */
export interface Silence {
  fromMs: number;
  toMs: number;
}

export interface Enforcement {
  /** availableAt + deadlineDays */
  deadlineMs: number;
  /** the device was silent across the deadline */
  offlineAtDeadline: boolean;
  /** when it answered again after the deadline (offline at the deadline only) */
  cameBackMs?: number;
  /** from this instant on, deferrals are ignored and the restart is forced */
  forceAtMs: number;
  /** one line an operator reads */
  why: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/:\d\d\.\d{3}Z$/, 'Z');
const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`;

/**
 * When the install stops honouring deferrals. A device that was heard from at the deadline is forced
 * from the deadline on. A device silent across the deadline is forced from the later of the deadline
 * and its return + the grace period (Intune: "the grace period starts when the device comes back
 * online"); with a grace of 0 that is the moment it comes back. Of several silences, the one that
 * spans the deadline counts (there is at most one).
 */
export function enforcementOf(settings: DeadlineSettings, availableAtMs: number, silences: readonly Silence[]): Enforcement {
  const deadlineMs = availableAtMs + settings.deadlineDays * DAY_MS;
  const grace = settings.graceDays ?? 0;
  const across = silences.find((s) => s.fromMs <= deadlineMs && s.toMs > deadlineMs);
  if (!across) {
    return { deadlineMs, offlineAtDeadline: false, forceAtMs: deadlineMs, why: `deadline ${iso(deadlineMs)} (${days(settings.deadlineDays)} after the patch became available)` };
  }
  const forceAtMs = Math.max(deadlineMs, across.toMs + grace * DAY_MS);
  return {
    deadlineMs, offlineAtDeadline: true, cameBackMs: across.toMs, forceAtMs,
    why: `offline at the deadline ${iso(deadlineMs)}; back at ${iso(across.toMs)}, so forced from ${iso(forceAtMs)} (grace period: ${days(grace)})`,
  };
}

/**
 * The device's silences as the install saw them: a request sent at `sentMs` and answered at
 * `answeredMs` after the device itself took `busyMs` (a prompt left open, for instance) was a silence
 * when the rest of the wait is longer than `slackMs` (an agent polls at least every two minutes).
 */
export function silenceOf(sentMs: number, answeredMs: number, busyMs: number, slackMs: number): Silence | undefined {
  return answeredMs - sentMs - busyMs > slackMs ? { fromMs: sentMs, toMs: answeredMs } : undefined;
}

export interface DeadlineProblem {
  /** the field, relative to the object checked: "deadlineDays", "graceDays" */
  field: 'deadlineDays' | 'graceDays';
  message: string;
}

/**
 * What is wrong with a deadline and grace (Intune's ranges): the deadline a whole 0–30 days, the grace
 * a whole 0–7 days, and no grace without a deadline (a grace counts from a deadline).
 */
export function deadlineProblems(s: { deadlineDays?: number; graceDays?: number }): DeadlineProblem[] {
  const out: DeadlineProblem[] = [];
  const whole = (n: number, r: { min: number; max: number }) => Number.isInteger(n) && n >= r.min && n <= r.max;
  if (s.deadlineDays !== undefined && !whole(s.deadlineDays, DEADLINE_DAYS)) {
    out.push({ field: 'deadlineDays', message: `must be a whole number of days from ${DEADLINE_DAYS.min} to ${DEADLINE_DAYS.max}, got ${s.deadlineDays}` });
  }
  if (s.graceDays !== undefined && s.deadlineDays === undefined) {
    out.push({ field: 'graceDays', message: 'a grace period needs a deadline: set deadlineDays (0–30) too, or leave graceDays out' });
  } else if (s.graceDays !== undefined && !whole(s.graceDays, GRACE_DAYS)) {
    out.push({ field: 'graceDays', message: `must be a whole number of days from ${GRACE_DAYS.min} to ${GRACE_DAYS.max}, got ${s.graceDays}` });
  }
  return out;
}
