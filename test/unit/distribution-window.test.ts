import { distributionOffsetMs, exclusionAdjusted, type ExclusionWindow } from '../../domain/distribution-window';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const LONDON = 'Europe/London';
const NEW_YORK = 'America/New_York';
const at = (iso: string): Date => new Date(iso);
const devices = (n: number): string[] => Array.from({ length: n }, (_, i) => `dev-${String(i).padStart(5, '0')}`);

describe('distributionOffsetMs', () => {
  it('is deterministic: the same seed, device and window give the same offset (replay-safe)', () => {
    const first = devices(200).map((d) => distributionOffsetMs('sched-42/2026-06-13', d, HOUR));
    const again = devices(200).map((d) => distributionOffsetMs('sched-42/2026-06-13', d, HOUR));
    expect(again).toEqual(first);
    // Pinned: changing the hash or PRNG changes the offsets that running workflows drew, and their
    // replay then fails with a non-determinism error. Version the change (patched()) instead.
    expect(['dev-00000', 'dev-00001', 'a3f9c2e0-device'].map((d) => distributionOffsetMs('sched-42/2026-06-13', d, HOUR))).toEqual([
      1026008, 1778932, 864959,
    ]);
  });

  it('keeps every offset a whole number inside [0, window]', () => {
    for (const windowMs of [1, 2, 1000, 5 * MINUTE, HOUR, 24 * HOUR]) {
      for (const d of devices(500)) {
        const o = distributionOffsetMs('seed', d, windowMs);
        expect(Number.isInteger(o)).toBe(true);
        expect(o).toBeGreaterThanOrEqual(0);
        expect(o).toBeLessThanOrEqual(windowMs);
      }
    }
  });

  it('reaches both ends of a tiny window', () => {
    const seen = new Set(devices(200).map((d) => distributionOffsetMs('seed', d, 1)));
    expect(seen).toEqual(new Set([0, 1]));
  });

  it.each(['sched-1/2026-06-13', 'sched-1/2026-06-14', 'another'])('spreads 1,000 devices over a 60-minute window (seed %s): each 10-minute bucket gets 10–25%%', (seed) => {
    const buckets = new Array<number>(6).fill(0);
    for (const d of devices(1000)) buckets[Math.min(5, Math.floor(distributionOffsetMs(seed, d, HOUR) / (10 * MINUTE)))]!++;
    for (const count of buckets) {
      expect(count).toBeGreaterThanOrEqual(100);
      expect(count).toBeLessThanOrEqual(250);
    }
  });

  it('spreads devices whose ids differ in one character (UUIDs, sequential ids)', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `6f1c2a40-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const offsets = ids.map((d) => distributionOffsetMs('s', d, HOUR));
    expect(new Set(offsets).size).toBeGreaterThan(990);
    const buckets = new Array<number>(6).fill(0);
    for (const o of offsets) buckets[Math.min(5, Math.floor(o / (10 * MINUTE)))]!++;
    for (const count of buckets) expect(count).toBeGreaterThanOrEqual(100);
  });

  it('draws afresh for another seed (another run) and tells seed and device apart', () => {
    const a = devices(100).map((d) => distributionOffsetMs('run-1', d, HOUR));
    const b = devices(100).map((d) => distributionOffsetMs('run-2', d, HOUR));
    expect(a.filter((o, i) => o === b[i]).length).toBeLessThan(3);
    expect(distributionOffsetMs('ab', 'c', HOUR)).not.toBe(distributionOffsetMs('a', 'bc', HOUR));
  });

  it('gives 0 for a zero window (no distribution window)', () => {
    expect(devices(50).map((d) => distributionOffsetMs('seed', d, 0))).toEqual(new Array(50).fill(0));
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('throws RangeError for window %p', (windowMs) => {
    expect(() => distributionOffsetMs('seed', 'dev', windowMs)).toThrow(RangeError);
  });
});

describe('exclusionAdjusted', () => {
  // London in June is on BST (UTC+1). Window: 21:00 BST Sat 2026-06-13 for 4 hours (to 01:00 BST).
  const start = at('2026-06-13T20:00:00Z');
  const windowEnd = at('2026-06-14T00:00:00Z');
  const evening: ExclusionWindow = { start: '22:00', end: '23:00' };
  const overnight: ExclusionWindow = { start: '22:00', end: '06:00' };

  it.each<[string, number, ExclusionWindow | undefined, string, Date, string]>([
    ['no exclusion window: the drawn start', 75 * MINUTE, undefined, LONDON, windowEnd, '2026-06-13T21:15:00Z'],
    ['before the exclusion (21:30 BST): unchanged', 30 * MINUTE, evening, LONDON, windowEnd, '2026-06-13T20:30:00Z'],
    ['at its start (22:00 BST, inclusive): moved to 23:00 BST', 60 * MINUTE, evening, LONDON, windowEnd, '2026-06-13T22:00:00Z'],
    ['inside (22:15 BST): moved to 23:00 BST', 75 * MINUTE, evening, LONDON, windowEnd, '2026-06-13T22:00:00Z'],
    ['a second before its end: moved to its end', 2 * HOUR - 1000, evening, LONDON, windowEnd, '2026-06-13T22:00:00Z'],
    ['at its end (23:00 BST, exclusive): unchanged', 2 * HOUR, evening, LONDON, windowEnd, '2026-06-13T22:00:00Z'],
    ['after it (23:30 BST): unchanged', 150 * MINUTE, evening, LONDON, windowEnd, '2026-06-13T22:30:00Z'],
    ['equal start and end exclude nothing', 75 * MINUTE, { start: '22:00', end: '22:00' }, LONDON, windowEnd, '2026-06-13T21:15:00Z'],
    ['crossing midnight, before it (21:30 BST): unchanged', 30 * MINUTE, overnight, LONDON, windowEnd, '2026-06-13T20:30:00Z'],
    [
      'crossing midnight, evening part (22:30 BST): 06:00 BST is past the window end → window end',
      90 * MINUTE,
      overnight,
      LONDON,
      windowEnd,
      '2026-06-14T00:00:00Z',
    ],
    [
      'crossing midnight, evening part, longer window: moved to 06:00 BST the next day',
      90 * MINUTE,
      overnight,
      LONDON,
      at('2026-06-14T08:00:00Z'),
      '2026-06-14T05:00:00Z',
    ],
    [
      'crossing midnight, morning part (00:30 BST): moved to 06:00 BST the same day',
      210 * MINUTE,
      overnight,
      LONDON,
      at('2026-06-14T08:00:00Z'),
      '2026-06-14T05:00:00Z',
    ],
    [
      'crossing midnight, window ends before the exclusion does: no allowed moment → window end',
      210 * MINUTE,
      overnight,
      LONDON,
      windowEnd,
      '2026-06-14T00:00:00Z',
    ],
  ])('Europe/London: %s', (_name, offsetMs, exclusion, timezone, end, expected) => {
    expect(exclusionAdjusted(start, offsetMs, exclusion, timezone, end)).toEqual(at(expected));
  });

  // New York in January is on EST (UTC-5). Window: 21:00 EST Fri 2026-01-09 for 10 hours (to 07:00 EST).
  const nyStart = at('2026-01-10T02:00:00Z');
  const nyEnd = at('2026-01-10T12:00:00Z');
  it.each<[string, number, string]>([
    ['21:30 EST, before 22:00: unchanged', 30 * MINUTE, '2026-01-10T02:30:00Z'],
    ['23:00 EST: moved to 06:00 EST next morning', 2 * HOUR, '2026-01-10T11:00:00Z'],
    ['03:00 EST: moved to 06:00 EST the same morning', 6 * HOUR, '2026-01-10T11:00:00Z'],
    ['06:30 EST, after it: unchanged', 9.5 * HOUR, '2026-01-10T11:30:00Z'],
  ])('America/New_York, 22:00–06:00: %s', (_name, offsetMs, expected) => {
    expect(exclusionAdjusted(nyStart, offsetMs, overnight, NEW_YORK, nyEnd)).toEqual(at(expected));
  });

  it('reads the exclusion in the zone given: the same instant is excluded in New York, not in London', () => {
    const small: ExclusionWindow = { start: '01:00', end: '03:00' };
    const s = at('2026-01-10T07:00:00Z'); // 02:00 EST, 07:00 GMT
    const end = at('2026-01-10T12:00:00Z');
    expect(exclusionAdjusted(s, 0, small, NEW_YORK, end)).toEqual(at('2026-01-10T08:00:00Z')); // 03:00 EST
    expect(exclusionAdjusted(s, 0, small, LONDON, end)).toEqual(s);
  });

  describe('DST in America/New_York', () => {
    const end = at('2026-03-09T00:00:00Z');
    it('an exclusion ending in the skipped hour (02:30 on 2026-03-08) releases at 03:00 EDT', () => {
      // 01:30 EST → the clock never reads 02:30; it jumps from 01:59:59 EST to 03:00 EDT (07:00Z).
      expect(exclusionAdjusted(at('2026-03-08T06:00:00Z'), 30 * MINUTE, { start: '01:00', end: '02:30' }, NEW_YORK, end)).toEqual(at('2026-03-08T07:00:00Z'));
    });

    it('a start in the repeated hour (2026-11-01) moves to the end that follows it, not the earlier one', () => {
      const ex: ExclusionWindow = { start: '00:00', end: '01:30' };
      const nov = at('2026-11-01T03:00:00Z');
      const novEnd = at('2026-11-01T12:00:00Z');
      // 00:50 EDT → 01:30 EDT (05:30Z)
      expect(exclusionAdjusted(nov, 110 * MINUTE, ex, NEW_YORK, novEnd)).toEqual(at('2026-11-01T05:30:00Z'));
      // 01:10 EST, the second pass (06:10Z) → 01:30 EST (06:30Z), never back to 01:30 EDT
      expect(exclusionAdjusted(nov, 190 * MINUTE, ex, NEW_YORK, novEnd)).toEqual(at('2026-11-01T06:30:00Z'));
      // 01:40 EDT (05:40Z) is outside by the clock
      expect(exclusionAdjusted(nov, 160 * MINUTE, ex, NEW_YORK, novEnd)).toEqual(at('2026-11-01T05:40:00Z'));
    });
  });

  it('never returns a start inside the exclusion or outside the distribution window (1,000 devices, both zones)', () => {
    const windowMs = 8 * HOUR;
    for (const [zone, s] of [
      [LONDON, at('2026-06-13T18:00:00Z')],
      [NEW_YORK, at('2026-01-09T23:00:00Z')],
    ] as const) {
      const end = new Date(s.getTime() + windowMs);
      for (const d of devices(1000)) {
        const got = exclusionAdjusted(s, distributionOffsetMs('seed', d, windowMs), overnight, zone, end);
        expect(got.getTime()).toBeGreaterThanOrEqual(s.getTime());
        expect(got.getTime()).toBeLessThanOrEqual(end.getTime());
        if (got.getTime() === end.getTime()) continue; // no allowed moment left: documented fallback
        const hour = Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', hourCycle: 'h23' }).format(got));
        expect(hour >= 6 && hour < 22).toBe(true);
      }
    }
  });

  it('throws RangeError for a malformed exclusion time', () => {
    expect(() => exclusionAdjusted(start, 0, { start: '10pm', end: '06:00' }, LONDON, windowEnd)).toThrow(/exclusion window start must be a 24-hour "HH:MM"/);
  });
});
