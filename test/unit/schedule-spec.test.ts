import type { CalendarSpec, ScheduleSpec } from '@temporalio/client';
import {
  describeTiming,
  isRepeatedLocalTime,
  localRunDate,
  nextRunTimes,
  parseScheduleTiming,
  toTemporalScheduleSpec,
  type ScheduleTiming,
} from '../../domain/schedule-spec';
import { addDays, dayOfWeek, instantsAtLocalTime, wallClockAt, type LocalDate } from '../../domain/local-time';
import { UnprocessableError } from '../../domain/errors';

const NY = 'America/New_York';
const LONDON = 'Europe/London';
const iso = (dates: Date[]): string[] => dates.map((d) => d.toISOString().replace('.000', ''));
const at = (s: string): Date => new Date(s);

// ---------------------------------------------------------------------------------------------------
// A reading of a Temporal ScheduleSpec as the server documents it (schedule-types.d.ts): a time matches
// a calendar when every field matches (day-of-month AND day-of-week), literally on the wall clock of the
// spec's zone (no run in a gap, two in a fold), minus any time a `skip` calendar matches. It lets the
// tests check that toTemporalScheduleSpec says what nextRunTimes computes, over years; the integration
// test checks the same against a real server.

const MONTHS = ['JANUARY', 'FEBRUARY', 'MARCH', 'APRIL', 'MAY', 'JUNE', 'JULY', 'AUGUST', 'SEPTEMBER', 'OCTOBER', 'NOVEMBER', 'DECEMBER'];
const DAYS = ['SUNDAY', 'MONDAY', 'TUESDAY', 'WEDNESDAY', 'THURSDAY', 'FRIDAY', 'SATURDAY'];
type Field = CalendarSpec['hour'] | CalendarSpec['month'] | CalendarSpec['dayOfWeek'];

function fieldMatches(field: Field, value: number, fallback: 'any' | number, names?: string[]): boolean {
  if (field === undefined) return fallback === 'any' || fallback === value;
  if (field === '*') return true;
  const num = (v: unknown): number => (typeof v === 'string' ? names!.indexOf(v) + (names === MONTHS ? 1 : 0) : (v as number));
  for (const r of Array.isArray(field) ? field : [field]) {
    if (typeof r === 'object') {
      const start = num(r.start);
      const end = r.end === undefined ? start : Math.max(start, num(r.end));
      const step = r.step && r.step > 0 ? r.step : 1;
      if (value >= start && value <= end && (value - start) % step === 0) return true;
    } else if (num(r) === value) return true;
  }
  return false;
}

function dateMatches(c: CalendarSpec, d: LocalDate): boolean {
  return (
    fieldMatches(c.year, d.year, 'any') &&
    fieldMatches(c.month, d.month, 'any', MONTHS) &&
    fieldMatches(c.dayOfMonth, d.day, 'any') &&
    fieldMatches(c.dayOfWeek, dayOfWeek(d), 'any', DAYS)
  );
}

/** Every time the Schedule would fire in (from, to]. Calendars here use one hour and one minute each. */
function temporalFireTimes(spec: ScheduleSpec, from: Date, to: Date): Date[] {
  const tz = spec.timezone ?? 'UTC';
  const out = new Set<number>();
  for (let d: LocalDate = addDays(wallClockAt(from, tz), -1); Date.UTC(d.year, d.month - 1, d.day) <= to.getTime() + 2 * 86400_000; d = addDays(d, 1)) {
    for (const c of spec.calendars ?? []) {
      if (!dateMatches(c, d)) continue;
      const hour = c.hour as number;
      const minute = c.minute as number;
      for (const instant of instantsAtLocalTime(d, hour, minute, tz)) {
        const skipped = (spec.skip ?? []).some((s) => dateMatches(s, d) && fieldMatches(s.hour, hour, 0) && fieldMatches(s.minute, minute, 0));
        if (!skipped && instant > from && instant <= to) out.add(instant.getTime());
      }
    }
  }
  return [...out].sort((a, b) => a - b).map((ms) => new Date(ms));
}

/** The spec's fire times over a span, minus the repeated-hour duplicates the workflow's guard drops. */
function guardedFireTimes(t: ScheduleTiming, from: Date, to: Date): Date[] {
  const spec = toTemporalScheduleSpec(t, { from, dstYears: to.getUTCFullYear() - from.getUTCFullYear() + 2 });
  return temporalFireTimes(spec, from, to).filter((i) => !isRepeatedLocalTime(i, t.timezone));
}

function runsUntil(t: ScheduleTiming, from: Date, to: Date): Date[] {
  const out: Date[] = [];
  for (let after = from; ; ) {
    const batch = nextRunTimes(t, after, 1000);
    for (const d of batch) {
      if (d > to) return out;
      out.push(d);
    }
    after = batch[batch.length - 1]!;
  }
}

// ---------------------------------------------------------------------------------------------------

describe('weekly Wednesday 02:00 across the DST changes', () => {
  const wed = (timezone: string): ScheduleTiming => ({ kind: 'weekly', days: ['wed'], time: '02:00', timezone });

  test.each<[string, string, string, string[]]>([
    // Europe/London: BST from Sunday 29 March 2026 01:00 UTC, GMT again from Sunday 25 October 2026.
    ['London, March', LONDON, '2026-03-20T00:00:00Z', ['2026-03-25T02:00:00Z', '2026-04-01T01:00:00Z', '2026-04-08T01:00:00Z']],
    ['London, October', LONDON, '2026-10-15T00:00:00Z', ['2026-10-21T01:00:00Z', '2026-10-28T02:00:00Z', '2026-11-04T02:00:00Z']],
    // America/New_York: EDT from Sunday 8 March 2026, EST again from Sunday 1 November 2026.
    ['New York, March', NY, '2026-03-01T00:00:00Z', ['2026-03-04T07:00:00Z', '2026-03-11T06:00:00Z', '2026-03-18T06:00:00Z']],
    ['New York, October/November', NY, '2026-10-22T00:00:00Z', ['2026-10-28T06:00:00Z', '2026-11-04T07:00:00Z', '2026-11-11T07:00:00Z']],
  ])('%s', (_name, timezone, from, expected) => {
    const runs = nextRunTimes(wed(timezone), at(from), expected.length);
    expect(iso(runs)).toEqual(expected);
    expect(runs.map((r) => localRunDate(r, timezone))).toEqual(expected.map((e) => e.slice(0, 10)));
  });

  test('the spec is one calendar: Wednesday at 02:00 in the zone', () => {
    expect(toTemporalScheduleSpec(wed(LONDON), { from: at('2026-01-01T00:00:00Z') })).toEqual({
      calendars: [{ hour: 2, minute: 0, dayOfWeek: ['WEDNESDAY'], comment: 'Wednesday' }],
      timezone: LONDON,
    });
  });

  test('several days, in week order whatever the input order', () => {
    const t = parseScheduleTiming({ kind: 'weekly', days: ['fri', 'mon', 'wed', 'mon'], time: '22:15', timezone: 'UTC' });
    expect(t).toEqual({ kind: 'weekly', days: ['mon', 'wed', 'fri'], time: '22:15', timezone: 'UTC' });
    expect(iso(nextRunTimes(t, at('2026-06-01T00:00:00Z'), 4))).toEqual(['2026-06-01T22:15:00Z', '2026-06-03T22:15:00Z', '2026-06-05T22:15:00Z', '2026-06-08T22:15:00Z']);
  });
});

describe('Patch Tuesday relative', () => {
  const pt = (offsetDays: number, timezone = NY): ScheduleTiming => ({ kind: 'monthly_patch_tuesday', offsetDays, time: '02:00', timezone });

  // Second Tuesday + 1 day, by hand from a calendar. 02:00 New York is 07:00 UTC in EST, 06:00 in EDT
  // (EDT 8 Mar–1 Nov 2026 and 14 Mar–7 Nov 2027: 10 March 2027 is still EST).
  const PT_PLUS_1 = [
    '2026-01-14T07', '2026-02-11T07', '2026-03-11T06', '2026-04-15T06', '2026-05-13T06', '2026-06-10T06',
    '2026-07-15T06', '2026-08-12T06', '2026-09-09T06', '2026-10-14T06', '2026-11-11T07', '2026-12-09T07',
    '2027-01-13T07', '2027-02-10T07', '2027-03-10T07', '2027-04-14T06', '2027-05-12T06', '2027-06-09T06',
    '2027-07-14T06', '2027-08-11T06', '2027-09-15T06', '2027-10-13T06', '2027-11-10T07', '2027-12-15T07',
  ].map((s) => `${s}:00:00Z`);

  test('the hand-written list is all Wednesdays on days 9–15', () => {
    for (const s of PT_PLUS_1) {
      const d = at(s);
      expect([d.getUTCDay(), d.getUTCDate() >= 9 && d.getUTCDate() <= 15]).toEqual([3, true]);
    }
  });

  test('+1 at 02:00 America/New_York: 24 consecutive months of 2026–2027', () => {
    expect(iso(nextRunTimes(pt(1), at('2026-01-01T00:00:00Z'), 24))).toEqual(PT_PLUS_1);
  });

  test('+1 from the middle of a month starts at the next one', () => {
    expect(iso(nextRunTimes(pt(1), at('2026-01-14T07:00:00Z'), 2))).toEqual(PT_PLUS_1.slice(1, 3));
    expect(iso(nextRunTimes(pt(1), at('2026-01-14T06:59:59Z'), 1))).toEqual(PT_PLUS_1.slice(0, 1));
  });

  test('+1 is one calendar: Wednesday AND day 9–15 (never a cron string)', () => {
    expect(toTemporalScheduleSpec(pt(1), { from: at('2026-01-01T00:00:00Z') })).toEqual({
      calendars: [{ hour: 2, minute: 0, dayOfWeek: 'WEDNESDAY', dayOfMonth: { start: 9, end: 15 }, comment: 'second Tuesday + 1' }],
      timezone: NY,
    });
  });

  // First six months of 2026 (Patch Tuesdays 13 Jan, 10 Feb, 10 Mar, 14 Apr, 12 May, 9 Jun), in UTC so
  // the dates read directly.
  test.each<[number, string, string[]]>([
    [0, 'Tuesday', ['01-13', '02-10', '03-10', '04-14', '05-12', '06-09']],
    [1, 'Wednesday', ['01-14', '02-11', '03-11', '04-15', '05-13', '06-10']],
    [6, 'Monday', ['01-19', '02-16', '03-16', '04-20', '05-18', '06-15']],
    [7, 'Tuesday', ['01-20', '02-17', '03-17', '04-21', '05-19', '06-16']],
    [-1, 'Monday', ['01-12', '02-09', '03-09', '04-13', '05-11', '06-08']],
    [-7, 'Tuesday', ['01-06', '02-03', '03-03', '04-07', '05-05', '06-02']],
    [13, 'Monday', ['01-26', '02-23', '03-23', '04-27', '05-25', '06-22']],
    // Crosses into the next month: 13 Jan + 21 = 3 Feb, 10 Feb + 21 = 3 Mar, then 31 Mar, and none in April.
    [21, 'Tuesday', ['02-03', '03-03', '03-31', '05-05', '06-02', '06-30']],
  ])('offset %i (%s)', (offset, weekday, dates) => {
    const runs = nextRunTimes(pt(offset, 'UTC'), at('2026-01-01T00:00:00Z'), 6);
    expect(iso(runs)).toEqual(dates.map((d) => `2026-${d}T02:00:00Z`));
    expect(new Set(runs.map((r) => r.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' })))).toEqual(new Set([weekday]));
  });

  test('+15 around a leap February: 8 Feb 2028 + 15 = 23 Feb, and 1 March 2028 (a Wednesday) is not a run', () => {
    expect(iso(nextRunTimes(pt(15, 'UTC'), at('2028-02-01T00:00:00Z'), 2))).toEqual(['2028-02-23T02:00:00Z', '2028-03-29T02:00:00Z']);
    // In a common year the same offset spills into March: 14 Feb 2023 + 15 = 1 March 2023.
    expect(iso(nextRunTimes(pt(15, 'UTC'), at('2023-02-01T00:00:00Z'), 1))).toEqual(['2023-03-01T02:00:00Z']);
  });

  test('offsets past +14 add calendars for the early days of the next month, and a leap-year skip', () => {
    const spec = toTemporalScheduleSpec(pt(20), { from: at('2026-01-01T00:00:00Z') });
    expect(spec.calendars!.map((c) => [c.month ?? '*', c.dayOfMonth])).toEqual([
      ['*', { start: 28, end: 31 }],
      [['JANUARY', 'FEBRUARY', 'APRIL', 'JUNE', 'AUGUST', 'SEPTEMBER', 'NOVEMBER'], { start: 1, end: 3 }],
      [['MAY', 'JULY', 'OCTOBER', 'DECEMBER'], { start: 1, end: 4 }],
      ['MARCH', { start: 1, end: 6 }],
    ]);
    expect(spec.skip).toHaveLength(1);
    expect(spec.skip![0]).toMatchObject({ month: 'MARCH', dayOfMonth: 6, dayOfWeek: 'MONDAY' });
  });

  // Every offset, 2023–2033 (three leap Februaries), in a DST zone and in UTC: the spec fires exactly
  // on Patch Tuesday + offset, once a month, and nextRunTimes agrees with it.
  const everyOffset = Array.from({ length: 29 }, (_, i) => i - 7);
  test.each(everyOffset)('offset %i: spec and nextRunTimes agree, one run per Patch Tuesday, 2023–2033', (offset) => {
    const from = at('2023-01-01T00:00:00Z');
    const to = at('2033-12-31T00:00:00Z');
    for (const tz of [NY, 'UTC']) {
      const runs = runsUntil(pt(offset, tz), from, to);
      expect(iso(guardedFireTimes(pt(offset, tz), from, to))).toEqual(iso(runs));
      if (tz !== 'UTC') continue;
      // Independently: the second Tuesday of each month, plus the offset.
      const expected: string[] = [];
      for (let y = 2022; y <= 2034; y++) {
        for (let m = 0; m < 12; m++) {
          const first = new Date(Date.UTC(y, m, 1)).getUTCDay();
          const run = new Date(Date.UTC(y, m, 1 + ((2 - first + 7) % 7) + 7 + offset, 2));
          if (run > from && run <= to) expected.push(run.toISOString().replace('.000', ''));
        }
      }
      expect(iso(runs)).toEqual(expected);
    }
  });
});

describe('the skipped and the repeated hour: one run per local date', () => {
  const daily = (time: string, timezone = NY): ScheduleTiming => ({ kind: 'daily', time, timezone });

  test('02:30 on the US spring-forward date (8 March 2026) runs at 03:30 EDT, the gap later', () => {
    const runs = nextRunTimes(daily('02:30'), at('2026-03-06T12:00:00Z'), 3);
    expect(iso(runs)).toEqual(['2026-03-07T07:30:00Z', '2026-03-08T07:30:00Z', '2026-03-09T06:30:00Z']);
    expect(runs.map((r) => localRunDate(r, NY))).toEqual(['2026-03-07', '2026-03-08', '2026-03-09']);
  });

  test('Temporal alone would skip it; the spec pins an extra calendar on that date at 03:30', () => {
    const spec = toTemporalScheduleSpec(daily('02:30'), { from: at('2026-01-01T12:00:00Z'), dstYears: 2 });
    expect(spec.calendars).toEqual([
      { hour: 2, minute: 30, comment: 'every day' },
      { year: 2026, month: 'MARCH', dayOfMonth: 8, hour: 3, minute: 30, comment: '02:30 does not exist on 2026-03-08 (clocks go forward): run at 03:30' },
      { year: 2027, month: 'MARCH', dayOfMonth: 14, hour: 3, minute: 30, comment: '02:30 does not exist on 2027-03-14 (clocks go forward): run at 03:30' },
    ]);
    const bare: ScheduleSpec = { calendars: spec.calendars!.slice(0, 1), timezone: NY };
    expect(iso(temporalFireTimes(bare, at('2026-03-06T12:00:00Z'), at('2026-03-09T12:00:00Z')))).toEqual(['2026-03-07T07:30:00Z', '2026-03-09T06:30:00Z']);
    expect(iso(temporalFireTimes(spec, at('2026-03-06T12:00:00Z'), at('2026-03-09T12:00:00Z')))).toEqual(['2026-03-07T07:30:00Z', '2026-03-08T07:30:00Z', '2026-03-09T06:30:00Z']);
  });

  test('no pinned calendars for times outside the gap, or for dates the schedule does not run on', () => {
    expect(toTemporalScheduleSpec(daily('03:00'), { from: at('2026-01-01T12:00:00Z') }).calendars).toHaveLength(1);
    const wed: ScheduleTiming = { kind: 'weekly', days: ['wed'], time: '02:30', timezone: NY };
    expect(toTemporalScheduleSpec(wed, { from: at('2026-01-01T12:00:00Z') }).calendars).toHaveLength(1);
    const sun: ScheduleTiming = { kind: 'weekly', days: ['sun'], time: '02:30', timezone: NY };
    expect(toTemporalScheduleSpec(sun, { from: at('2026-01-01T12:00:00Z'), dstYears: 3 }).calendars).toHaveLength(4);
  });

  test('02:30 on the US fall-back date (1 November 2026) is not repeated (01:00–02:00 is): one run', () => {
    expect(iso(nextRunTimes(daily('02:30'), at('2026-10-31T00:00:00Z'), 3))).toEqual(['2026-10-31T06:30:00Z', '2026-11-01T07:30:00Z', '2026-11-02T07:30:00Z']);
  });

  test('01:30 on the fall-back date: Temporal fires at both 01:30s, the guard drops the second', () => {
    const from = at('2026-10-31T00:00:00Z');
    expect(iso(nextRunTimes(daily('01:30'), from, 3))).toEqual(['2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z', '2026-11-02T06:30:00Z']);
    const fired = temporalFireTimes(toTemporalScheduleSpec(daily('01:30'), { from }), from, at('2026-11-02T12:00:00Z'));
    expect(iso(fired)).toEqual(['2026-10-31T05:30:00Z', '2026-11-01T05:30:00Z', '2026-11-01T06:30:00Z', '2026-11-02T06:30:00Z']);
    expect(fired.map((f) => isRepeatedLocalTime(f, NY))).toEqual([false, false, true, false]);
    expect(localRunDate(fired[1]!, NY)).toBe(localRunDate(fired[2]!, NY));
  });

  test('Europe/London: 01:30 on 29 March 2026 runs at 02:30 BST; on 25 October 2026 once, in BST', () => {
    expect(iso(nextRunTimes(daily('01:30', LONDON), at('2026-03-28T00:00:00Z'), 3))).toEqual(['2026-03-28T01:30:00Z', '2026-03-29T01:30:00Z', '2026-03-30T00:30:00Z']);
    expect(iso(nextRunTimes(daily('01:30', LONDON), at('2026-10-24T00:00:00Z'), 3))).toEqual(['2026-10-24T00:30:00Z', '2026-10-25T00:30:00Z', '2026-10-26T01:30:00Z']);
    expect(isRepeatedLocalTime(at('2026-10-25T01:30:00Z'), LONDON)).toBe(true);
    expect(isRepeatedLocalTime(at('2026-10-25T00:30:00Z'), LONDON)).toBe(false);
  });

  test('a 30-minute gap (Australia/Lord_Howe, 4 October 2026 02:00→02:30): 02:15 runs at 02:45', () => {
    const runs = nextRunTimes(daily('02:15', 'Australia/Lord_Howe'), at('2026-10-02T12:00:00Z'), 3);
    expect(runs.map((r) => r.toLocaleString('en-GB', { timeZone: 'Australia/Lord_Howe' }))).toEqual(['03/10/2026, 02:15:00', '04/10/2026, 02:45:00', '05/10/2026, 02:15:00']);
  });

  test.each<[string, ScheduleTiming]>([
    ['daily 02:30 New York', daily('02:30')],
    ['daily 01:30 New York', daily('01:30')],
    ['daily 00:30 America/Santiago (changes at midnight)', daily('00:30', 'America/Santiago')],
    ['daily 01:30 London', daily('01:30', LONDON)],
    ['weekly Sunday 02:00 New York', { kind: 'weekly', days: ['sun'], time: '02:00', timezone: NY }],
    ['monthly day 31 at 02:30 New York', { kind: 'monthly_day', day: 31, time: '02:30', timezone: NY }],
    ['Patch Tuesday + 5 (a Sunday) at 02:30 New York', { kind: 'monthly_patch_tuesday', offsetDays: 5, time: '02:30', timezone: NY }],
  ])('%s: the spec (with the guard) and nextRunTimes agree over 2025–2030, one run per local date', (_name, t) => {
    const from = at('2025-01-01T00:00:00Z');
    const to = at('2030-12-31T00:00:00Z');
    const runs = runsUntil(t, from, to);
    expect(iso(guardedFireTimes(t, from, to))).toEqual(iso(runs));
    const dates = runs.map((r) => localRunDate(r, t.timezone));
    expect(new Set(dates).size).toBe(dates.length);
  });
});

describe('monthly day: 29–31 clamp to the last day of shorter months', () => {
  const monthly = (day: number): ScheduleTiming => ({ kind: 'monthly_day', day, time: '02:00', timezone: 'UTC' });
  const dates = (day: number, from: string, n: number): string[] => nextRunTimes(monthly(day), at(from), n).map((r) => r.toISOString().slice(0, 10));

  test('day 31 runs on the 30th of 30-day months and the last day of February', () => {
    expect(dates(31, '2027-01-01T00:00:00Z', 12)).toEqual([
      '2027-01-31', '2027-02-28', '2027-03-31', '2027-04-30', '2027-05-31', '2027-06-30',
      '2027-07-31', '2027-08-31', '2027-09-30', '2027-10-31', '2027-11-30', '2027-12-31',
    ]);
    expect(dates(31, '2028-02-01T00:00:00Z', 1)).toEqual(['2028-02-29']);
  });

  test('day 30 and 29 in February', () => {
    expect(dates(30, '2027-02-01T00:00:00Z', 2)).toEqual(['2027-02-28', '2027-03-30']);
    expect(dates(30, '2028-02-01T00:00:00Z', 1)).toEqual(['2028-02-29']);
    expect(dates(29, '2027-02-01T00:00:00Z', 1)).toEqual(['2027-02-28']);
    expect(dates(29, '2028-02-01T00:00:00Z', 2)).toEqual(['2028-02-29', '2028-03-29']);
  });

  test('day 15 is one calendar; day 31 adds the clamps and skips 28 February of leap years', () => {
    expect(toTemporalScheduleSpec(monthly(15)).calendars).toEqual([{ hour: 2, minute: 0, dayOfMonth: 15, comment: 'day 15' }]);
    const spec = toTemporalScheduleSpec(monthly(31));
    expect(spec.calendars!.map((c) => [c.month ?? '*', c.dayOfMonth])).toEqual([
      ['*', 31],
      [['APRIL', 'JUNE', 'SEPTEMBER', 'NOVEMBER'], 30],
      ['FEBRUARY', 29],
      ['FEBRUARY', 28],
    ]);
    expect(spec.skip).toEqual([expect.objectContaining({ month: 'FEBRUARY', dayOfMonth: 28 })]);
  });

  test.each([1, 15, 28, 29, 30, 31])('day %i: the spec and nextRunTimes agree over 2023–2033, one run every month', (day) => {
    const from = at('2023-01-01T00:00:00Z');
    const to = at('2033-12-31T23:00:00Z');
    const runs = runsUntil(monthly(day), from, to);
    expect(iso(guardedFireTimes(monthly(day), from, to))).toEqual(iso(runs));
    expect(runs).toHaveLength(11 * 12);
  });
});

describe('monthly by weekday: the Nth (1st–5th) or the last weekday of the month', () => {
  const nth = (week: 1 | 2 | 3 | 4 | 5 | 'last', weekday: 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun', time = '09:00', timezone = NY): ScheduleTiming =>
    ({ kind: 'monthly_weekday', week, weekday, time, timezone });
  const localDates = (t: ScheduleTiming, from: string, n: number): string[] => nextRunTimes(t, at(from), n).map((r) => localRunDate(r, t.timezone));

  // RFC 5545 §3.8.5.3, "Monthly on the first Friday for 10 occurrences" (DTSTART;TZID=America/New_York:
  // 19970905T090000, RRULE:FREQ=MONTHLY;COUNT=10;BYDAY=1FR): 9:00 EDT on 5 Sep and 3 Oct 1997, 9:00 EST
  // on 7 Nov, 5 Dec, 2 Jan, 6 Feb, 6 Mar, 3 Apr, then EDT on 1 May and 5 Jun 1998.
  test('RFC 5545: the first Friday, across both DST changes of 1997–98', () => {
    expect(iso(nextRunTimes(nth(1, 'fri'), at('1997-09-02T13:00:00Z'), 10))).toEqual([
      '1997-09-05T13:00:00Z', '1997-10-03T13:00:00Z', '1997-11-07T14:00:00Z', '1997-12-05T14:00:00Z', '1998-01-02T14:00:00Z',
      '1998-02-06T14:00:00Z', '1998-03-06T14:00:00Z', '1998-04-03T14:00:00Z', '1998-05-01T13:00:00Z', '1998-06-05T13:00:00Z',
    ]);
  });

  // RFC 5545 §3.8.5.3, "Every other month on the first and last Sunday of the month for 10 occurrences"
  // (DTSTART 19970907T090000 America/New_York, BYDAY=1SU,-1SU;INTERVAL=2): last Sundays 28 Sep and 30 Nov
  // 1997, 25 Jan, 29 Mar and 31 May 1998. The months between (every month here) from a calendar.
  test('RFC 5545: the last Sunday, every month from September 1997', () => {
    expect(localDates(nth('last', 'sun'), '1997-09-07T14:00:00Z', 9)).toEqual([
      '1997-09-28', '1997-10-26', '1997-11-30', '1997-12-28', '1998-01-25', '1998-02-22', '1998-03-29', '1998-04-26', '1998-05-31',
    ]);
  });

  test('"Last Friday" (N-able): the last week of 31-, 30-, 28- and 29-day months', () => {
    expect(localDates(nth('last', 'fri', '02:00', 'UTC'), '2027-01-01T00:00:00Z', 24)).toEqual([
      '2027-01-29', '2027-02-26', '2027-03-26', '2027-04-30', '2027-05-28', '2027-06-25', '2027-07-30', '2027-08-27', '2027-09-24', '2027-10-29', '2027-11-26', '2027-12-31',
      '2028-01-28', '2028-02-25', '2028-03-31', '2028-04-28', '2028-05-26', '2028-06-30', '2028-07-28', '2028-08-25', '2028-09-29', '2028-10-27', '2028-11-24', '2028-12-29',
    ]);
  });

  test('a 5th Tuesday skips the months that have none', () => {
    expect(localDates(nth(5, 'tue', '02:00', 'UTC'), '2026-01-01T00:00:00Z', 8)).toEqual([
      '2026-03-31', '2026-06-30', '2026-09-29', '2026-12-29', '2027-03-30', '2027-06-29', '2027-08-31', '2027-11-30',
    ]);
  });

  test('"Second Tuesday" is Patch Tuesday itself', () => {
    const pt: ScheduleTiming = { kind: 'monthly_patch_tuesday', offsetDays: 0, time: '02:00', timezone: NY };
    expect(iso(nextRunTimes(nth(2, 'tue', '02:00'), at('2026-01-01T00:00:00Z'), 24))).toEqual(iso(nextRunTimes(pt, at('2026-01-01T00:00:00Z'), 24)));
  });

  test('the spec: days 7N-6…7N for the Nth; one calendar per month length for the last, leap Februaries skipped', () => {
    expect(toTemporalScheduleSpec(nth(5, 'tue', '02:00', 'UTC')).calendars).toEqual([
      { hour: 2, minute: 0, dayOfWeek: 'TUESDAY', dayOfMonth: { start: 29, end: 31 }, comment: 'Fifth Tuesday' },
    ]);
    const last = toTemporalScheduleSpec(nth('last', 'fri', '02:00', 'UTC'));
    expect(last.calendars!.map((c) => [c.month, c.dayOfMonth])).toEqual([
      [['JANUARY', 'MARCH', 'MAY', 'JULY', 'AUGUST', 'OCTOBER', 'DECEMBER'], { start: 25, end: 31 }],
      [['APRIL', 'JUNE', 'SEPTEMBER', 'NOVEMBER'], { start: 24, end: 30 }],
      ['FEBRUARY', { start: 22, end: 29 }],
    ]);
    expect(last.skip).toEqual([expect.objectContaining({ month: 'FEBRUARY', dayOfMonth: 22, dayOfWeek: 'FRIDAY', hour: 2, minute: 0 })]);
  });

  // The skipped and the repeated hour in a zone with a 30-minute shift, and in zones whose clocks
  // change at midnight (so the run date itself is where the gap or the fold is).
  test('Australia/Lord_Howe (30-minute shift): 02:15 on the first Sunday of October 2026 runs at 02:45; 01:45 on 4 April 2027 runs once', () => {
    expect(iso(nextRunTimes(nth(1, 'sun', '02:15', 'Australia/Lord_Howe'), at('2026-09-15T00:00:00Z'), 2))).toEqual(['2026-10-03T15:45:00Z', '2026-10-31T15:15:00Z']);
    const april = nextRunTimes(nth(1, 'sun', '01:45', 'Australia/Lord_Howe'), at('2027-03-15T00:00:00Z'), 2);
    // 01:45 happens at +11:00 (14:45 UTC) and again at +10:30 (15:15 UTC): the first is the run.
    expect(iso(april)).toEqual(['2027-04-03T14:45:00Z', '2027-05-01T15:15:00Z']);
    expect(isRepeatedLocalTime(at('2027-04-03T15:15:00Z'), 'Australia/Lord_Howe')).toBe(true);
  });

  test('America/Santiago (changes at midnight): 00:30 on the first Sunday of September 2026 does not exist and runs at 01:30', () => {
    expect(iso(nextRunTimes(nth(1, 'sun', '00:30', 'America/Santiago'), at('2026-08-15T00:00:00Z'), 2))).toEqual(['2026-09-06T04:30:00Z', '2026-10-04T03:30:00Z']);
  });

  test('Asia/Beirut (changes at midnight): the last Sunday of March 2026 at 00:30 runs at 01:30; the 4th Saturday of October at 23:30 runs once', () => {
    expect(iso(nextRunTimes(nth('last', 'sun', '00:30', 'Asia/Beirut'), at('2026-03-01T00:00:00Z'), 1))).toEqual(['2026-03-28T22:30:00Z']);
    // Clocks go back at midnight, 25 October 2026: 23:30 on Saturday the 24th happens twice.
    expect(iso(nextRunTimes(nth(4, 'sat', '23:30', 'Asia/Beirut'), at('2026-10-01T00:00:00Z'), 1))).toEqual(['2026-10-24T20:30:00Z']);
    expect(isRepeatedLocalTime(at('2026-10-24T21:30:00Z'), 'Asia/Beirut')).toBe(true);
  });

  test.each<[string, ScheduleTiming]>([
    ['1st Monday 02:30 New York', nth(1, 'mon', '02:30')],
    ['2nd Sunday 02:30 New York (the US spring-forward day)', nth(2, 'sun', '02:30')],
    ['1st Sunday 01:30 New York (the US fall-back day)', nth(1, 'sun', '01:30')],
    ['3rd Wednesday 09:00 London', nth(3, 'wed', '09:00', LONDON)],
    ['4th Thursday 23:00 UTC', nth(4, 'thu', '23:00', 'UTC')],
    ['5th Tuesday 02:00 UTC', nth(5, 'tue', '02:00', 'UTC')],
    ['5th Sunday 01:30 London', nth(5, 'sun', '01:30', LONDON)],
    ['last Friday 02:00 UTC', nth('last', 'fri', '02:00', 'UTC')],
    ['last Sunday 01:30 London (both UK change days)', nth('last', 'sun', '01:30', LONDON)],
    ['last Saturday 23:30 Asia/Beirut', nth('last', 'sat', '23:30', 'Asia/Beirut')],
    ['last Sunday 00:30 Asia/Beirut', nth('last', 'sun', '00:30', 'Asia/Beirut')],
    ['1st Sunday 02:15 Australia/Lord_Howe', nth(1, 'sun', '02:15', 'Australia/Lord_Howe')],
    ['1st Sunday 00:30 America/Santiago', nth(1, 'sun', '00:30', 'America/Santiago')],
  ])('%s: the spec (with the guard) and nextRunTimes agree over 2025–2033, one run per local date', (_name, t) => {
    const from = at('2025-01-01T00:00:00Z');
    const to = at('2033-12-31T23:59:00Z');
    const runs = runsUntil(t, from, to);
    expect(iso(guardedFireTimes(t, from, to))).toEqual(iso(runs));
    const dates = runs.map((r) => localRunDate(r, t.timezone));
    expect(new Set(dates).size).toBe(dates.length);
    // One run a month, and (but for a 5th weekday) in every month of the nine years.
    const months = dates.filter((d) => d >= '2025-01' && d < '2034').map((d) => d.slice(0, 7));
    expect(new Set(months).size).toBe(months.length);
    if (t.kind === 'monthly_weekday' && t.week !== 5) expect(months).toHaveLength(9 * 12);
  });

  test('bad week or weekday: a clear message naming the field', () => {
    expect(() => parseScheduleTiming({ kind: 'monthly_weekday', week: 6, weekday: 'tue', time: '02:00', timezone: 'UTC' })).toThrow(/week must be 1, 2, 3, 4, 5 or "last"/);
    expect(() => parseScheduleTiming({ kind: 'monthly_weekday', week: 'first', weekday: 'tue', time: '02:00', timezone: 'UTC' })).toThrow(UnprocessableError);
    expect(() => parseScheduleTiming({ kind: 'monthly_weekday', week: 2, weekday: 'tuesday', time: '02:00', timezone: 'UTC' })).toThrow(/weekday must be one of mon, tue/);
  });

  test('described for operators', () => {
    expect(describeTiming(nth('last', 'fri', '22:00', LONDON))).toBe('Last Friday of every month at 22:00 Europe/London');
    expect(describeTiming(nth(5, 'tue', '02:00', 'UTC'))).toBe('Fifth Tuesday of every month (months that have one) at 02:00 UTC');
  });
});

describe('parseScheduleTiming rejects bad input with a clear message', () => {
  const ok = { kind: 'daily', time: '02:00', timezone: LONDON };
  test.each<[string, unknown, string, RegExp]>([
    ['a time without a leading zero', { ...ok, time: '2:00' }, 'time', /time must be HH:MM on a 24-hour clock \(00:00–23:59\), got "2:00"/],
    ['24:00', { ...ok, time: '24:00' }, 'time', /got "24:00"/],
    ['minute 60', { ...ok, time: '12:60' }, 'time', /got "12:60"/],
    ['no time', { kind: 'daily', timezone: LONDON }, 'time', /got undefined/],
    ['an unknown time zone', { ...ok, timezone: 'Mars/Olympus_Mons' }, 'timezone', /unknown time zone "Mars\/Olympus_Mons": use an IANA name/],
    ['an offset, not a zone', { ...ok, timezone: '+02:00' }, 'timezone', /time zone "\+02:00"|unknown time zone "\+02:00"/],
    ['a zone in the wrong case', { ...ok, timezone: 'europe/london' }, 'timezone', /must be spelled as IANA spells it \(case-sensitive\), e.g. "Europe\/London"/],
    ['no zone', { kind: 'daily', time: '02:00' }, 'timezone', /timezone must be an IANA time zone name/],
    ['no days', { kind: 'weekly', days: [], time: '02:00', timezone: LONDON }, 'days', /days must list at least one of mon, tue, wed, thu, fri, sat, sun/],
    ['a day spelled out', { kind: 'weekly', days: ['wednesday'], time: '02:00', timezone: LONDON }, 'days', /unknown day "wednesday"/],
    ['offset +22', { kind: 'monthly_patch_tuesday', offsetDays: 22, time: '02:00', timezone: NY }, 'offsetDays', /offsetDays \(days after Patch Tuesday\) must be a whole number from -7 to 21, got 22/],
    ['offset -8', { kind: 'monthly_patch_tuesday', offsetDays: -8, time: '02:00', timezone: NY }, 'offsetDays', /from -7 to 21, got -8/],
    ['offset 1.5', { kind: 'monthly_patch_tuesday', offsetDays: 1.5, time: '02:00', timezone: NY }, 'offsetDays', /got 1.5/],
    ['day 0', { kind: 'monthly_day', day: 0, time: '02:00', timezone: NY }, 'day', /day of the month must be a whole number from 1 to 31, got 0/],
    ['day 32', { kind: 'monthly_day', day: 32, time: '02:00', timezone: NY }, 'day', /got 32/],
    ['an unknown kind', { ...ok, kind: 'hourly' }, 'kind', /kind must be one of daily, weekly, monthly_patch_tuesday, monthly_weekday, monthly_day, got "hourly"/],
    ['not an object', null, 'kind', /expected an object/],
  ])('%s', (_name, input, field, message) => {
    let error: unknown;
    try {
      parseScheduleTiming(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UnprocessableError);
    expect((error as UnprocessableError).field).toBe(field);
    expect((error as UnprocessableError).message).toMatch(/^invalid schedule: /);
    expect((error as UnprocessableError).message).toMatch(message);
  });

  test('nextRunTimes and toTemporalScheduleSpec check their input too', () => {
    const bad = { kind: 'daily', time: '25:00', timezone: NY } as ScheduleTiming;
    expect(() => nextRunTimes(bad, new Date(), 1)).toThrow(UnprocessableError);
    expect(() => toTemporalScheduleSpec(bad)).toThrow(UnprocessableError);
  });

  test('accepts IANA links and UTC as spelled', () => {
    expect(parseScheduleTiming({ ...ok, timezone: 'US/Eastern' })).toEqual({ ...ok, timezone: 'US/Eastern' });
    expect(parseScheduleTiming({ ...ok, timezone: 'UTC' })).toEqual({ ...ok, timezone: 'UTC' });
    expect(parseScheduleTiming({ ...ok, timezone: 'America/Port-au-Prince' })).toEqual({ ...ok, timezone: 'America/Port-au-Prince' });
  });
});

describe('describeTiming', () => {
  test.each<[ScheduleTiming, string]>([
    [{ kind: 'daily', time: '02:30', timezone: NY }, 'Every day at 02:30 America/New_York'],
    [{ kind: 'weekly', days: ['wed'], time: '02:00', timezone: LONDON }, 'Every Wednesday at 02:00 Europe/London'],
    [{ kind: 'weekly', days: ['mon', 'wed', 'fri'], time: '22:00', timezone: LONDON }, 'Every Monday, Wednesday and Friday at 22:00 Europe/London'],
    [{ kind: 'monthly_patch_tuesday', offsetDays: 0, time: '02:00', timezone: NY }, 'Second Tuesday at 02:00 America/New_York'],
    [{ kind: 'monthly_patch_tuesday', offsetDays: 1, time: '02:00', timezone: NY }, 'Second Tuesday + 1 day at 02:00 America/New_York'],
    [{ kind: 'monthly_patch_tuesday', offsetDays: 7, time: '02:00', timezone: NY }, 'Second Tuesday + 7 days at 02:00 America/New_York'],
    [{ kind: 'monthly_patch_tuesday', offsetDays: -1, time: '02:00', timezone: NY }, 'Second Tuesday - 1 day at 02:00 America/New_York'],
    [{ kind: 'monthly_day', day: 15, time: '03:00', timezone: 'UTC' }, 'Day 15 of every month at 03:00 UTC'],
    [{ kind: 'monthly_day', day: 31, time: '03:00', timezone: 'UTC' }, 'Day 31 of every month (the last day in shorter months) at 03:00 UTC'],
  ])('%j', (t, line) => {
    expect(describeTiming(t)).toBe(line);
  });
});

describe('localRunDate', () => {
  test('is the date on the local clock, not in UTC', () => {
    expect(localRunDate(at('2026-03-11T03:00:00Z'), NY)).toBe('2026-03-10');
    expect(localRunDate(at('2026-03-11T03:00:00Z'), 'Asia/Tokyo')).toBe('2026-03-11');
    expect(localRunDate(at('2026-12-31T23:30:00Z'), 'Pacific/Auckland')).toBe('2027-01-01');
  });
});
