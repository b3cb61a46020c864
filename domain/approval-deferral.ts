/**
 * Approval deferral (issue 14 part 3, N-able's "approve N days after release"): an Approved status
 * that takes effect only N days after the patch's release. Until then the resolver treats the patch
 * as Pending Approval, with a reason that says until when. Pure: the instant the decision is for comes
 * in as an argument (the model's `now`), never from the clock, so a decision replays the same.
 */

/** N-able's range: 1–360 days. It suggests 15 or fewer (a month's cycle still installs the same month). */
export const APPROVE_AFTER_DAYS = Object.freeze({ min: 1, max: 360, suggestedMax: 15 });

const DAY_MS = 86_400_000;

/** Whether `days` is a deferral the API accepts: a whole number from 1 to 360. */
export function isApproveAfterDays(days: unknown): days is number {
  return typeof days === 'number' && Number.isInteger(days) && days >= APPROVE_AFTER_DAYS.min && days <= APPROVE_AFTER_DAYS.max;
}

/**
 * The instant a deferred approval takes effect: the release plus N whole days (UTC days, so a
 * release dated "2026-12-10" deferred 7 days takes effect at 2026-12-17T00:00Z). Null when the
 * release date is unknown or unreadable.
 */
export function deferredUntil(releasedAt: string | null | undefined, days: number): Date | null {
  if (!releasedAt) return null;
  const released = Date.parse(releasedAt);
  if (Number.isNaN(released)) return null;
  return new Date(released + days * DAY_MS);
}

export interface DeferralVerdict {
  /** true while the approval does not yet apply (also when the release date or the clock is unknown) */
  deferred: boolean;
  /** when it applies, as a UTC date "2026-12-17"; null when the release date is unknown */
  until: string | null;
  days: number;
}

/**
 * Whether a deferred approval applies at `nowMs` (ms since the epoch; NaN when the caller has no
 * clock, which keeps it deferred: nothing is approved early for want of a time).
 */
export function deferralAt(releasedAt: string | null | undefined, days: number, nowMs: number): DeferralVerdict {
  const until = deferredUntil(releasedAt, days);
  if (!until) return { deferred: true, until: null, days };
  return { deferred: !(nowMs >= until.getTime()), until: until.toISOString().slice(0, 10), days };
}

const plural = (n: number) => `${n} day${n === 1 ? '' : 's'}`;

/**
 * The reason's words: "deferred until 2026-12-17: approved 7 days after release" while deferred,
 * "approved 7 days after release (since 2026-12-17)" once it applies.
 */
export function describeDeferral(v: DeferralVerdict): string {
  if (v.until === null) return `deferred: approved ${plural(v.days)} after release, and the patch has no release date`;
  return v.deferred
    ? `deferred until ${v.until}: approved ${plural(v.days)} after release`
    : `approved ${plural(v.days)} after release (since ${v.until})`;
}

/**
 * What is wrong with a requested deferral, or undefined: out of 1–360 (N-able's range), not whole,
 * or on a status other than Approved (only an approval can wait for its date).
 */
export function approveAfterDaysProblem(days: number | undefined, status: string): string | undefined {
  if (days === undefined) return undefined;
  if (!isApproveAfterDays(days)) {
    return `must be a whole number of days from ${APPROVE_AFTER_DAYS.min} to ${APPROVE_AFTER_DAYS.max} `
      + `(${APPROVE_AFTER_DAYS.suggestedMax} or fewer is suggested), got ${days}`;
  }
  if (status !== 'approved') return `only an approved status can be deferred; this one is ${status}`;
  return undefined;
}
