import type { CalendarSpec, DayOfWeek, Month, ScheduleSpec } from '@temporalio/client';
import { UnprocessableError } from './errors';
import {
  addDays,
  dayOfWeek,
  daysInMonth,
  formatLocalDate,
  instantsAtLocalTime,
  isKnownTimeZone,
  LOCAL_TIME_PATTERN,
  parseLocalTime,
  resolveLocalTime,
  utcOffsetMsAt,
  wallClockAt,
  WEEKDAY_NAME,
  WEEKDAY_NUMBER,
  WEEKDAYS,
  type LocalDate,
  type Weekday,
} from './local-time';

/**
 * Operators' install schedules (DOMAIN-RULES §1.5, §2.3, rule 16): daily, weekly on chosen days,
 * monthly relative to Patch Tuesday, or monthly on a day of the month, at a local time in an IANA
 * zone; how they become a Temporal Schedule spec; and when they run next, computed here in pure code
 * (for the API's "next runs" and to check the spec).
 *
 * Rules, beyond what Temporal's calendar does by itself:
 * - One run per local date. Temporal follows the wall clock literally: an action in the hour repeated
 *   when clocks go back fires twice, one in the hour skipped when clocks go forward does not fire.
 *   - Repeated hour: the Schedule still fires twice; the workflow it starts drops the second one
 *     (`isRepeatedLocalTime(scheduledTime, timezone)`, stateless) and keys its idempotency on
 *     `localRunDate(scheduledTime, timezone)`, which also absorbs any other second run on one date.
 *     `nextRunTimes` lists the first only.
 *   - Skipped hour: the run happens, moved forward by the gap (02:30 on a US spring-forward Sunday runs
 *     at 03:30 EDT), the RFC 5545 reading. Temporal would skip it, so `toTemporalScheduleSpec` adds one
 *     calendar per affected date, pinned to year/month/day, for the years it is asked to cover (default:
 *     ten from `from`). Past that horizon, update the Schedule (re-run this function) or those dates are
 *     skipped. If a zone's rules change, a stale pinned entry can only add a second run on a run date,
 *     which the `localRunDate` guard drops.
 * - `monthly_weekday` is N-able's "Second Tuesday" / "Last Friday": the Nth (1st–5th) or the last given
 *   weekday of the month. A 5th weekday skips the months that have none (there is no sensible nearer
 *   date: the 4th would run twice that month in a sense, and "last" is its own choice); "last" always runs.
 * - `monthly_day` 29–31 in a shorter month runs on that month's last day (clamp, as most RMMs do): a
 *   patch schedule that silently skipped five months a year would leave machines unpatched for two
 *   months. RFC 5545 (and Temporal's bare calendar) would skip instead.
 * - `monthly_patch_tuesday` offsets -7…+21 days from the second Tuesday. Up to +14 one calendar says
 *   it (weekday Tuesday+d, days 8+d…14+d); from +15 the date can fall in the next month, so further
 *   calendars match those early days, per length of the month before.
 * - Leap years that those calendars must tell apart are listed through 2399.
 */

/** Smallest and largest offset from Patch Tuesday, in days. */
export const PATCH_TUESDAY_OFFSET_MIN = -7;
export const PATCH_TUESDAY_OFFSET_MAX = 21;

/** Which occurrence of a weekday in the month: the 1st to the 5th, or the last. */
export type WeekOfMonth = 1 | 2 | 3 | 4 | 5 | 'last';
export const WEEKS_OF_MONTH: readonly WeekOfMonth[] = [1, 2, 3, 4, 5, 'last'];

/** `HH:MM`, 24-hour, local to `timezone`. */
export type LocalTimeOfDay = string;

/** A validated install schedule (build it with `parseScheduleTiming`). */
export type ScheduleTiming =
  | { kind: 'daily'; time: LocalTimeOfDay; timezone: string }
  | { kind: 'weekly'; days: Weekday[]; time: LocalTimeOfDay; timezone: string }
  /** The second Tuesday of the month plus `offsetDays` (1 = the Wednesday after Patch Tuesday). */
  | { kind: 'monthly_patch_tuesday'; offsetDays: number; time: LocalTimeOfDay; timezone: string }
  /** The `week`th (1–5) or the last `weekday` of every month; a 5th weekday skips months without one. */
  | { kind: 'monthly_weekday'; week: WeekOfMonth; weekday: Weekday; time: LocalTimeOfDay; timezone: string }
  /** Day `day` of every month; 29–31 run on the last day of shorter months. */
  | { kind: 'monthly_day'; day: number; time: LocalTimeOfDay; timezone: string };

/** Options of `toTemporalScheduleSpec`. */
export interface ScheduleSpecOptions {
  /** Start of the horizon for the pinned spring-forward entries. @default new Date() */
  from?: Date;
  /** How many calendar years (from `from`'s year) the pinned spring-forward entries cover. @default 10 */
  dstYears?: number;
}

// ---------------------------------------------------------------------------------------------------
// Validation

// IANA names are case-sensitive on the Temporal server (Go loads them as file names), while Intl
// accepts any case: ask for the canonical capitalisation.
const IANA_NAME_RE = /^(UTC|[A-Z][A-Za-z0-9_+-]*(\/[A-Z0-9][A-Za-z0-9_+-]*)*)$/;

function invalid(message: string, field: string): never {
  throw new UnprocessableError(`invalid schedule: ${message}`, field);
}

function parseTime(v: unknown): LocalTimeOfDay {
  if (typeof v !== 'string' || !LOCAL_TIME_PATTERN.test(v)) invalid(`time must be HH:MM on a 24-hour clock (00:00–23:59), got ${JSON.stringify(v)}`, 'time');
  return v;
}

function parseTimezone(v: unknown): string {
  if (typeof v !== 'string' || v === '') invalid(`timezone must be an IANA time zone name such as "Europe/London", got ${JSON.stringify(v)}`, 'timezone');
  if (!isKnownTimeZone(v)) invalid(`unknown time zone ${JSON.stringify(v)}: use an IANA name such as "America/New_York"`, 'timezone');
  if (!IANA_NAME_RE.test(v)) {
    const canonical = new Intl.DateTimeFormat('en-US', { timeZone: v }).resolvedOptions().timeZone;
    invalid(`time zone ${JSON.stringify(v)} must be spelled as IANA spells it (case-sensitive), e.g. ${JSON.stringify(canonical)}`, 'timezone');
  }
  return v;
}

function parseInteger(v: unknown, field: string, min: number, max: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) invalid(`${what} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`, field);
  return v;
}

/**
 * Checks an operator's schedule (e.g. a request body) and returns it typed and normalised (weekly days
 * de-duplicated, Monday first). Throws `UnprocessableError` naming the field and what is wrong.
 */
export function parseScheduleTiming(input: unknown): ScheduleTiming {
  if (typeof input !== 'object' || input === null) invalid('expected an object with kind, time and timezone', 'kind');
  const o = input as Record<string, unknown>;
  switch (o.kind) {
    case 'daily':
      return { kind: 'daily', time: parseTime(o.time), timezone: parseTimezone(o.timezone) };
    case 'weekly': {
      if (!Array.isArray(o.days) || o.days.length === 0) invalid(`days must list at least one of ${WEEKDAYS.join(', ')}`, 'days');
      for (const d of o.days) if (!WEEKDAYS.includes(d as Weekday)) invalid(`unknown day ${JSON.stringify(d)}: use ${WEEKDAYS.join(', ')}`, 'days');
      const days = WEEKDAYS.filter((d) => (o.days as unknown[]).includes(d));
      return { kind: 'weekly', days, time: parseTime(o.time), timezone: parseTimezone(o.timezone) };
    }
    case 'monthly_patch_tuesday':
      return {
        kind: 'monthly_patch_tuesday',
        offsetDays: parseInteger(o.offsetDays, 'offsetDays', PATCH_TUESDAY_OFFSET_MIN, PATCH_TUESDAY_OFFSET_MAX, 'offsetDays (days after Patch Tuesday)'),
        time: parseTime(o.time),
        timezone: parseTimezone(o.timezone),
      };
    case 'monthly_weekday': {
      if (!WEEKS_OF_MONTH.includes(o.week as WeekOfMonth)) invalid(`week must be 1, 2, 3, 4, 5 or "last" (which occurrence of the weekday in the month), got ${JSON.stringify(o.week)}`, 'week');
      if (!WEEKDAYS.includes(o.weekday as Weekday)) invalid(`weekday must be one of ${WEEKDAYS.join(', ')}, got ${JSON.stringify(o.weekday)}`, 'weekday');
      return { kind: 'monthly_weekday', week: o.week as WeekOfMonth, weekday: o.weekday as Weekday, time: parseTime(o.time), timezone: parseTimezone(o.timezone) };
    }
    case 'monthly_day':
      return { kind: 'monthly_day', day: parseInteger(o.day, 'day', 1, 31, 'day of the month'), time: parseTime(o.time), timezone: parseTimezone(o.timezone) };
    default:
      return invalid(`kind must be one of daily, weekly, monthly_patch_tuesday, monthly_weekday, monthly_day, got ${JSON.stringify(o.kind)}`, 'kind');
  }
}

// ---------------------------------------------------------------------------------------------------
// Which local dates run

const TEMPORAL_DAY: readonly DayOfWeek[] = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
const TUESDAY = 2;

/** A validated timing's time of day (parseScheduleTiming let only `HH:MM` through). */
function hourMinute(time: LocalTimeOfDay): { hour: number; minute: number } {
  return parseLocalTime(time)!;
}

/** The second Tuesday of a month: day 8–14. */
export function patchTuesday(year: number, month: number): LocalDate {
  const firstTuesday = 1 + ((TUESDAY - dayOfWeek({ year, month, day: 1 }) + 7) % 7);
  return { year, month, day: firstTuesday + 7 };
}

/** Whether the schedule runs on this local date (the time of day aside). */
export function runsOnLocalDate(t: ScheduleTiming, date: LocalDate): boolean {
  switch (t.kind) {
    case 'daily':
      return true;
    case 'weekly':
      return t.days.some((d) => WEEKDAY_NUMBER[d] === dayOfWeek(date));
    case 'monthly_day':
      return date.day === Math.min(t.day, daysInMonth(date.year, date.month));
    case 'monthly_weekday':
      if (dayOfWeek(date) !== WEEKDAY_NUMBER[t.weekday]) return false;
      return t.week === 'last' ? date.day + 7 > daysInMonth(date.year, date.month) : Math.ceil(date.day / 7) === t.week;
    case 'monthly_patch_tuesday': {
      const base = addDays(date, -t.offsetDays);
      const pt = patchTuesday(base.year, base.month);
      return base.day === pt.day;
    }
  }
}

/**
 * The next `count` run instants strictly after `from`, one per local run date: at `time` on each run
 * date; in a repeated hour the first instant; in a skipped hour moved forward by the gap.
 * These are the Schedule's own next action times, minus the repeated-hour duplicates its workflow drops.
 */
export function nextRunTimes(t: ScheduleTiming, from: Date, count: number): Date[] {
  const timing = parseScheduleTiming(t);
  if (!Number.isInteger(count) || count < 0 || count > 1000) throw new RangeError(`count must be a whole number from 0 to 1000, got ${count}`);
  const { hour, minute } = hourMinute(timing.time);
  const start = wallClockAt(from, timing.timezone);
  const out: Date[] = [];
  // A day early: a run on the previous local date can still lie after `from` when shifted by a gap.
  let date = addDays(start, -1);
  for (let i = 0; out.length < count && i < count * 62 + 400; i++, date = addDays(date, 1)) {
    if (!runsOnLocalDate(timing, date)) continue;
    const { instant } = resolveLocalTime(date, hour, minute, timing.timezone);
    if (instant.getTime() > from.getTime()) out.push(instant);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// The workflow's guard

/** The local date (`YYYY-MM-DD`) of an instant in a zone: the key for "one run per local date". */
export function localRunDate(instant: Date, timezone: string): string {
  return formatLocalDate(wallClockAt(instant, timezone));
}

/**
 * Whether the clock in `timezone` already showed this same time earlier the same day: true for the
 * second firing of a Schedule whose time falls in the hour repeated when clocks go back. Pass the
 * nominal scheduled time (the `TemporalScheduledStartTime` search attribute), not the jittered start.
 */
export function isRepeatedLocalTime(scheduledTime: Date, timezone: string): boolean {
  const w = wallClockAt(scheduledTime, timezone);
  const same = instantsAtLocalTime(w, w.hour, w.minute, timezone, w.second);
  return same.length > 1 && Math.floor(scheduledTime.getTime() / 1000) * 1000 > same[0]!.getTime();
}

// ---------------------------------------------------------------------------------------------------
// The Temporal spec

/** Leap years 2000–2399, as Temporal year ranges. */
const LEAP_YEARS = [
  { start: 2000, end: 2096, step: 4 },
  { start: 2104, end: 2196, step: 4 },
  { start: 2204, end: 2296, step: 4 },
  { start: 2304, end: 2396, step: 4 },
];
/** Months after a 31-day month, and after a 30-day month. */
const AFTER_31: Month[] = ['JANUARY', 'FEBRUARY', 'APRIL', 'JUNE', 'AUGUST', 'SEPTEMBER', 'NOVEMBER'];
const AFTER_30: Month[] = ['MAY', 'JULY', 'OCTOBER', 'DECEMBER'];
const MONTHS_OF_31: Month[] = ['JANUARY', 'MARCH', 'MAY', 'JULY', 'AUGUST', 'OCTOBER', 'DECEMBER'];
const MONTHS_OF_30: Month[] = ['APRIL', 'JUNE', 'SEPTEMBER', 'NOVEMBER'];
const MONTH_NAME: Month[] = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];

function days(start: number, end: number): CalendarSpec['dayOfMonth'] {
  return start === end ? start : { start, end };
}

/** The calendars (and skips) that match a timing's run dates at its time, before DST handling. */
function baseCalendars(t: ScheduleTiming): { calendars: CalendarSpec[]; skip: CalendarSpec[] } {
  const { hour, minute } = hourMinute(t.time);
  const at = { hour, minute };
  switch (t.kind) {
    case 'daily':
      return { calendars: [{ ...at, comment: 'every day' }], skip: [] };
    case 'weekly':
      return { calendars: [{ ...at, dayOfWeek: t.days.map((d) => TEMPORAL_DAY[WEEKDAY_NUMBER[d]]!), comment: describeDays(t.days) }], skip: [] };
    case 'monthly_day': {
      const calendars: CalendarSpec[] = [{ ...at, dayOfMonth: t.day, comment: `day ${t.day}` }];
      const skip: CalendarSpec[] = [];
      if (t.day === 31) calendars.push({ ...at, month: ['APRIL', 'JUNE', 'SEPTEMBER', 'NOVEMBER'], dayOfMonth: 30, comment: 'day 31, clamped to the 30th' });
      if (t.day >= 30) calendars.push({ ...at, month: 'FEBRUARY', dayOfMonth: 29, comment: `day ${t.day}, clamped to February 29 (exists in leap years only)` });
      if (t.day >= 29) {
        calendars.push({ ...at, month: 'FEBRUARY', dayOfMonth: 28, comment: `day ${t.day}, clamped to February 28 (common years)` });
        skip.push({ ...at, month: 'FEBRUARY', dayOfMonth: 28, year: LEAP_YEARS, comment: 'February 28 of leap years: the clamp runs on the 29th' });
      }
      return { calendars, skip };
    }
    case 'monthly_weekday': {
      // A calendar ANDs day-of-week and day-of-month: the Nth weekday is that weekday within days
      // 7N-6…7N (the 5th: 29–31, so months without one have no match). The last one is that weekday
      // within the month's last seven days, which depend on the month's length: one calendar per length,
      // and February's leap years told apart by a skip (22 February is not in a 29-day February's last week).
      const dayOfWeek = TEMPORAL_DAY[WEEKDAY_NUMBER[t.weekday]]!;
      const label = describeWeekday(t.week, t.weekday);
      if (t.week !== 'last') return { calendars: [{ ...at, dayOfWeek, dayOfMonth: days(7 * t.week - 6, Math.min(31, 7 * t.week)), comment: label }], skip: [] };
      return {
        calendars: [
          { ...at, dayOfWeek, month: MONTHS_OF_31, dayOfMonth: days(25, 31), comment: `${label} (31-day months)` },
          { ...at, dayOfWeek, month: MONTHS_OF_30, dayOfMonth: days(24, 30), comment: `${label} (30-day months)` },
          { ...at, dayOfWeek, month: 'FEBRUARY', dayOfMonth: days(22, 29), comment: `${label} (February)` },
        ],
        skip: [{ ...at, dayOfWeek, month: 'FEBRUARY', dayOfMonth: 22, year: LEAP_YEARS, comment: `${label}: 22 February is not in the last week of a leap February` }],
      };
    }
    case 'monthly_patch_tuesday': {
      // Patch Tuesday + d falls on weekday Tuesday+d, on day 8+d…14+d counted from the start of Patch
      // Tuesday's month. A calendar ANDs day-of-week and day-of-month, so this window (seven days, one of
      // each weekday) picks exactly that date; cron would OR them.
      const d = t.offsetDays;
      const dayOfWeek = TEMPORAL_DAY[(((TUESDAY + d) % 7) + 7) % 7]!;
      const label = `second Tuesday ${d < 0 ? '-' : '+'} ${Math.abs(d)}`;
      const calendars: CalendarSpec[] = [{ ...at, dayOfWeek, dayOfMonth: days(8 + d, Math.min(31, 14 + d)), comment: label }];
      const skip: CalendarSpec[] = [];
      // From +15 the window passes day 28 and can end in the next month: days 1…(14+d-L) there, where L
      // is the length of Patch Tuesday's month.
      if (d >= 18) calendars.push({ ...at, dayOfWeek, month: AFTER_31, dayOfMonth: days(1, d - 17), comment: `${label}, spilled into the month after a 31-day month` });
      if (d >= 17) calendars.push({ ...at, dayOfWeek, month: AFTER_30, dayOfMonth: days(1, d - 16), comment: `${label}, spilled into the month after a 30-day month` });
      if (d >= 15) {
        calendars.push({ ...at, dayOfWeek, month: 'MARCH', dayOfMonth: days(1, d - 14), comment: `${label}, spilled into March` });
        // After a 29-day February the spill ends a day earlier.
        skip.push({ ...at, dayOfWeek, month: 'MARCH', dayOfMonth: d - 14, year: LEAP_YEARS, comment: `${label}: not after a leap February` });
      }
      return { calendars, skip };
    }
  }
}

/**
 * The Temporal `ScheduleSpec` (calendars in `timezone`) for a timing: the calendars for its run dates,
 * plus one pinned calendar per spring-forward date in the horizon on which the run time does not exist,
 * at the time the run moves to. The Schedule still fires twice in a repeated hour: see `isRepeatedLocalTime`.
 */
export function toTemporalScheduleSpec(t: ScheduleTiming, options: ScheduleSpecOptions = {}): ScheduleSpec {
  const timing = parseScheduleTiming(t);
  const { calendars, skip } = baseCalendars(timing);
  const from = options.from ?? new Date();
  const years = options.dstYears ?? 10;
  const firstYear = wallClockAt(from, timing.timezone).year;
  calendars.push(...springForwardCalendars(timing, firstYear, firstYear + years - 1));
  return { calendars, ...(skip.length > 0 ? { skip } : {}), timezone: timing.timezone };
}

/** Pinned calendars for the run dates, in years first…last, whose run time falls in a gap. */
function springForwardCalendars(t: ScheduleTiming, firstYear: number, lastYear: number): CalendarSpec[] {
  const { hour, minute } = hourMinute(t.time);
  const out: CalendarSpec[] = [];
  const seen = new Set<string>();
  const day = 24 * 3600_000;
  let probe = Date.UTC(firstYear, 0, 1) - day;
  const end = Date.UTC(lastYear + 1, 0, 1) + day;
  let offset = utcOffsetMsAt(new Date(probe), t.timezone);
  for (probe += day; probe <= end; probe += day) {
    const next = utcOffsetMsAt(new Date(probe), t.timezone);
    if (next > offset) {
      // Clocks went forward within the last day: check the local dates around it.
      const around = wallClockAt(new Date(probe), t.timezone);
      for (const date of [addDays(around, -1), around]) {
        const key = formatLocalDate(date);
        if (seen.has(key) || date.year < firstYear || date.year > lastYear || !runsOnLocalDate(t, date)) continue;
        seen.add(key);
        const { instant, resolution } = resolveLocalTime(date, hour, minute, t.timezone);
        if (resolution !== 'shifted') continue;
        const w = wallClockAt(instant, t.timezone);
        out.push({
          year: w.year,
          month: MONTH_NAME[w.month - 1],
          dayOfMonth: w.day,
          hour: w.hour,
          minute: w.minute,
          comment: `${t.time} does not exist on ${key} (clocks go forward): run at ${pad(w.hour)}:${pad(w.minute)}`,
        });
      }
    }
    offset = next;
  }
  return out;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

// ---------------------------------------------------------------------------------------------------
// Words

function list(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function describeDays(days: Weekday[]): string {
  return list(days.map((d) => WEEKDAY_NAME[d]));
}

const ORDINAL = { 1: 'First', 2: 'Second', 3: 'Third', 4: 'Fourth', 5: 'Fifth', last: 'Last' } as const;

function describeWeekday(week: WeekOfMonth, weekday: Weekday): string {
  return `${ORDINAL[week]} ${WEEKDAY_NAME[weekday]}`;
}

/** One line for operators: "Every Wednesday at 02:00 Europe/London". */
export function describeTiming(t: ScheduleTiming): string {
  const at = `at ${t.time} ${t.timezone}`;
  switch (t.kind) {
    case 'daily':
      return `Every day ${at}`;
    case 'weekly':
      return `Every ${describeDays(t.days)} ${at}`;
    case 'monthly_patch_tuesday': {
      const n = Math.abs(t.offsetDays);
      const offset = n === 0 ? '' : ` ${t.offsetDays < 0 ? '-' : '+'} ${n} day${n === 1 ? '' : 's'}`;
      return `Second Tuesday${offset} ${at}`;
    }
    case 'monthly_weekday':
      return `${describeWeekday(t.week, t.weekday)} of every month${t.week === 5 ? ' (months that have one)' : ''} ${at}`;
    case 'monthly_day':
      return `Day ${t.day} of every month${t.day >= 29 ? ' (the last day in shorter months)' : ''} ${at}`;
  }
}
