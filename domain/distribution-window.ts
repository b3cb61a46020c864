/**
 * Kaseya's Distribution Window (DOMAIN-RULES §2.3, rule 17): each device starts at its own random
 * moment inside [start, start + window] so a schedule does not hit every machine (and the WAN) at once.
 *
 * The "random" offset is drawn from a seed (e.g. the schedule id and run date) and the device id, so a
 * replayed workflow draws the same offset, and different devices spread evenly over the window.
 *
 * Pure and deterministic (Intl only, no clock, no Math.random): safe to import from workflow code.
 */
/** cyrb53 (public domain): a small, well-mixed 53-bit string hash. */
function cyrb53(s: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** mulberry32's first draw from a 32-bit state, in [0, 1). */
function mulberry32(state: number): number {
  let t = (state + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * A device's start offset inside a distribution window, in whole milliseconds from 0 to `windowMs`
 * inclusive: the same for the same `seed`, `deviceId` and `windowMs` (so workflow replay agrees), spread
 * uniformly across devices. Use a seed that changes per run (schedule id + run date) unless a device
 * should keep the same slot every run. `windowMs` 0 (no distribution window) gives 0; a fractional
 * window is floored. Throws RangeError for a negative or non-finite window (a caller bug).
 */
export function distributionOffsetMs(seed: string, deviceId: string, windowMs: number): number {
  if (!Number.isFinite(windowMs) || windowMs < 0) throw new RangeError(`distribution window must be a finite number of milliseconds ≥ 0, got ${windowMs}`);
  const window = Math.floor(windowMs);
  if (window === 0) return 0;
  // The NUL separator keeps ("ab", "c") and ("a", "bc") apart.
  const hash = cyrb53(`${seed}\u0000${deviceId}`);
  // Mix the low 32 bits with the high 21 so both halves of the hash count.
  const state = (hash >>> 0) ^ Math.floor(hash / 4294967296);
  return Math.floor(mulberry32(state) * (window + 1));
}
