/**
 * Maintenance windows: when installs and reboots may happen on a device, as local days and times in the
 * device's (or its schedule's) IANA time zone. A window opens at `start` on each chosen day and stays
 * open `durationMinutes`; it may run past midnight (22:00 for 360 minutes closes at 04:00 the next day)
 * and then belongs to the day it opened on, so a Saturday-night window still holds at 01:00 Sunday.
 *
 * Time-zone rules, chosen and tested here:
 * - The duration is real elapsed time: a 120-minute window across the hour repeated when clocks go back
 *   lasts 120 minutes, not 180 of clock face.
 * - A start in the hour repeated when clocks go back opens at its first occurrence (once a day).
 * - A start in the hour skipped when clocks go forward opens at the first moment the clock reads later
 *   than it: 02:30 on the US spring-forward Sunday opens at 03:00 EDT. (Install schedules instead move a
 *   skipped 02:30 run to 03:30, RFC 5545's reading, see schedule-spec.ts; a window opens as soon as it
 *   can so the night loses as little of it as possible.)
 *
 * Pure and deterministic (Intl only, `now` passed in): safe to import from workflow code. Its zod schema
 * lives in maintenance-window-schema.ts, so the workflow bundle carries no zod (reboot-actions.ts says why).
 */
import {
  addDays, instantsAtLocalTime, parseLocalTime, utcOffsetMsAt, wallClockAt, weekdayOf, WEEKDAYS, type LocalDate, type Weekday,
} from './local-time';

/** When installs and reboots may happen, in the local time of a zone the caller supplies. */
export interface MaintenanceWindow {
  /** Days the window opens on (a window past midnight belongs to the day it opens). @default every day */
  days?: Weekday[];
  /** Local opening time, 24-hour `HH:MM`. */
  start: string;
  /** How long the window stays open, in real minutes: 1–1440. */
  durationMinutes: number;
}

// ---- local time ----

const DAY_MS = 24 * 3600_000;

/**
 * The earliest instant, not before `notBefore` if given, at which a clock in `timezone` reads `date` at
 * `hour:minute`. In the hour skipped when clocks go forward the clock never reads it: then the instant the
 * clock jumps past it (02:30 on the US spring-forward date → 03:00 EDT). In the repeated hour, the first
 * occurrence not before `notBefore` (the last one if both are before it).
 */
export function firstInstantAtLocalTime(date: LocalDate, hour: number, minute: number, timezone: string, notBefore?: Date): Date {
  const found = instantsAtLocalTime(date, hour, minute, timezone);
  if (found.length > 0) {
    return found.find((d) => notBefore === undefined || d.getTime() >= notBefore.getTime()) ?? found[found.length - 1]!;
  }
  // A gap: binary-search the transition between the instant read with the offset after it (which the
  // clock shows as earlier) and the one read with the offset before it (shown as later). Whole seconds
  // suffice: wallClockAt reads whole seconds and zones change offset on whole seconds.
  const target = Date.UTC(date.year, date.month - 1, date.day, hour, minute);
  const readsAtOrAfter = (ms: number): boolean => {
    const w = wallClockAt(new Date(ms), timezone);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) >= target;
  };
  let lo = target - utcOffsetMsAt(new Date(target + DAY_MS), timezone);
  let hi = target - utcOffsetMsAt(new Date(target - DAY_MS), timezone);
  if (readsAtOrAfter(lo) || !readsAtOrAfter(hi)) return new Date(hi);
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (readsAtOrAfter(mid)) hi = mid;
    else lo = mid;
  }
  return new Date(hi);
}

function parseTime(hhmm: string): { hour: number; minute: number } {
  const time = parseLocalTime(hhmm);
  if (!time) throw new RangeError(`maintenance window start must be a 24-hour "HH:MM", got ${JSON.stringify(hhmm)}`);
  return time;
}

interface Occurrence {
  start: Date;
  end: Date;
}

/** The window's openings on local dates `from`+first … `from`+last days, earliest first. */
function occurrences(w: MaintenanceWindow, from: LocalDate, first: number, last: number, timezone: string): Occurrence[] {
  const { hour, minute } = parseTime(w.start);
  const out: Occurrence[] = [];
  for (let i = first; i <= last; i++) {
    const date = addDays(from, i);
    if (w.days && !w.days.includes(weekdayOf(date))) continue;
    const start = firstInstantAtLocalTime(date, hour, minute, timezone);
    out.push({ start, end: new Date(start.getTime() + w.durationMinutes * 60_000) });
  }
  return out;
}

/** Openings that contain `now` (start inclusive, end exclusive). At most 1440 minutes long, so two days back is enough. */
function containing(w: MaintenanceWindow, now: Date, timezone: string): Occurrence[] {
  const t = now.getTime();
  return occurrences(w, wallClockAt(now, timezone), -2, 0, timezone).filter((o) => o.start.getTime() <= t && t < o.end.getTime());
}

// ---- queries ----

/** Whether `now` is inside the window (from its opening instant, up to but not including its end). */
export function isInsideWindow(w: MaintenanceWindow, now: Date, timezone: string): boolean {
  return containing(w, now, timezone).length > 0;
}

/** `now` if inside the window, otherwise the next opening after `now`. Throws RangeError if `days` is empty. */
export function nextWindowStart(w: MaintenanceWindow, now: Date, timezone: string): Date {
  if (w.days && w.days.length === 0) throw new RangeError('maintenance window lists no days, so it never opens');
  if (isInsideWindow(w, now, timezone)) return new Date(now.getTime());
  const next = occurrences(w, wallClockAt(now, timezone), 0, 8, timezone).find((o) => o.start.getTime() > now.getTime());
  return next!.start;
}

// ---- description ----

const DAY_LABEL: Record<Weekday, string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

function describeDays(days: readonly Weekday[] | undefined): string {
  const chosen = WEEKDAYS.map((d) => days === undefined || days.includes(d));
  if (chosen.every(Boolean)) return 'Daily';
  const runs: string[] = [];
  for (let i = 0; i < 7; i++) {
    if (!chosen[i]) continue;
    let j = i;
    while (j + 1 < 7 && chosen[j + 1]) j++;
    runs.push(j === i ? DAY_LABEL[WEEKDAYS[i]!] : `${DAY_LABEL[WEEKDAYS[i]!]}–${DAY_LABEL[WEEKDAYS[j]!]}`);
    i = j;
  }
  return runs.join(', ');
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * One line for operators: "Sat–Sun 22:00–04:00 Europe/London", "Daily 02:00–04:00 UTC",
 * "Mon, Wed, Fri 00:00–00:00 (24 h) America/New_York". The end is the clock-face time, ignoring DST.
 */
export function describeMaintenanceWindow(w: MaintenanceWindow, timezone: string): string {
  const { hour, minute } = parseTime(w.start);
  const endMinutes = (hour * 60 + minute + w.durationMinutes) % 1440;
  const end = `${pad(Math.floor(endMinutes / 60))}:${pad(endMinutes % 60)}`;
  const fullDay = w.durationMinutes >= 1440 ? ' (24 h)' : '';
  return `${describeDays(w.days)} ${w.start}–${end}${fullDay} ${timezone}`;
}
