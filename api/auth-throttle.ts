import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';

/** How many failed authentications a source address may make before it is locked out, and for how long. */
export interface AuthFailureLimits {
  /** failures allowed per address in one window; default 20 */
  maxFailures?: number;
  /** the window, which is also how long a lockout lasts; default 15 minutes */
  windowMs?: number;
}

const DEFAULTS = { maxFailures: 20, windowMs: 15 * 60_000 };

/** An authentication that failed: 401 (no or bad credential) and 403 (a revoked or disallowed one). */
const isAuthFailure = (res: Response) => res.statusCode === 401 || res.statusCode === 403;

/**
 * Counts failed authentications per source address and answers 429 with Retry-After once an address
 * has failed `maxFailures` times in the window: 300 wrong keys in 0.2 s went unnoticed before. Only
 * failures count (a busy agent or operator is never throttled), and the lockout is audited once per
 * window per address. The counts live in this process: each replica limits on its own, which still
 * bounds guessing to `replicas × maxFailures` per window.
 */
export function authFailureLimiter(deps: { db: Db; log: Logger; door: 'operators' | 'agents' }, limits: AuthFailureLimits = {}): RequestHandler {
  const { maxFailures, windowMs } = { ...DEFAULTS, ...limits };
  const lockedOut = new Map<string, number>();
  return rateLimit({
    windowMs,
    limit: maxFailures,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => !isAuthFailure(res),
    keyGenerator: (req: Request) => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown'),
    handler: (req, res, _next, options) => {
      const ip = req.ip ?? 'unknown';
      const retryAfter = Math.ceil(options.windowMs / 1000);
      const now = Date.now();
      if ((lockedOut.get(ip) ?? 0) < now - options.windowMs) {
        lockedOut.set(ip, now);
        deps.log.warn({ ip, door: deps.door, maxFailures }, 'source address locked out after repeated failed authentications');
        appendAudit(deps.db, [{
          actor: `address:${ip}`, action: 'auth.locked_out',
          details: { ip, door: deps.door, failures: maxFailures, windowSeconds: retryAfter, path: req.originalUrl.split('?')[0] },
        }]).catch((err) => deps.log.error({ err }, 'lockout not audited'));
      }
      res.status(429).json({ error: `too many failed authentications from ${ip}; try again later (Retry-After)` });
    },
  });
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
      const claimed = /^Bearer\s+([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\./i.exec(req.get('authorization') ?? '')?.[1];
      const reason = typeof res.locals.authFailure === 'string' ? res.locals.authFailure : `answered ${res.statusCode}`;
      deps.log.warn({ ip, door: deps.door, reason, path: req.originalUrl.split('?')[0] }, 'authentication failed');
      appendAudit(deps.db, [{
        actor: claimed ? `device:${claimed}` : `address:${ip}`, action: 'auth.failed',
        details: { ip, door: deps.door, reason, method: req.method, path: req.originalUrl.split('?')[0], status: res.statusCode },
      }]).catch((err) => deps.log.error({ err }, 'failed authentication not audited'));
    });
    next();
  };
}
