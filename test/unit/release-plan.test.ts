import { assignRings, samplePoint } from '../../db/release-repository';
import { evaluateGate, ringStartsAt, type Ring } from '../../domain/release-plan';

const ring = (over: Partial<Ring> = {}): Ring => ({
  name: 'pilot', scope: { type: 'sample', percent: 10 }, deferral: { days: 2, from: 'release' },
  gate: { minSuccessRate: 95, minSuccessCount: 10, soakHours: 24 }, haltThreshold: { failureRate: 20, minFinished: 5 }, ...over,
});
const results = (succeeded: number, failed: number) => ({ devices: succeeded + failed, succeeded, failed, failedKbs: [], failedDeviceIds: [], pendingDeviceIds: [] });

describe('evaluateGate', () => {
  test('promotes at or above the rate with enough successes, and says why', () => {
    expect(evaluateGate(1, ring(), results(50, 2))).toEqual({ passed: true, successRate: (100 * 50) / 52, text: 'ring 1 (pilot): 96.2% success of 52 ≥ 95% after 24 h soak, promoted' });
    expect(evaluateGate(1, ring(), results(95, 5)).passed).toBe(true);
  });
  test('halts below the rate, below the count, or with nothing finished', () => {
    expect(evaluateGate(1, ring(), results(18, 2)).text).toBe('ring 1 (pilot): 90.0% success of 20 < 95% after 24 h soak, halted');
    expect(evaluateGate(0, ring(), results(5, 0)).text).toBe('ring 0 (pilot): 100.0% success of 5 ≥ 95%, 5 successes < 10 required after 24 h soak, halted');
    expect(evaluateGate(0, ring({ gate: { minSuccessRate: 0, minSuccessCount: 0, soakHours: 1 } }), results(0, 0)).passed).toBe(false);
  });
});

test('ringStartsAt counts from the release, or from the previous ring\'s promotion', () => {
  const released = Date.parse('2026-12-08T18:00:00Z');
  expect(new Date(ringStartsAt(ring(), released, released + 3_600_000)).toISOString()).toBe('2026-12-10T18:00:00.000Z');
  expect(new Date(ringStartsAt(ring({ deferral: { days: 1, from: 'previous' } }), released, Date.parse('2026-12-09T06:00:00Z'))).toISOString()).toBe('2026-12-10T06:00:00.000Z');
  // The first ring has no previous one: from the release.
  expect(ringStartsAt(ring({ deferral: { days: 0, from: 'previous' } }), released, undefined)).toBe(released);
});

test('rings: a device is in the first ring that matches it; the sample is stable per plan and about its size', () => {
  const devices = Array.from({ length: 2000 }, (_, i) => ({ id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, siteId: i < 100 ? 'hq' : 'branch', deviceType: i % 10 === 0 ? 'server' : 'workstation' }));
  const plan = {
    id: 'p1', rings: [
      ring({ scope: { type: 'site', siteId: 'hq' } }), ring({ scope: { type: 'device_type', deviceType: 'server' } }),
      ring({ scope: { type: 'sample', percent: 10 } }), ring({ scope: { type: 'rest' } }),
    ],
  };
  const rings = assignRings(plan, devices);
  const count = (i: number) => [...rings.values()].filter((r) => r === i).length;
  expect(count(0)).toBe(100);
  expect(count(1)).toBe(190); // the servers outside HQ
  expect(count(2)).toBeGreaterThan(1710 * 0.07);
  expect(count(2)).toBeLessThan(1710 * 0.13);
  expect(count(0) + count(1) + count(2) + count(3)).toBe(2000);
  expect(assignRings(plan, devices)).toEqual(rings);
  // Another plan samples other devices.
  expect(samplePoint(devices[5]!.id, 'p1')).not.toBe(samplePoint(devices[5]!.id, 'p2'));
  expect(samplePoint(devices[5]!.id, 'p1')).toBe(samplePoint(devices[5]!.id, 'p1'));
});
