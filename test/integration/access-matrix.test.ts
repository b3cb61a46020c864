import { randomUUID } from 'node:crypto';
import { SIMULATOR_FEED_ID } from '../../agent/catalog-feed';
import { ROLES_IN_ORDER, roleAllows, type Role } from '../../domain/roles';
import { ROUTE_ROLES, TenantRule, type RouteRule } from '../../api/route-roles';
import { startHarness, type Harness, type MintedKey } from './harness';

jest.setTimeout(180_000);

/**
 * The BOLA matrix: every operators' route × {viewer, operator, approver, admin} × {own tenant, other
 * tenant}. Keys are scoped to client A (own) or client B (other); every fixture is client A's. The
 * expected answer of each cell comes from api/route-roles.ts and one tenant rule:
 * - a role below the route's: 403;
 * - a route reaching every client (`all-clients`), for a key scoped to some clients: 403;
 * - another tenant's device, client, policy, schedule, report or request (in the path or the body):
 *   404 with the very answer an unknown id gets;
 * - a list: answered, without another tenant's items;
 * - otherwise the route runs (anything but 401, 403, that 404, or a 5xx).
 * The two-person threshold is 0, so fleet actions become pending requests instead of running.
 */
let h: Harness;
const A = { clientId: '', siteId: '', deviceId: '', policyId: '', scheduleId: '', reportId: '', requestId: '', planId: '' };
const B = { clientId: '', siteId: '', deviceId: '' };
const keys = new Map<string, MintedKey>();
const KB = 'KB5034439';

async function newClient(): Promise<{ clientId: string; siteId: string; deviceId: string }> {
  const d = await h.createDevice();
  return { clientId: d.clientId, siteId: d.siteId, deviceId: d.deviceId };
}

beforeAll(async () => {
  h = await startHarness({ app: { twoPersonRule: { deviceThreshold: 0 } } });
  Object.assign(A, await newClient());
  Object.assign(B, await newClient());
  const policy = await h.api('POST', '/api/v1/policies', { name: `Policy A ${randomUUID().slice(0, 8)}` });
  A.policyId = policy.body.id;
  expect((await h.api('POST', `/api/v1/policies/${A.policyId}/members`, { scopeType: 'client', scopeId: A.clientId })).status).toBe(201);
  const schedule = await h.api('POST', '/api/v1/schedules', {
    name: `Scan A ${randomUUID().slice(0, 8)}`, kind: 'scan', scope: { scopeType: 'client', scopeId: A.clientId },
    timing: { kind: 'daily', time: '04:00', timezone: 'UTC' },
  });
  expect(schedule.status).toBe(201);
  A.scheduleId = schedule.body.id;
  const report = await h.api('GET', `/api/v1/reports/patch-overview?clientId=${A.clientId}&format=csv-offline`);
  expect(report.status).toBe(202);
  A.reportId = report.body.id;
  expect((await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'client', scopeId: A.clientId, kbs: [KB], action: 'approve' })).status).toBe(200);
  const request = await h.api('POST', '/api/v1/scans', { scopeType: 'client', scopeId: A.clientId });
  expect(request.status).toBe(202);
  A.requestId = request.body.requestId;
  const plan = await h.api('POST', '/api/v1/release-plans', {
    clientId: A.clientId, name: `Rings A ${randomUUID().slice(0, 8)}`,
    rings: [{ name: 'all', scope: { type: 'client' }, deferral: { days: 0 }, gate: { minSuccessRate: 95, soakHours: 24 }, haltThreshold: { failureRate: 20 } }],
  });
  expect(plan.status).toBe(201);
  A.planId = plan.body.id;
  for (const role of ROLES_IN_ORDER) {
    keys.set(`${role}/own`, await h.mintKey({ role, clients: [A.clientId] }));
    keys.set(`${role}/other`, await h.mintKey({ role, clients: [B.clientId] }));
  }
});
afterAll(async () => { await h?.stop(); });

/** A request for each route, on client A's things; bodies valid where the target is in the body. */
function sampleOf(rule: RouteRule): { path: string; body?: unknown } {
  const values: Record<string, string> = {
    deviceId: A.deviceId, siteId: A.siteId, clientId: A.clientId, id: A.policyId, scheduleId: A.scheduleId, reportId: A.reportId, requestId: A.requestId,
    key: 'no-such-install', feedId: SIMULATOR_FEED_ID, runId: randomUUID(), kb: KB, userId: randomUUID(), keyId: 'aaaaaaaaaaaa',
    ruleId: randomUUID(), deliveryId: '1', planId: A.planId, releaseId: '2026-12',
  };
  const filled = rule.path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    if (!(name in values)) throw new Error(`no sample value for :${name} in ${rule.path}`);
    return values[name];
  });
  const path = filled === '/metrics' ? filled : `/api/v1${filled}`;
  const name = `BOLA-${randomUUID().slice(0, 8)}`;
  const bodies: Record<string, unknown> = {
    'POST /devices': { siteId: A.siteId, name, deviceType: 'server' },
    'PATCH /sites/:siteId': { fileSource: { source: 'internet' } },
    'POST /scans': { scopeType: 'client', scopeId: A.clientId },
    'PUT /patch-actions': { scopeType: 'client', scopeId: A.clientId, kbs: [KB], action: 'approve' },
    'POST /schedules': { name, kind: 'scan', scope: { scopeType: 'client', scopeId: A.clientId }, timing: { kind: 'daily', time: '05:00', timezone: 'UTC' } },
    'POST /policies/:id/members': { scopeType: 'device', scopeId: A.deviceId },
    'DELETE /policies/:id/members': { scopeType: 'device', scopeId: A.deviceId },
    'POST /release-plans': { clientId: A.clientId, name, rings: [{ name: 'all', scope: { type: 'client' }, deferral: { days: 0 }, gate: { minSuccessRate: 95, soakHours: 24 }, haltThreshold: { failureRate: 20 } }] },
    'POST /patch-management/preview': { scopeType: 'client', scopeId: A.clientId, kbs: [KB], action: 'approve' },
  };
  if (rule.path === '/reports/patch-overview') return { path: `${path}?clientId=${A.clientId}&format=json` };
  const key = `${rule.method} ${rule.path}`;
  return { path, body: key in bodies ? bodies[key] : rule.method === 'GET' ? undefined : {} };
}

/** What a list holds of client A's: the fixture it must show to A's keys and hide from B's. */
const LISTS: Record<string, (body: any) => { has: boolean }> = {
  '/clients': (b) => ({ has: b.clients.some((c: any) => c.id === A.clientId) }),
  '/sites': (b) => ({ has: b.sites.some((s: any) => s.id === A.siteId) }),
  '/devices': (b) => ({ has: b.devices.some((d: any) => d.id === A.deviceId) }),
  '/policies': (b) => ({ has: b.policies.some((p: any) => p.id === A.policyId) }),
  '/schedules': (b) => ({ has: b.schedules.some((s: any) => s.id === A.scheduleId) }),
  '/reports': (b) => ({ has: b.reports.some((r: any) => r.id === A.reportId) }),
  '/audit': (b) => ({ has: b.entries.some((e: any) => e.deviceId === A.deviceId) }),
  '/patch-actions': (b) => ({ has: b.actions.some((a: any) => a.scopeId === A.clientId) }),
  '/approval-requests': (b) => ({ has: b.requests.some((r: any) => r.id === A.requestId) }),
  '/release-plans': (b) => ({ has: b.plans.some((p: any) => p.id === A.planId) }),
  '/reports/patch-overview': () => ({ has: true }),
  '/fleet/summary': (b) => ({ has: b.clients.some((c: any) => c.clientId === A.clientId) }),
};

/** The message an unknown id gets, for the target the tenant rule reads. */
function hiddenAnswer(rule: RouteRule): string {
  const byRule: Partial<Record<TenantRule, string>> = {
    device: `device ${A.deviceId} not found`, client: `client ${A.clientId} not found`, policy: `policy ${A.policyId} not found`,
    schedule: `schedule ${A.scheduleId} not found`, report: `report ${A.reportId} not found`, request: `approval request ${A.requestId} not found`,
    'release-plan': `release plan ${A.planId} not found`, site: `site ${A.siteId} not found`,
  };
  if (rule.tenant === TenantRule.Body) return rule.path === '/devices' ? `site ${A.siteId} not found` : `client ${A.clientId} not found`;
  return byRule[rule.tenant]!;
}

type Expected = 'forbidden' | 'hidden' | 'listed' | 'allowed';

/** The one tenant rule, over the route table. */
function expected(rule: RouteRule, role: Role, tenant: 'own' | 'other'): Expected {
  if (!roleAllows(role, rule.role)) return 'forbidden';
  if (rule.tenant === TenantRule.AllClients) return 'forbidden';
  if (rule.tenant === TenantRule.Listed) return 'listed';
  if (rule.tenant === TenantRule.Global) return 'allowed';
  return tenant === 'other' ? 'hidden' : 'allowed';
}

async function call(key: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${h.server.url}${path}`, {
    method, headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = text; }
  return { status: res.status, body: json };
}

/** Deletions last (the device's retirement the very last), so every other cell still finds client A's things. */
const ORDER = (r: RouteRule) => (r.method !== 'DELETE' ? 0 : r.path === '/devices/:deviceId' ? 3 : r.path === '/schedules/:scheduleId' ? 2 : 1);

test('every route × role × tenant answers as the route table says', async () => {
  const failures: string[] = [];
  let cells = 0;
  for (const rule of [...ROUTE_ROLES].sort((a, b) => ORDER(a) - ORDER(b))) {
    // Once a deletion has succeeded, the thing is gone for the next allowed cell too.
    let deleted = false;
    for (const tenant of ['other', 'own'] as const) {
      for (const role of ROLES_IN_ORDER) {
        cells++;
        const want = expected(rule, role, tenant);
        const sample = sampleOf(rule);
        const got = await call(keys.get(`${role}/${tenant}`)!.key, rule.method, sample.path, sample.body);
        const cell = `${rule.method} ${rule.path} as ${role} (${tenant} tenant): expected ${want}, got ${got.status} ${JSON.stringify(got.body)?.slice(0, 160)}`;
        const hiddenStatus = rule.path === '/reports/patch-overview' ? 400 : 404;
        const isHidden = rule.path === '/reports/patch-overview'
          ? got.status === 400 && /no client/.test(got.body?.error)
          : got.status === 404 && got.body?.error === hiddenAnswer(rule);
        if (rule.method === 'DELETE' && want === 'allowed' && got.status < 300) deleted = true;
        if (got.status >= 500) failures.push(cell);
        else if (want === 'forbidden' && got.status !== 403) failures.push(cell);
        else if (want === 'hidden' && !(got.status === hiddenStatus && isHidden)) failures.push(cell);
        else if (want === 'allowed' && (got.status === 401 || got.status === 403 || (rule.param && isHidden && !deleted))) failures.push(cell);
        else if (want === 'listed') {
          const listPath = rule.path;
          if (tenant === 'other' && rule.path === '/reports/patch-overview') {
            if (!isHidden) failures.push(cell);
          } else if (got.status !== 200) failures.push(cell);
          else if (LISTS[listPath](got.body).has !== (tenant === 'own')) failures.push(`${cell}: client A's item ${tenant === 'own' ? 'missing' : 'leaked'}`);
        }
      }
    }
  }
  expect(failures).toEqual([]);
  expect(cells).toBe(ROUTE_ROLES.length * 8);
  // The refusals are audited, with the person and the reason.
  const refused = await h.db.query(
    `SELECT details->>'reason' AS reason, count(*)::int AS n FROM audit_log WHERE action = 'auth.refused' AND user_name = ANY($1::text[]) GROUP BY 1`,
    [[...keys.values()].map((k) => k.userName)]);
  const reasons = Object.fromEntries(refused.rows.map((r) => [r.reason, r.n]));
  expect(reasons).toMatchObject({ role: expect.any(Number), 'other tenant': expect.any(Number), 'spans clients': expect.any(Number) });
});

test('a technician key for client A neither sees nor touches client B: list, show, write', async () => {
  const tech = await h.mintKey({ role: 'admin', clients: [A.clientId] });
  const devices = (await h.apiAs(tech.key, 'GET', '/api/v1/devices')).body.devices.map((d: { id: string }) => d.id);
  expect(devices).toContain(A.deviceId);
  expect(devices).not.toContain(B.deviceId);
  expect((await h.apiAs(tech.key, 'GET', `/api/v1/devices?clientId=${B.clientId}`)).body.devices).toEqual([]);
  expect((await h.apiAs(tech.key, 'GET', '/api/v1/clients')).body.clients.map((c: { id: string }) => c.id)).toEqual([A.clientId]);
  // The catalog is shared, but B's policies and their statuses are not in it.
  const policyB = (await h.api('POST', '/api/v1/policies', { name: `Policy B ${randomUUID().slice(0, 8)}` })).body.id;
  expect((await h.api('POST', `/api/v1/policies/${policyB}/members`, { scopeType: 'client', scopeId: B.clientId })).status).toBe(201);
  const catalog = (await h.apiAs(tech.key, 'GET', `/api/v1/patches?kb=${KB}`)).body.patches;
  const policyIds = catalog.flatMap((p: { policies: { policyId: string }[] }) => p.policies.map((x) => x.policyId));
  expect(policyIds).toContain(A.policyId);
  expect(policyIds).not.toContain(policyB);
  expect((await h.api('GET', `/api/v1/patches?kb=${KB}`)).body.patches[0].policies.map((x: { policyId: string }) => x.policyId)).toContain(policyB);
  // Show: B's device reads exactly like a device that does not exist.
  const shown = await h.apiAs(tech.key, 'GET', `/api/v1/devices/${B.deviceId}`);
  const unknownId = randomUUID();
  const unknown = await h.apiAs(tech.key, 'GET', `/api/v1/devices/${unknownId}`);
  expect(shown.status).toBe(404);
  expect(shown.body).toEqual({ ...unknown.body, error: unknown.body.error.replace(unknownId, B.deviceId) });
  // Write: nothing of B's changes, nothing is started on it.
  const before = (await h.api('GET', `/api/v1/devices/${B.deviceId}`)).body;
  expect((await h.apiAs(tech.key, 'PATCH', `/api/v1/devices/${B.deviceId}`, { workingFolder: 'C:\\Temp\\pf' })).status).toBe(404);
  expect((await h.apiAs(tech.key, 'POST', `/api/v1/devices/${B.deviceId}/installs`, {})).status).toBe(404);
  expect((await h.apiAs(tech.key, 'POST', `/api/v1/devices/${B.deviceId}/scans`, {})).status).toBe(404);
  expect((await h.apiAs(tech.key, 'POST', '/api/v1/devices', { siteId: B.siteId, name: 'INTRUDER', deviceType: 'server' })).status).toBe(404);
  expect((await h.apiAs(tech.key, 'POST', `/api/v1/clients/${B.clientId}/sites`, { name: 'Intruder site' })).status).toBe(404);
  expect((await h.apiAs(tech.key, 'POST', '/api/v1/scans', { scopeType: 'client', scopeId: B.clientId })).status).toBe(404);
  expect((await h.apiAs(tech.key, 'POST', '/api/v1/scans', { scopeType: 'all' })).status).toBe(403);
  expect((await h.apiAs(tech.key, 'DELETE', `/api/v1/devices/${B.deviceId}`)).status).toBe(404);
  expect((await h.api('GET', `/api/v1/devices/${B.deviceId}`)).body).toEqual(before);
  const audit = await h.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE device_id = $1 AND user_name = $2`, [B.deviceId, tech.userName]);
  expect(audit.rows[0].n).toBe(0);
});
