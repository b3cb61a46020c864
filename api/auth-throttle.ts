import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { appendAudit, AuditOutcome } from '../db/audit-repository';
import type { Db } from '../db/database';
import { closeUnreadBody } from './request-body';

/** How many failed authentications a source address may make before it is locked out, and for how long. */
export interface AuthFailureLimits {
  /** failures allowed per address (at the agents' door: per address and device claimed) in one window; default 20 */
  maxFailures?: number;
  /**
   * at a door that names who a request claims to be (`identify`): failures allowed per address over all
   * the identities it claims; default 50 × maxFailures. It bounds one address spraying made-up devices.
   */
  maxAddressFailures?: number;
  /** the window, which is also how long a lockout lasts; default 15 minutes */
  windowMs?: number;
}

const DEFAULTS = { maxFailures: 20, windowMs: 15 * 60_000 };
/** An address behind which this many devices each fail maxFailures times is locked out as a whole. */
const ADDRESS_FAILURES_PER_KEY = 50;

/**
 * An authentication that failed: 401 (no or bad credential) and 403 (a revoked or disallowed one).
 * A refusal of a valid operator's key (its role or clients, `res.locals.refusal`) is no failed
 * authentication: it is audited by api/operator-auth.ts and never counts towards a lockout.
 */
const isAuthFailure = (res: Response) => res.statusCode === 401 || (res.statusCode === 403 && res.locals.refusal === undefined);

const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/**
 * The device a request's `Authorization: Bearer <device id>.<secret>` claims to be, whether or not the
 * secret is well formed (a truncated credential still names its device in the audit).
 */
export function claimedDevice(authorization: string | undefined): string | undefined {
  return /^Bearer\s+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./i.exec(authorization ?? '')?.[1]?.toLowerCase();
}

/** The limiter, and whether a request from this address, claiming this identity, may be locked out. */
export type AuthFailureLimiter = RequestHandler & { recentlyFailed(ip: string, identity?: string): boolean };

/**
 * Counts failed authentications and answers 429 with Retry-After once the limit is reached in the
 * window: 300 wrong keys in 0.2 s went unnoticed before. Only failures are counted, once their answer
 * is known, so a fleet of agents long-polling from one NAT address is never throttled for being busy
 * (a request counter would count their open polls).
 *
 * At the operators' door the count is per source address. At the agents' door (`identify`: the device a
 * credential claims) it is per address and device: a site's machines share one NAT address, and 20
 * retired or re-imaged machines failing there must not lock out the hundreds that still patch (a
 * 10,000-device soak was locked out whole by 20 such failures). Guessing one device's secret is still
 * bounded per address; an address spraying made-up devices is bounded by `maxAddressFailures` over all
 * of them; requests naming no device (enrollment) count per address.
 * Each lockout is audited once per window. The counts live in this process: each replica limits on its
 * own, which still bounds guessing to `replicas × maxFailures` per window.
 */
export function authFailureLimiter(
  deps: { db: Db; log: Logger; door: 'operators' | 'agents'; identify?: (req: Request) => string | undefined },
  limits: AuthFailureLimits = {},
): AuthFailureLimiter {
  const { maxFailures, windowMs } = { ...DEFAULTS, ...limits };
  const maxAddressFailures = limits.maxAddressFailures ?? maxFailures * ADDRESS_FAILURES_PER_KEY;
  const duration = Math.ceil(windowMs / 1000);
  const failures = new RateLimiterMemory({ points: maxFailures, duration });
  const addressFailures = deps.identify ? new RateLimiterMemory({ points: maxAddressFailures, duration }) : undefined;
  const lockouts = new RateLimiterMemory({ points: 1, duration });
  const keyOf = (ip: string, identity: string | undefined) => (identity === undefined ? ip : `${ip} ${identity}`);
  // Keys (and addresses) with a failure counted in the last window, and until when: only they can be
  // locked out, so every other request (a fleet's check-ins) skips the limiter's asynchronous lookup.
  // A superset of the limiter's records (each entry outlives the failure it was set for), so nothing is
  // missed. An address's entry also counts its failures, so a key never seen still meets its ceiling.
  const failedRecently = new Map<string, number>();
  const addressRecently = new Map<string, { until: number; count: number }>();
  const remember = (now: number, key: string, ip: string) => {
    if (failedRecently.size >= 10_000) for (const [k, t] of failedRecently) if (t < now) failedRecently.delete(k);
    if (addressRecently.size >= 10_000) for (const [k, a] of addressRecently) if (a.until < now) addressRecently.delete(k);
    failedRecently.set(key, now + windowMs + 1000);
    const a = addressRecently.get(ip);
    addressRecently.set(ip, { until: now + windowMs + 1000, count: a && a.until >= now ? a.count + 1 : 1 });
  };
  const recentlyFailed = (ip: string, identity?: string) => {
    const now = Date.now();
    if ((failedRecently.get(keyOf(ip, identity)) ?? 0) >= now) return true;
    const a = addressRecently.get(ip);
    return addressFailures !== undefined && a !== undefined && a.until >= now && a.count >= maxAddressFailures;
  };
  const countFailure = (res: Response, ip: string, key: string) => {
    if (!isAuthFailure(res)) return;
    remember(Date.now(), key, ip);
    failures.consume(key).catch(() => undefined); // rejects once over: already counted
    addressFailures?.consume(ip).catch(() => undefined);
  };
  const handler: RequestHandler = (req, res, next) => {
    const ip = addressOf(req);
    const identity = deps.identify?.(req);
    const key = keyOf(ip, identity);
    if (!recentlyFailed(ip, identity)) {
      res.on('finish', () => countFailure(res, ip, key));
      next();
      return;
    }
    Promise.all([failures.get(key), addressFailures?.get(ip)]).then(async ([seen, seenAddress]) => {
      const lockedKey = seen && seen.consumedPoints >= maxFailures ? seen : undefined;
      const lockedAddress = seenAddress && seenAddress.consumedPoints >= maxAddressFailures ? seenAddress : undefined;
      const locked = lockedAddress ?? lockedKey;
      if (locked) {
        // The address as a whole when it is over its ceiling, else only this identity from it.
        const scope = lockedAddress || identity === undefined ? { lockKey: ip, who: `from ${ip}` } : { lockKey: key, who: `for device ${identity} from ${ip}` };
        closeUnreadBody(req, res);
        res.set('Retry-After', String(Math.max(1, Math.ceil(locked.msBeforeNext / 1000))));
        res.status(429).json({ error: `too many failed authentications ${scope.who}; try again after the Retry-After seconds` });
        const first = await lockouts.consume(scope.lockKey).then(() => true, () => false);
        if (first) {
          const deviceId = lockedAddress ? undefined : identity;
          const limit = lockedAddress ? maxAddressFailures : maxFailures;
          deps.log.warn({ ip, door: deps.door, deviceId, maxFailures: limit }, 'locked out after repeated failed authentications');
          await appendAudit(deps.db, [{
            actor: `address:${ip}`, action: 'auth.locked_out', outcome: AuditOutcome.Refused, sourceIp: ip,
            details: {
              ip, door: deps.door, failures: limit, windowSeconds: duration, path: req.originalUrl.split('?')[0],
              ...(deviceId ? { deviceId, scope: 'device' } : { scope: 'address' }),
            },
          }]).catch((err) => deps.log.error({ err }, 'lockout not audited'));
        }
        return;
      }
      res.on('finish', () => countFailure(res, ip, key));
      next();
    }).catch(next);
  };
  return Object.assign(handler, { recentlyFailed });
}

/**
 * Audits every failed authentication at this door once its answer is sent: who it claimed to be
 * (the device id of a device credential), from where, on what, and why (the answer's status and,
 * where the auth code set one, `res.locals.authFailure`). The limiter in front bounds how many rows
 * one address can cause.
 */
export function auditAuthFailures(deps: { db: Db; log: Logger; door: 'operators' | 'agents' }): RequestHandler {
  return (req, res, next) => {
    res.on('finish', () => {
      if (!isAuthFailure(res)) return;
      const ip = req.ip ?? 'unknown';
      const keyId = typeof res.locals.authKeyId === 'string' ? res.locals.authKeyId : undefined;
      const claimed = claimedDevice(req.get('authorization'));
      const reason = typeof res.locals.authFailure === 'string' ? res.locals.authFailure : `answered ${res.statusCode}`;
      deps.log.warn({ ip, door: deps.door, reason, path: req.originalUrl.split('?')[0] }, 'authentication failed');
      appendAudit(deps.db, [{
        actor: claimed ? `device:${claimed}` : keyId ? `key:${keyId}` : `address:${ip}`, action: 'auth.failed',
        outcome: AuditOutcome.Refused, sourceIp: ip, keyId,
        details: { ip, door: deps.door, reason, method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode, ...(keyId ? { keyId } : {}) },
      }]).catch((err) => deps.log.error({ err }, 'failed authentication not audited'));
    });
    next();
  };
}
