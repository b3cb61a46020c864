/**
 * Kaseya's Distribution Window and Exclusion Window (DOMAIN-RULES §2.3, rule 17): each device starts at
 * its own random moment inside [start, start + window] so a schedule does not hit every machine (and the
 * WAN) at once, and the exclusion window only constrains that start moment, never a run in progress.
 *
 * The "random" offset is drawn from a seed (e.g. the schedule id and run date) and the device id, so a
 * replayed workflow draws the same offset, and different devices spread evenly over the window.
 *
 * Pure and deterministic (Intl only, no clock, no Math.random): safe to import from workflow code.
 */
import { firstInstantAtLocalTime } from './maintenance-window';
import { addDays, parseLocalTime, wallClockAt } from './local-time';

/** Local `HH:MM` times, in the zone passed alongside; `end` before `start` crosses midnight (22:00–06:00). */
export interface ExclusionWindow {
  start: string;
  end: string;
}

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

function minutesOfDay(hhmm: string, which: string): number {
  const time = parseLocalTime(hhmm);
  if (!time) throw new RangeError(`exclusion window ${which} must be a 24-hour "HH:MM", got ${JSON.stringify(hhmm)}`);
  return time.hour * 60 + time.minute;
}

/**
 * A device's start moment: `start + offsetMs`, moved out of the exclusion window if it falls inside it.
 *
 * The exclusion window is read in local time in `timezone` (start inclusive, end exclusive; 22:00–06:00
 * crosses midnight; equal start and end exclude nothing). A start inside it moves to the moment the
 * local clock next reads the exclusion's end (if that end is in the hour skipped by a DST change, the
 * moment the clock jumps past it), but never past `windowEnd`. If the exclusion lasts beyond the
 * distribution window so that no allowed moment remains, this returns `windowEnd` itself: the device
 * still runs, at the close of the distribution window, because the exclusion only staggers starts and
 * skipping the run would leave the device unpatched until the next one. Devices moved out share the
 * exclusion's end as their start, as in Kaseya.
 */
export function exclusionAdjusted(start: Date, offsetMs: number, exclusion: ExclusionWindow | undefined, timezone: string, windowEnd: Date): Date {
  const drawn = new Date(start.getTime() + offsetMs);
  if (!exclusion) return drawn;
  const from = minutesOfDay(exclusion.start, 'start');
  const to = minutesOfDay(exclusion.end, 'end');
  if (from === to) return drawn;

  const local = wallClockAt(drawn, timezone);
  const now = local.hour * 60 + local.minute + local.second / 60;
  const crossesMidnight = to < from;
  const inside = crossesMidnight ? now >= from || now < to : now >= from && now < to;
  if (!inside) return drawn;

  // The exclusion ends today, unless it crosses midnight and we are in its evening part.
  const endDate = crossesMidnight && now >= from ? addDays(local, 1) : local;
  const moved = firstInstantAtLocalTime(endDate, Math.floor(to / 60), to % 60, timezone, drawn);
  return moved.getTime() > windowEnd.getTime() ? new Date(windowEnd.getTime()) : moved;
}
