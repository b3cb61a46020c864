import type { Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { appendAudit, AuditOutcome } from '../db/audit-repository';
import type { Db } from '../db/database';
import { closeUnreadBody } from './request-body';

/** How many failed authentications a source address may make before it is locked out, and for how long. */
export interface AuthFailureLimits {
  /** failures allowed per address in one window; default 20 */
  maxFailures?: number;
  /** the window, which is also how long a lockout lasts; default 15 minutes */
  windowMs?: number;
}

const DEFAULTS = { maxFailures: 20, windowMs: 15 * 60_000 };

/**
 * An authentication that failed: 401 (no or bad credential) and 403 (a revoked or disallowed one).
 * A refusal of a valid operator's key (its role or clients, `res.locals.refusal`) is no failed
 * authentication: it is audited by api/operator-auth.ts and never counts towards a lockout.
 */
const isAuthFailure = (res: Response) => res.statusCode === 401 || (res.statusCode === 403 && res.locals.refusal === undefined);

const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

/** The limiter, and whether an address has a failure counted in the last window (it may be locked out). */
export type AuthFailureLimiter = RequestHandler & { recentlyFailed(ip: string): boolean };

/**
 * Counts failed authentications per source address and answers 429 with Retry-After once an address
 * has failed `maxFailures` times in the window: 300 wrong keys in 0.2 s went unnoticed before.
 * Only failures are counted, once their answer is known, so a fleet of agents long-polling from one
 * NAT address is never throttled for being busy (a request counter would count their open polls).
 * The lockout is audited once per window per address. The counts live in this process: each replica
 * limits on its own, which still bounds guessing to `replicas × maxFailures` per window.
 */
export function authFailureLimiter(deps: { db: Db; log: Logger; door: 'operators' | 'agents' }, limits: AuthFailureLimits = {}): AuthFailureLimiter {
  const { maxFailures, windowMs } = { ...DEFAULTS, ...limits };
  const failures = new RateLimiterMemory({ points: maxFailures, duration: Math.ceil(windowMs / 1000) });
  const lockouts = new RateLimiterMemory({ points: 1, duration: Math.ceil(windowMs / 1000) });
  // Addresses with a failure counted in the last window, and until when: only they can be locked out,
  // so every other request (a fleet's check-ins) skips the limiter's asynchronous lookup. A superset
  // of the limiter's records (each entry outlives the failure it was set for), so nothing is missed.
  const failedRecently = new Map<string, number>();
  const countFailure = (res: Response, ip: string) => {
    if (!isAuthFailure(res)) return;
    const now = Date.now();
    if (failedRecently.size >= 10_000) for (const [k, t] of failedRecently) if (t < now) failedRecently.delete(k);
    failedRecently.set(ip, now + windowMs + 1000);
    failures.consume(ip).catch(() => undefined); // rejects once over: already counted
  };
  const handler: RequestHandler = (req, res, next) => {
    const ip = addressOf(req);
    const until = failedRecently.get(ip);
    if (until === undefined || until < Date.now()) {
      if (until !== undefined) failedRecently.delete(ip);
      res.on('finish', () => countFailure(res, ip));
      next();
      return;
    }
    failures.get(ip).then(async (seen) => {
      if (seen && seen.consumedPoints >= maxFailures) {
        closeUnreadBody(req, res);
        res.set('Retry-After', String(Math.max(1, Math.ceil(seen.msBeforeNext / 1000))));
        res.status(429).json({ error: `too many failed authentications from ${ip}; try again after the Retry-After seconds` });
        const first = await lockouts.consume(ip).then(() => true, () => false);
        if (first) {
          deps.log.warn({ ip, door: deps.door, maxFailures }, 'source address locked out after repeated failed authentications');
          await appendAudit(deps.db, [{
            actor: `address:${ip}`, action: 'auth.locked_out', outcome: AuditOutcome.Refused, sourceIp: ip,
            details: { ip, door: deps.door, failures: maxFailures, windowSeconds: Math.ceil(windowMs / 1000), path: req.originalUrl.split('?')[0] },
          }]).catch((err) => deps.log.error({ err }, 'lockout not audited'));
        }
        return;
      }
      res.on('finish', () => countFailure(res, ip));
      next();
    }).catch(next);
  };
  return Object.assign(handler, { recentlyFailed: (ip: string) => (failedRecently.get(ip) ?? 0) >= Date.now() });
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
      const claimed = /^Bearer\s+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./i.exec(req.get('authorization') ?? '')?.[1];
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
