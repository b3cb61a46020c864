import type { RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { closeUnreadBody } from './request-body';
import { ensureBootstrapAdmin, findApiKey, touchApiKey, type StoredKey } from '../db/access-repository';
import { appendAudit, AuditOutcome } from '../db/audit-repository';
import { runWithAuditContext } from '../db/audit-context';
import type { Db } from '../db/database';
import { approvalRequestTenancy, clientTenancy, deviceTenancy, policyTenancy, releasePlanTenancy, reportTenancy, scheduleTenancy, siteTenancy, type Tenancy } from '../db/tenancy-repository';
import { actorOf, principalSees, roleAllows, type Principal } from '../domain/roles';
import { hashSecret, secretMatches } from './credentials';
import { ruleFor, TenantRule } from './route-roles';

/** A personal key: "pf_" + a 12-character public key id + "_" + 43 characters of secret (32 bytes). */
const PERSONAL_KEY = /^pf_([a-z0-9]{12})_[A-Za-z0-9_-]{43}$/;
export const BOOTSTRAP_KEY_ID = 'bootstrap';

/** The key id a presented key claims (before it is checked), for audit rows of failures. */
export const claimedKeyId = (presented: string): string | undefined => PERSONAL_KEY.exec(presented)?.[1];

export interface OperatorAuthDeps {
  db: Db;
  log: Logger;
  /** the configured key (PATCHFLOW_API_KEY): the bootstrap admin's key; none: personal keys only */
  apiKey?: string;
  /** tenancy of the things other modules own (approval requests), by tenant rule */
  tenancyOf?: Partial<Record<TenantRule, (db: Db, id: string) => Promise<Tenancy>>>;
}

const WHAT: Partial<Record<TenantRule, string>> = {
  device: 'device', client: 'client', policy: 'policy', schedule: 'schedule', report: 'report', request: 'approval request', 'release-plan': 'release plan', site: 'site',
};

const presentedKey = (get: (h: string) => string | undefined) =>
  get('x-api-key') ?? (get('authorization') ?? '').replace(/^Bearer\s+/i, '');

/**
 * The operators' door: authenticates the key (personal keys are looked up by their public id and
 * their SHA-256 compared in constant time; the configured key is the bootstrap admin's), then checks
 * the route's role and tenant from api/route-roles.ts, then runs the route with the person in the
 * audit context. Failures are 401 (audited by auth-throttle.ts, with the key id when known); role and
 * cross-client refusals are 403 or 404 and audited here as `auth.refused`.
 */
export function operatorAuth(deps: OperatorAuthDeps): RequestHandler {
  let bootstrap: Promise<void> | undefined;
  const ensureBootstrap = () => {
    if (!deps.apiKey) return Promise.resolve();
    bootstrap ??= ensureBootstrapAdmin(deps.db, hashSecret(deps.apiKey)).catch((err) => { bootstrap = undefined; throw err; });
    return bootstrap;
  };
  const resolvers: Partial<Record<TenantRule, (db: Db, id: string) => Promise<Tenancy>>> = {
    device: deviceTenancy, client: clientTenancy, policy: policyTenancy, schedule: scheduleTenancy, report: reportTenancy, request: approvalRequestTenancy, 'release-plan': releasePlanTenancy, site: siteTenancy, ...deps.tenancyOf,
  };

  const fail = (res: Response, reason: string, keyId?: string) => {
    // The body of a refused request is never read: the connection closes after the answer.
    closeUnreadBody(res.req, res);
    res.locals.authFailure = reason;
    if (keyId) res.locals.authKeyId = keyId;
    res.status(401).json({ error: reason });
  };

  return (req, res, next) => {
    const run = async () => {
      const presented = presentedKey((h) => req.get(h));
      if (!presented) return fail(res, 'missing API key (Authorization: Bearer <key> or X-API-Key)');
      const keyId = claimedKeyId(presented) ?? (deps.apiKey ? BOOTSTRAP_KEY_ID : undefined);
      if (!keyId) return fail(res, 'API key is not valid');
      await ensureBootstrap();
      const key: StoredKey | undefined = await findApiKey(deps.db, keyId);
      // A wrong personal key names the key it claimed; any other wrong string claims nothing (not "bootstrap").
      if (!key || !secretMatches(presented, key.secretHash)) return fail(res, 'API key is not valid', key && claimedKeyId(presented) ? keyId : undefined);
      if (key.revokedAt) return fail(res, `API key ${keyId} was revoked at ${key.revokedAt}`, keyId);
      if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return fail(res, `API key ${keyId} expired at ${key.expiresAt}`, keyId);
      const ip = req.ip ?? 'unknown';
      // Awaited, so the bookkeeping is done before the route runs (at most one write a minute per key).
      await touchApiKey(deps.db, keyId, ip).catch((err) => deps.log.warn({ err, keyId }, 'key use not recorded'));

      const principal: Principal = {
        userId: key.userId, userName: key.userName, role: key.role, keyId, keyName: key.name, clients: key.clientIds ?? 'all',
      };
      res.locals.principal = principal;
      res.locals.actor = actorOf(principal);
      const context = { userName: key.userName, keyId, keyName: key.name, sourceIp: ip };

      // Refusals (here, or by a handler's tenant check in api/tenancy.ts) are audited once answered.
      res.on('finish', () => {
        if (typeof res.locals.refusal !== 'string') return;
        appendAudit(deps.db, [{
          actor: res.locals.actor, action: 'auth.refused', outcome: AuditOutcome.Refused, ...context,
          details: { reason: res.locals.refusal, method: req.method, path: `${req.baseUrl}${req.path}`, status: res.statusCode, role: principal.role },
        }]).catch((err) => deps.log.error({ err }, 'refusal not audited'));
      });
      const refuse = (status: 403 | 404, why: string, error: string) => {
        res.locals.refusal = why;
        // A 404 for another tenant's id reads exactly like the route's own for an unknown one.
        res.status(status).json(status === 404 ? { error, type: 'NotFound' } : { error });
      };

      const matched = ruleFor(req.method, req.path);
      if (!matched) {
        res.status(404).json({ error: `no route ${req.method} ${req.baseUrl}${req.path}` });
        return;
      }
      const { rule, params } = matched;
      if (!roleAllows(principal.role, rule.role)) {
        return refuse(403, 'role', `role ${principal.role} may not ${rule.method} ${rule.path}: it needs ${rule.role} or above`);
      }
      if (rule.tenant === TenantRule.AllClients && principal.clients !== 'all') {
        return refuse(403, 'spans clients', `${rule.method} ${rule.path} reaches every client: only a key for all clients may use it`);
      }
      const resolve = resolvers[rule.tenant];
      if (resolve && rule.param && principal.clients !== 'all') {
        let id = params[rule.param];
        try { id = decodeURIComponent(id); } catch { /* malformed: the route's parser answers 400 */ }
        const tenancy = await resolve(deps.db, id);
        // Unknown ids go on to the route, which answers its own 404 (or 400 for a malformed id).
        if (tenancy !== undefined && !principalSees(principal, tenancy)) {
          return refuse(404, 'other tenant', `${WHAT[rule.tenant]} ${id} not found`);
        }
      }
      runWithAuditContext(context, () => next());
    };
    run().catch(next);
  };
}
