import { jsonBody } from './request-body';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { sameString } from './credentials';
import { loginCodeSchema, type DashboardConfig } from './dashboard-schemas';
import { HttpError } from './errors';
import { parse } from './validation';

/** Where tools/build-web.js writes the dashboard bundle. */
export const DEFAULT_WEB_DIR = path.resolve(__dirname, '..', 'web', 'dist');

/**
 * One-time login codes for the link `npm start` prints: the link carries a code, never the key, so
 * a scrolled-back terminal or a shared log holds nothing that still works once the code is used or
 * expired. In memory: the link is for the one process that printed it (the dev stack).
 */
export class LoginCodes {
  private readonly codes = new Map<string, number>();
  constructor(private readonly ttlMs = 15 * 60_000) {}

  issue(now = Date.now()): string {
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, now + this.ttlMs);
    return code;
  }

  /** true once per code, within its lifetime */
  redeem(code: string, now = Date.now()): boolean {
    for (const [known, expires] of this.codes) {
      if (expires < now) { this.codes.delete(known); continue; }
      if (sameString(known, code)) { this.codes.delete(known); return true; }
    }
    return false;
  }
}

/** GET /api/v1/dashboard/config (behind operator auth): where the dashboard links to. */
export function createDashboardConfigApi(deps: { temporalUiUrl?: string; namespace: string }): Router {
  const router = express.Router();
  router.get('/dashboard/config', (_req, res) => {
    const body: DashboardConfig = { temporalUiUrl: deps.temporalUiUrl ?? null, namespace: deps.namespace, actor: res.locals.actor as string };
    res.json(body);
  });
  return router;
}

/**
 * The dashboard itself: the bundle's files, index.html for every page path (the app routes in the
 * browser), and the login-code exchange. The page carries no data: everything it shows comes from
 * /api/v1 with the operator's key, so serving it needs no authentication.
 */
/**
 * `apiKey`: the bootstrap admin key a login code is exchanged for (`npm start` issues codes for its own
 * admin); without one, no code is ever valid.
 */
export function createDashboardSite(deps: { db: Db; webDir?: string; apiKey?: string; loginCodes?: LoginCodes }): Router {
  const webDir = deps.webDir ?? DEFAULT_WEB_DIR;
  const router = express.Router();

  // The page's links open the Temporal UI in other tabs: they learn nothing of where they came from.
  router.use((_req, res, next) => { res.set({ 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff' }); next(); });

  // A one-time code is a few dozen bytes: read at most 1 kB from anyone.
  router.post('/dashboard/login', ...jsonBody(1024), async (req, res) => {
    const { code } = parse(loginCodeSchema, req.body, 'body');
    if (!deps.apiKey || !deps.loginCodes?.redeem(code)) {
      res.locals.authFailure = 'login code is not valid';
      throw new HttpError(401, 'login code is not valid, already used or expired: paste the API key instead');
    }
    // Handing out the key is audited like any other grant of access: who (from where) got it, and how.
    await appendAudit(deps.db, [{ actor: 'user:admin/key:bootstrap', action: 'auth.login_code_redeemed', details: { ip: req.ip ?? 'unknown', door: 'dashboard' } }]);
    res.set('Cache-Control', 'no-store').json({ apiKey: deps.apiKey });
  });

  // The bundle's names do not change between builds: revalidate rather than cache for long.
  router.use(express.static(webDir, { index: false, maxAge: 0, fallthrough: true }));
  const pages = /^\/(?:$|fleet|devices|approvals|reports|schedules|wizard|sign-in)(?:\/.*)?$/;
  router.get(pages, (_req, res) => {
    const index = path.join(webDir, 'index.html');
    if (!fs.existsSync(index)) {
      res.status(503).type('text').send('The dashboard is not built: run `node tools/setup.js` (npm start and npm test run it).');
      return;
    }
    // A strict policy: the app loads only its own script and style, and talks only to this origin.
    res.set('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'");
    res.set('Cache-Control', 'no-cache').sendFile(index);
  });
  return router;
}
