import {
  describeMaintenanceWindow,
  firstInstantAtLocalTime,
  isInsideWindow,
  nextWindowStart,
  type MaintenanceWindow,
} from '../../domain/maintenance-window';
import { maintenanceWindowSchema } from '../../domain/maintenance-window-schema';

const LONDON = 'Europe/London';
const NEW_YORK = 'America/New_York';
const at = (iso: string): Date => new Date(iso);

// 2026-06-13 is a Saturday; London is on BST (UTC+1), so 22:00 local = 21:00Z.
const SAT_NIGHT: MaintenanceWindow = { days: ['sat'], start: '22:00', durationMinutes: 360 };
const WEEKEND_NIGHTS: MaintenanceWindow = { days: ['sat', 'sun'], start: '22:00', durationMinutes: 360 };
const NIGHTLY: MaintenanceWindow = { start: '22:00', durationMinutes: 360 };
const OFFICE_HOURS: MaintenanceWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', durationMinutes: 480 };

describe('isInsideWindow', () => {
  it.each<[string, MaintenanceWindow, string, boolean]>([
    ['Sat 21:59 local, a minute before the start', SAT_NIGHT, '2026-06-13T20:59:00Z', false],
    ['Sat 22:00 local, the start (inclusive)', SAT_NIGHT, '2026-06-13T21:00:00Z', true],
    ['Sat 23:30 local', SAT_NIGHT, '2026-06-13T22:30:00Z', true],
    ['Sun 01:00 local: the Saturday-night window runs past midnight', SAT_NIGHT, '2026-06-14T00:00:00Z', true],
    ['Sun 03:59 local, last minute', SAT_NIGHT, '2026-06-14T02:59:00Z', true],
    ['Sun 04:00 local, the end (exclusive)', SAT_NIGHT, '2026-06-14T03:00:00Z', false],
    ['Sun 22:30 local: Sunday is not a window day', SAT_NIGHT, '2026-06-14T21:30:00Z', false],
    ['Mon 01:00 local: Sunday night is not a window', SAT_NIGHT, '2026-06-15T00:00:00Z', false],
    ['Sat 01:00 local: Friday night is not a window', SAT_NIGHT, '2026-06-13T00:00:00Z', false],
    ['Sun 22:30 local, weekend nights', WEEKEND_NIGHTS, '2026-06-14T21:30:00Z', true],
    ['Mon 01:00 local, weekend nights (Sunday night)', WEEKEND_NIGHTS, '2026-06-15T00:00:00Z', true],
    ['Tue 01:00 local, weekend nights', WEEKEND_NIGHTS, '2026-06-16T00:00:00Z', false],
    ['Wed 02:00 local, every night', NIGHTLY, '2026-06-17T01:00:00Z', true],
    ['Wed 12:00 local, every night', NIGHTLY, '2026-06-17T11:00:00Z', false],
    ['Fri 16:59 local, office hours', OFFICE_HOURS, '2026-06-12T15:59:00Z', true],
    ['Fri 17:00 local, office hours', OFFICE_HOURS, '2026-06-12T16:00:00Z', false],
    ['Sat 10:00 local, office hours', OFFICE_HOURS, '2026-06-13T09:00:00Z', false],
  ])('%s → %s', (_name, w, now, expected) => {
    expect(isInsideWindow(w, at(now), LONDON)).toBe(expected);
  });

  it('reads the window in the zone given: the same instant is inside in London, outside in New York', () => {
    const now = at('2026-06-13T22:30:00Z'); // 23:30 BST, 18:30 EDT
    expect(isInsideWindow(SAT_NIGHT, now, LONDON)).toBe(true);
    expect(isInsideWindow(SAT_NIGHT, now, NEW_YORK)).toBe(false);
    expect(isInsideWindow(SAT_NIGHT, at('2026-06-14T02:30:00Z'), NEW_YORK)).toBe(true); // 22:30 EDT Sat
  });

  it('a 1440-minute window is open all day', () => {
    const w: MaintenanceWindow = { days: ['wed'], start: '00:00', durationMinutes: 1440 };
    expect(isInsideWindow(w, at('2026-06-17T00:00:00Z'), 'UTC')).toBe(true);
    expect(isInsideWindow(w, at('2026-06-17T23:59:59Z'), 'UTC')).toBe(true);
    expect(isInsideWindow(w, at('2026-06-18T00:00:00Z'), 'UTC')).toBe(false);
  });
});

describe('nextWindowStart', () => {
  it.each<[string, MaintenanceWindow, string, string]>([
    ['inside: now itself', SAT_NIGHT, '2026-06-13T22:30:00Z', '2026-06-13T22:30:00Z'],
    ['inside past midnight: now itself', SAT_NIGHT, '2026-06-14T01:00:00Z', '2026-06-14T01:00:00Z'],
    ['earlier the same Saturday', SAT_NIGHT, '2026-06-13T09:00:00Z', '2026-06-13T21:00:00Z'],
    ['on a Wednesday: the coming Saturday', SAT_NIGHT, '2026-06-10T09:00:00Z', '2026-06-13T21:00:00Z'],
    ['just after the end: next week', SAT_NIGHT, '2026-06-14T03:00:00Z', '2026-06-20T21:00:00Z'],
    ['a second after the end: next week', SAT_NIGHT, '2026-06-14T03:00:01Z', '2026-06-20T21:00:00Z'],
    ['just after the end, weekend nights: Sunday night', WEEKEND_NIGHTS, '2026-06-14T03:00:00Z', '2026-06-14T21:00:00Z'],
    ['just after the end, every night: the same evening', NIGHTLY, '2026-06-17T03:00:00Z', '2026-06-17T21:00:00Z'],
    ['Friday evening, office hours: Monday 09:00', OFFICE_HOURS, '2026-06-12T18:00:00Z', '2026-06-15T08:00:00Z'],
    // London leaves BST at 01:00Z on Sunday 2026-10-25.
    ['the last Saturday in BST (22:00 BST)', SAT_NIGHT, '2026-10-23T12:00:00Z', '2026-10-24T21:00:00Z'],
    ['after that night, which ran 360 real minutes to 03:00 GMT: the next Saturday, 22:00 GMT', SAT_NIGHT, '2026-10-25T03:00:00Z', '2026-10-31T22:00:00Z'],
  ])('%s', (_name, w, now, expected) => {
    expect(nextWindowStart(w, at(now), LONDON)).toEqual(at(expected));
  });

  it('throws for a window that lists no days', () => {
    expect(() => nextWindowStart({ days: [], start: '22:00', durationMinutes: 60 }, at('2026-06-13T00:00:00Z'), LONDON)).toThrow(/no days/);
  });
});

describe('DST in America/New_York', () => {
  // 2026-03-08: clocks go from 02:00 EST to 03:00 EDT (07:00Z); 02:00–02:59 never happens.
  describe('spring forward: a window at 02:30 opens at 03:00 EDT, the first valid local time', () => {
    const w: MaintenanceWindow = { start: '02:30', durationMinutes: 60 };

    it('opens at the transition and lasts 60 real minutes', () => {
      expect(nextWindowStart(w, at('2026-03-08T05:00:00Z'), NEW_YORK)).toEqual(at('2026-03-08T07:00:00Z'));
      expect(isInsideWindow(w, at('2026-03-08T06:59:59Z'), NEW_YORK)).toBe(false); // 01:59:59 EST
      expect(isInsideWindow(w, at('2026-03-08T07:00:00Z'), NEW_YORK)).toBe(true); // 03:00 EDT
      expect(isInsideWindow(w, at('2026-03-08T07:59:59Z'), NEW_YORK)).toBe(true); // 03:59:59 EDT: open until 04:00 EDT
      expect(isInsideWindow(w, at('2026-03-08T08:00:00Z'), NEW_YORK)).toBe(false);
    });

    it('opens at 02:30 local on the days either side', () => {
      expect(nextWindowStart(w, at('2026-03-07T05:00:00Z'), NEW_YORK)).toEqual(at('2026-03-07T07:30:00Z')); // EST
      expect(nextWindowStart(w, at('2026-03-08T08:00:00Z'), NEW_YORK)).toEqual(at('2026-03-09T06:30:00Z')); // EDT
    });

    it('a 24-hour window on the 23-hour day lasts 24 real hours, into Monday', () => {
      const sunday: MaintenanceWindow = { days: ['sun'], start: '00:00', durationMinutes: 1440 };
      expect(isInsideWindow(sunday, at('2026-03-09T04:30:00Z'), NEW_YORK)).toBe(true); // 00:30 EDT Mon
      expect(isInsideWindow(sunday, at('2026-03-09T04:59:59Z'), NEW_YORK)).toBe(true);
      expect(isInsideWindow(sunday, at('2026-03-09T05:00:00Z'), NEW_YORK)).toBe(false); // 01:00 EDT Mon: closed
    });
  });

  // 2026-11-01: clocks go from 02:00 EDT back to 01:00 EST (06:00Z); 01:00–01:59 happens twice.
  describe('fall back', () => {
    it('a 120-minute window across the repeated hour lasts 120 real minutes', () => {
      const w: MaintenanceWindow = { start: '00:30', durationMinutes: 120 };
      expect(nextWindowStart(w, at('2026-11-01T03:00:00Z'), NEW_YORK)).toEqual(at('2026-11-01T04:30:00Z')); // 00:30 EDT
      expect(isInsideWindow(w, at('2026-11-01T05:45:00Z'), NEW_YORK)).toBe(true); // 01:45 EDT
      expect(isInsideWindow(w, at('2026-11-01T06:15:00Z'), NEW_YORK)).toBe(true); // 01:15 EST, second pass
      expect(isInsideWindow(w, at('2026-11-01T06:29:59Z'), NEW_YORK)).toBe(true); // 01:29:59 EST: open until 01:30 EST
      expect(isInsideWindow(w, at('2026-11-01T06:30:00Z'), NEW_YORK)).toBe(false); // 01:30 EST: not 02:30 by the clock face
    });

    it('a window starting in the repeated hour opens once, at the first 01:30', () => {
      const w: MaintenanceWindow = { start: '01:30', durationMinutes: 30 };
      expect(nextWindowStart(w, at('2026-11-01T04:00:00Z'), NEW_YORK)).toEqual(at('2026-11-01T05:30:00Z')); // 01:30 EDT
      expect(isInsideWindow(w, at('2026-11-01T06:35:00Z'), NEW_YORK)).toBe(false); // 01:35 EST
      // From 01:00 EST (after the first opening closed), the next is Monday 01:30 EST, not the second 01:30 today.
      expect(nextWindowStart(w, at('2026-11-01T06:00:00Z'), NEW_YORK)).toEqual(at('2026-11-02T06:30:00Z'));
    });
  });
});

describe('firstInstantAtLocalTime', () => {
  it.each<[string, { year: number; month: number; day: number }, number, number, string | undefined, string]>([
    ['an ordinary time', { year: 2026, month: 6, day: 13 }, 22, 0, undefined, '2026-06-14T02:00:00Z'],
    ['a skipped time → the transition', { year: 2026, month: 3, day: 8 }, 2, 30, undefined, '2026-03-08T07:00:00Z'],
    ['the start of the skipped hour → the transition', { year: 2026, month: 3, day: 8 }, 2, 0, undefined, '2026-03-08T07:00:00Z'],
    ['a repeated time → the first', { year: 2026, month: 11, day: 1 }, 1, 30, undefined, '2026-11-01T05:30:00Z'],
    ['a repeated time not before the first → the second', { year: 2026, month: 11, day: 1 }, 1, 30, '2026-11-01T05:31:00Z', '2026-11-01T06:30:00Z'],
  ])('%s', (_name, date, hour, minute, notBefore, expected) => {
    expect(firstInstantAtLocalTime(date, hour, minute, NEW_YORK, notBefore === undefined ? undefined : at(notBefore))).toEqual(at(expected));
  });
});

// The schema the API parses schedules with (api/schedule-schemas.ts): what it accepts, and the words it
// refuses with, as a 400 names them (path: message).
const problems = (raw: unknown): string | undefined => {
  const r = maintenanceWindowSchema.safeParse(raw);
  return r.success ? undefined : r.error.issues.map((i) => `${['window', ...i.path].join('.')}: ${i.message}`).join('; ');
};

describe('maintenanceWindowSchema', () => {
  it('accepts a window and normalises days (de-duplicated, Monday first)', () => {
    expect(maintenanceWindowSchema.parse({ days: ['sun', 'sat', 'sun'], start: '22:00', durationMinutes: 360 })).toEqual({
      days: ['sat', 'sun'],
      start: '22:00',
      durationMinutes: 360,
    });
    expect(maintenanceWindowSchema.parse({ start: '00:00', durationMinutes: 1440 })).toEqual({ start: '00:00', durationMinutes: 1440 });
    expect(maintenanceWindowSchema.parse({ start: '23:59', durationMinutes: 1 })).toEqual({ start: '23:59', durationMinutes: 1 });
  });

  it.each<[string, unknown, RegExp]>([
    ['not an object', 'nightly', /^window: /],
    ['null', null, /^window: /],
    ['start missing', { durationMinutes: 60 }, /start: is required: a 24-hour "HH:MM"/],
    ['start 24:00', { start: '24:00', durationMinutes: 60 }, /start: must be a 24-hour "HH:MM" from 00:00 to 23:59/],
    ['start 9:00', { start: '9:00', durationMinutes: 60 }, /start: must be a 24-hour "HH:MM"/],
    ['start a number', { start: 900, durationMinutes: 60 }, /start: must be a 24-hour "HH:MM"/],
    ['duration missing', { start: '22:00' }, /durationMinutes: is required/],
    ['duration 0', { start: '22:00', durationMinutes: 0 }, /durationMinutes: must be a whole number of minutes from 1 to 1440/],
    ['duration 1441', { start: '22:00', durationMinutes: 1441 }, /durationMinutes: must be a whole number of minutes from 1 to 1440/],
    ['duration 1.5', { start: '22:00', durationMinutes: 1.5 }, /durationMinutes: must be a whole number/],
    ['duration a string', { start: '22:00', durationMinutes: '60' }, /durationMinutes: must be a whole number/],
    ['days empty', { days: [], start: '22:00', durationMinutes: 60 }, /days: must list at least one day; leave it out for every day/],
    ['days a string', { days: 'sat', start: '22:00', durationMinutes: 60 }, /days: must be a list of days/],
    ['an unknown day', { days: ['sat', 'saturday'], start: '22:00', durationMinutes: 60 }, /days\.1: must be one of mon, tue, wed, thu, fri, sat, sun/],
    ['an unknown field', { start: '22:00', durationMinutes: 60, duration: 60 }, /duration/],
  ])('rejects %s', (_name, raw, message) => {
    expect(problems(raw)).toMatch(message);
  });

  it('names every bad field', () => {
    expect(problems({ start: '25:00', durationMinutes: 0 })).toMatch(/^window\.start: .*; window\.durationMinutes: /);
  });
});

describe('describeMaintenanceWindow', () => {
  it.each<[MaintenanceWindow, string, string]>([
    [WEEKEND_NIGHTS, LONDON, 'Sat–Sun 22:00–04:00 Europe/London'],
    [{ days: ['sun', 'sat'], start: '22:00', durationMinutes: 360 }, LONDON, 'Sat–Sun 22:00–04:00 Europe/London'],
    [NIGHTLY, 'UTC', 'Daily 22:00–04:00 UTC'],
    [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '02:00', durationMinutes: 120 }, 'UTC', 'Daily 02:00–04:00 UTC'],
    [OFFICE_HOURS, NEW_YORK, 'Mon–Fri 09:00–17:00 America/New_York'],
    [{ days: ['mon', 'wed', 'fri', 'sun'], start: '01:15', durationMinutes: 45 }, NEW_YORK, 'Mon, Wed, Fri, Sun 01:15–02:00 America/New_York'],
    [{ days: ['wed'], start: '00:00', durationMinutes: 1440 }, 'UTC', 'Wed 00:00–00:00 (24 h) UTC'],
  ])('%j in %s → %s', (w, timezone, expected) => {
    expect(describeMaintenanceWindow(w, timezone)).toBe(expected);
  });
});
