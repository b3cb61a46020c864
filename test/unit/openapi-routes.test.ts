import type { Express } from 'express';
import pino from 'pino';
import { createApp, type AppDeps } from '../../api/app';
import type { CommandNotifier } from '../../api/command-notifier';
import { createMetrics } from '../../api/metrics';
import { buildOpenApiDocument, openApiPath } from '../../api/openapi';
import { keyringFromPem } from '../../config/command-keys';
import { generateSigningKeyPair } from '../../domain/signatures';

type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle: { stack?: Layer[] }; rawPath?: unknown };

/** Every (METHOD path) express answers, found by walking the router stack, mounted routers included. */
function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
      } else if (layer.handle.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return out.sort();
}

// Nothing is called at construction: the routes only need the factories to run.
const deps = {
  db: {}, client: {}, databaseUrl: '', log: pino({ level: 'silent' }), taskQueue: 'q', apiKey: 'k', pollWaitSeconds: 1, reportsDir: '/tmp',
  commandKeys: keyringFromPem(generateSigningKeyPair().privateKeyPem),
} as unknown as AppDeps;

/**
 * Routes that are not the API and so not in its contract: the dashboard's page (index.html for
 * every path the browser app routes, matched by a regular expression, with no data in it; everything
 * it shows comes from /api/v1 with the operator's key). Its bundle's files are express.static, not a route.
 */
const NOT_THE_API = [/^GET \/\^/];

describe('the OpenAPI document and the express routes', () => {
  const app = createApp(deps, {} as CommandNotifier, createMetrics());
  const all = expressRoutes(app).map((r) => { const [m, p] = r.split(' '); return `${m} ${openApiPath(p)}`; });
  const routed = all.filter((r) => !NOT_THE_API.some((re) => re.test(r)));
  const doc = buildOpenApiDocument();
  const specified = Object.entries(doc.paths ?? {}).flatMap(([p, item]) => Object.keys(item as object).map((m) => `${m.toUpperCase()} ${p}`)).sort();

  it('finds the routes of every door (the walk itself works)', () => {
    expect(routed).toEqual(expect.arrayContaining(['GET /healthz', 'GET /metrics', 'POST /agent/v1/enroll', 'GET /api/v1/devices/{deviceId}', 'GET /api/v1/openapi.json']));
    expect(routed.length).toBeGreaterThan(60);
  });

  it('leaves out only the dashboard page', () => {
    expect(all.filter((r) => !routed.includes(r))).toEqual([expect.stringMatching(/^GET \/\^.*fleet\|devices/)]);
  });

  it('has every express route in the spec', () => {
    expect(routed.filter((r) => !specified.includes(r))).toEqual([]);
  });

  it('has every spec operation routed', () => {
    expect(specified.filter((r) => !routed.includes(r))).toEqual([]);
  });

  it('gives every operation an id, a security requirement and the answers of its kind', () => {
    for (const [p, item] of Object.entries(doc.paths ?? {})) {
      for (const [method, op] of Object.entries(item as Record<string, { operationId?: string; security?: unknown[]; responses: Record<string, unknown> }>)) {
        const where = `${method.toUpperCase()} ${p}`;
        expect([where, typeof op.operationId]).toEqual([where, 'string']);
        expect([where, Array.isArray(op.security)]).toEqual([where, true]);
        expect([where, Object.keys(op.responses)]).toEqual([where, expect.arrayContaining(['400'])]);
        if ((op.security ?? []).length > 0) expect([where, Object.keys(op.responses)]).toEqual([where, expect.arrayContaining(['401', '429'])]);
        if (p.includes('{')) expect([where, Object.keys(op.responses)]).toEqual([where, expect.arrayContaining(['404'])]);
      }
    }
  });

  it('is OpenAPI 3.1 with the three credentials', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual(['apiKey', 'bearerApiKey', 'deviceCredential']);
  });
});
