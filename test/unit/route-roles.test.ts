import { operatorRouters } from '../../api/app';
import { ROUTE_ROLES, ruleFor } from '../../api/route-roles';

/** The route table covers exactly what is mounted under /api/v1 (plus /metrics), and is matched as express matches. */
const routers = operatorRouters({} as never, {} as never);

const mounted = routers.flatMap((r) => (r.stack as any[]).filter((l) => l.route).flatMap((l) =>
  Object.keys(l.route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${l.route.path}`)));

test('every mounted operators route has a rule, and every rule a route', () => {
  const ruled = ROUTE_ROLES.map((r) => `${r.method} ${r.path}`);
  expect(new Set(mounted)).toEqual(new Set(ruled.filter((r) => r !== 'GET /metrics')));
  expect(new Set(ruled).size).toBe(ruled.length);
});

test.each([
  ['GET', '/reports/patch-overview', '/reports/patch-overview'],
  ['GET', '/reports/0f6b7a3e-1c1d-4a57-9d52-3a2b3c4d5e6f', '/reports/:reportId'],
  ['HEAD', '/devices/x/patches', '/devices/:deviceId/patches'],
  ['POST', '/devices/x/installs/k/cancel', '/devices/:deviceId/installs/:key/cancel'],
  ['GET', '/devices/', '/devices'],
])('%s %s is ruled by %s', (method, path, rule) => {
  expect(ruleFor(method, path)?.rule.path).toBe(rule);
});

test('an unknown route has no rule (refused as 404)', () => {
  expect(ruleFor('GET', '/devices/x/y/z/w')).toBeUndefined();
  expect(ruleFor('PATCH', '/clients')).toBeUndefined();
});

test('a rule that reads a path parameter names one its path has', () => {
  for (const r of ROUTE_ROLES) if (r.param) expect(r.path).toContain(`:${r.param}`);
});
