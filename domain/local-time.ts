/**
 * Local time, in one place: wall-clock arithmetic in IANA time zones with nothing but `Intl` (no tz
 * library): what a clock in a zone reads at an instant, and which instants a local date and time names
 * (none in the hour skipped when clocks go forward, two in the hour repeated when they go back); and
 * the days of the week and `HH:MM` times of day operators write in schedules, maintenance windows,
 * exclusion windows and reboot times. Pure, no I/O, so the logic built on it stays importable from
 * workflow code.
 */

/** A calendar date with no zone: month 1–12, day 1–31. */
export interface LocalDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** What a clock in some zone reads: a local date plus hour, minute, second. */
export interface WallClock extends LocalDate {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

/** Whether `Intl` knows the zone (throws nothing; `false` for garbage). */
export function isKnownTimeZone(timezone: string): boolean {
  try {
    formatterFor(timezone);
    return true;
  } catch {
    return false;
  }
}

/** What a clock in `timezone` reads at `instant` (whole seconds). */
export function wallClockAt(instant: Date, timezone: string): WallClock {
  const parts = formatterFor(timezone).formatToParts(instant);
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)!.value);
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second') };
}

/** The zone's offset from UTC at `instant`, in milliseconds (positive east of Greenwich). */
export function utcOffsetMsAt(instant: Date, timezone: string): number {
  const whole = Math.floor(instant.getTime() / 1000) * 1000;
  const w = wallClockAt(new Date(whole), timezone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - whole;
}

/**
 * Every instant at which a clock in `timezone` reads `date` at `hour:minute:second`, earliest first:
 * one normally, none in a gap (clocks went forward over it), two in a fold (clocks went back over it).
 */
export function instantsAtLocalTime(date: LocalDate, hour: number, minute: number, timezone: string, second = 0): Date[] {
  const asUtc = Date.UTC(date.year, date.month - 1, date.day, hour, minute, second);
  const day = 24 * 3600_000;
  // The offsets in force a day either side bracket any single transition on this local date.
  const offsets = new Set([-day, 0, day].map((d) => utcOffsetMsAt(new Date(asUtc + d), timezone)));
  const found = new Set<number>();
  for (const offset of offsets) {
    const candidate = asUtc - offset;
    const w = wallClockAt(new Date(candidate), timezone);
    if (w.year === date.year && w.month === date.month && w.day === date.day && w.hour === hour && w.minute === minute && w.second === second) {
      found.add(candidate);
    }
  }
  return [...found].sort((a, b) => a - b).map((ms) => new Date(ms));
}

/** How a local date and time resolved to an instant. */
export type LocalTimeResolution =
  /** The local time exists once. */
  | 'exact'
  /** The local time exists twice (clocks went back over it); the instant is the first. */
  | 'repeated'
  /** The local time does not exist (clocks went forward over it); the instant is shifted forward by the gap. */
  | 'shifted';

/**
 * The one instant a local date and time means, as RFC 5545 (§3.3.5) and JavaScript's Temporal
 * ("compatible" disambiguation) read it: in a fold the first (earlier) instant; in a gap the time is
 * read with the offset in force before the gap, which moves it forward by the gap's length (02:30 on
 * a US spring-forward date becomes 03:30 daylight time).
 */
export function resolveLocalTime(date: LocalDate, hour: number, minute: number, timezone: string): { instant: Date; resolution: LocalTimeResolution } {
  const found = instantsAtLocalTime(date, hour, minute, timezone);
  if (found.length === 1) return { instant: found[0]!, resolution: 'exact' };
  if (found.length > 1) return { instant: found[0]!, resolution: 'repeated' };
  const asUtc = Date.UTC(date.year, date.month - 1, date.day, hour, minute);
  const offsetBefore = utcOffsetMsAt(new Date(asUtc - 24 * 3600_000), timezone);
  return { instant: new Date(asUtc - offsetBefore), resolution: 'shifted' };
}

/** `YYYY-MM-DD`. */
export function formatLocalDate(d: LocalDate): string {
  return `${String(d.year).padStart(4, '0')}-${String(d.month).padStart(2, '0')}-${String(d.day).padStart(2, '0')}`;
}

/** The date `days` after (or before, if negative) `d`. */
export function addDays(d: LocalDate, days: number): LocalDate {
  const t = new Date(Date.UTC(d.year, d.month - 1, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** 0 = Sunday … 6 = Saturday. */
export function dayOfWeek(d: LocalDate): number {
  return new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();
}

/** Number of days in a month (month 1–12). */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

// ---------------------------------------------------------------------------------------------------
// Days and times of day as operators write them

/** Days of the week, Monday first, as operators pick them (schedules, maintenance windows, reboots). */
export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A weekday → JavaScript's day number (0 = Sunday), as `dayOfWeek` counts. */
export const WEEKDAY_NUMBER: Readonly<Record<Weekday, number>> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

/** The weekday of a local date. */
export function weekdayOf(d: LocalDate): Weekday {
  return WEEKDAYS[(dayOfWeek(d) + 6) % 7]!;
}

/** English day names for descriptions ("Monday"). */
export const WEEKDAY_NAME: Readonly<Record<Weekday, string>> = {
  mon: 'Monday', tue: 'Tuesday', wed: 'Wednesday', thu: 'Thursday', fri: 'Friday', sat: 'Saturday', sun: 'Sunday',
};

/** A local time of day, 24-hour `HH:MM` from 00:00 to 23:59. */
export const LOCAL_TIME_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** The hour and minute of a 24-hour `HH:MM`, or undefined when it is not one. */
export function parseLocalTime(hhmm: string): { hour: number; minute: number } | undefined {
  const m = LOCAL_TIME_PATTERN.exec(hhmm);
  return m ? { hour: Number(m[1]), minute: Number(m[2]) } : undefined;
}
