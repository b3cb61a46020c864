import { backoffMs, jitteredBackoffMs } from '../../agent/timing';

test('reconnect backoff: between half and all of the exponential step, capped at a minute', () => {
  expect(jitteredBackoffMs(1, 60_000, () => 0)).toBe(125);
  expect(jitteredBackoffMs(1, 60_000, () => 1)).toBe(250);
  expect(jitteredBackoffMs(4, 60_000, () => 0.5)).toBe(Math.round(backoffMs(4, 60_000) * 0.75));
  expect(jitteredBackoffMs(30, 60_000, () => 1)).toBe(60_000);
  expect(jitteredBackoffMs(30, 60_000, () => 0)).toBe(30_000);
});
