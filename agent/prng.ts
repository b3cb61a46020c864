import { createHash } from 'node:crypto';

/** A seeded source of numbers in [0, 1): every random choice of a simulated device comes from one. */
export type Random = () => number;

/**
 * mulberry32: a tiny 32-bit PRNG, good enough for simulation and fully reproducible from its seed.
 * Math.random is never used for anything a test relies on.
 */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from any text (a device id, "seed:stream"). */
export function seedFromText(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32LE(0);
}

/**
 * An independent stream per purpose, so that e.g. turning on random failures does not change which
 * updates a device is missing.
 */
export function randomStream(seed: number, stream: string): Random {
  return mulberry32(seedFromText(`${seed >>> 0}:${stream}`));
}

/** An integer in [min, max]. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A Fisher–Yates shuffled copy. */
export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** A GUID-shaped string drawn from the stream (boot ids). */
export function randomGuid(random: Random): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
