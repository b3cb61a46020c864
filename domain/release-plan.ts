/**
 * Release plans (issue 14.1): an ordered list of rings, each a device scope with a deferral, a
 * promotion gate and a halt threshold; and the pure rules a release applies to them. Imported by
 * workflow code: no clock, no I/O.
 */

/** Which of the plan's client's devices a ring takes (a device belongs to the first ring that matches it). */
export type RingScope =
  | { type: 'client' }
  | { type: 'site'; siteId: string }
  | { type: 'device_type'; deviceType: 'server' | 'workstation' }
  /** a deterministic sample: a stable hash of device id + plan id below `percent` of the range */
  | { type: 'sample'; percent: number }
  /** the plan's scope minus the earlier rings */
  | { type: 'rest' };

export interface Ring {
  name: string;
  scope: RingScope;
  /** days to wait before this ring starts, counted from the patch's release or the previous ring's promotion */
  deferral: { days: number; from: 'release' | 'previous' };
  /** promoted when, after the soak, success rate ≥ minSuccessRate (%) and successes ≥ minSuccessCount */
  gate: { minSuccessRate: number; minSuccessCount: number; soakHours: number };
  /** the ring's rollout stops itself when this % of its finished devices failed (after minFinished) */
  haltThreshold: { failureRate: number; minFinished: number };
}

export interface ReleasePlan {
  id: string;
  clientId: string;
  name: string;
  rings: Ring[];
}

/** One ring's real results, device by device (from the devices' patch states after the soak). */
export interface RingResults {
  devices: number;
  succeeded: number;
  failed: number;
  /** KBs that failed on at least one device of the ring (left out of later rings) */
  failedKbs: string[];
  /** devices that failed, for a retry */
  failedDeviceIds: string[];
  /** devices with no result yet (not reached, offline, busy), for a resume */
  pendingDeviceIds: string[];
}

export interface GateDecision {
  passed: boolean;
  /** % of finished devices (succeeded + failed); 0 when none finished */
  successRate: number;
  text: string;
}

const pct = (n: number) => `${(Math.round(n * 10) / 10).toFixed(1)}%`;

/** The gate's verdict and the sentence the release records ("ring 1: 96.2% success of 52 ≥ 95% after 24 h soak, promoted"). */
export function evaluateGate(ringIndex: number, ring: Ring, r: RingResults): GateDecision {
  const finished = r.succeeded + r.failed;
  const successRate = finished === 0 ? 0 : (100 * r.succeeded) / finished;
  const rateOk = finished > 0 && successRate >= ring.gate.minSuccessRate;
  const countOk = r.succeeded >= ring.gate.minSuccessCount;
  const passed = rateOk && countOk;
  const why = [
    `${pct(successRate)} success of ${finished} ${rateOk ? '≥' : '<'} ${ring.gate.minSuccessRate}%`,
    ...(countOk ? [] : [`${r.succeeded} successes < ${ring.gate.minSuccessCount} required`]),
  ].join(', ');
  return { passed, successRate, text: `ring ${ringIndex} (${ring.name}): ${why} after ${ring.gate.soakHours} h soak, ${passed ? 'promoted' : 'halted'}` };
}

/** When ring `index` may start (ms): its deferral from the release, or from the previous ring's promotion. */
export function ringStartsAt(ring: Ring, releasedAtMs: number, previousPromotedAtMs: number | undefined): number {
  const base = ring.deferral.from === 'previous' && previousPromotedAtMs !== undefined ? previousPromotedAtMs : releasedAtMs;
  return base + ring.deferral.days * 86_400_000;
}
