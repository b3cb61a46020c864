import { distributionOffsetMs } from '../../domain/distribution-window';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
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
