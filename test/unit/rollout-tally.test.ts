import { localSlot, tally } from '../../domain/rollout-tally';

const zero = { devices: 3, done: 0, failed: 0, offline: 0, busy: 0, rebootPending: 0, patchesInstalled: 0, patchesFailed: 0 };

describe('local slot', () => {
  test('the repeated hour when clocks go back gives the same slot twice (so the second run is skipped)', () => {
    // 2026-11-01 01:30 happens twice in New York: 05:30Z (EDT) and 06:30Z (EST).
    expect(localSlot(new Date('2026-11-01T05:30:00Z'), 'America/New_York')).toBe('2026-11-01 01:30');
    expect(localSlot(new Date('2026-11-01T06:30:00Z'), 'America/New_York')).toBe('2026-11-01 01:30');
  });
  test('local date and time in the schedule\'s zone', () => {
    expect(localSlot(new Date('2026-12-09T07:00:00Z'), 'Europe/London')).toBe('2026-12-09 07:00');
    expect(localSlot(new Date('2026-12-09T07:00:00Z'), 'Asia/Tokyo')).toBe('2026-12-09 16:00');
  });
});

describe('tally', () => {
  test('each outcome lands in its own count, patches add up', () => {
    let c = tally(zero, { kind: 'done', installed: 3, failed: 0, rebootPending: true });
    c = tally(c, { kind: 'failed', installed: 1, failed: 2, rebootPending: false });
    c = tally(c, { kind: 'offline' });
    c = tally(c, { kind: 'busy' });
    expect(c).toEqual({ devices: 3, done: 1, failed: 1, offline: 1, busy: 1, rebootPending: 1, patchesInstalled: 4, patchesFailed: 2 });
    expect(zero.done).toBe(0);
  });
});
