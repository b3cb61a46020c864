import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Enrollment tokens and device credentials are 32 random bytes: with that much entropy a plain
 * SHA-256 is the right hash (a slow password hash buys nothing and costs every agent request).
 */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function secretMatches(secret: string, expectedHash: string): boolean {
  return hashMatches(hashSecret(secret), expectedHash);
}

/** Constant-time comparison of a presented secret's hash (`hashSecret`) with the stored one. */
export function hashMatches(secretHash: string, expectedHash: string): boolean {
  const a = Buffer.from(secretHash, 'hex');
  const b = Buffer.from(expectedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A device credential names its device, so the gateway finds the hash to check in one lookup. */
export function formatCredential(deviceId: string, secret: string): string {
  return `${deviceId}.${secret}`;
}

/** A UUID as PostgreSQL prints it: anything else must never reach a `::uuid` cast (a 500). */
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

export function parseCredential(credential: string): { deviceId: string; secret: string } | undefined {
  const m = new RegExp(`^(${UUID})\\.([A-Za-z0-9_-]{20,256})$`).exec(credential);
  return m ? { deviceId: m[1], secret: m[2] } : undefined;
}

/** Constant-time comparison of two strings (API keys). */
export function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
