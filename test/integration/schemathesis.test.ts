import fs from 'node:fs';
import path from 'node:path';
import { buildOpenApiDocument } from '../../api/openapi';
import { ROUTE_ROLES, TenantRule } from '../../api/route-roles';
import { approvalRequestTenancy, policyTenancy, reportTenancy, scheduleTenancy, type Tenancy } from '../../db/tenancy-repository';
import { principalSees } from '../../domain/roles';
import { API_KEY, createMigratedDatabase, startHarness, type Harness } from './harness';
import { runSchemathesis, schemathesisBinary, type FuzzFigures, type FuzzRun } from './schemathesis-runner';

/**
 * The contract fuzzed against a real stack (API + gateway + worker + Temporal + PostgreSQL):
 * schemathesis generates requests from the OpenAPI document, follows its links (create a device,
 * then read, change, scan, install and retire it), and the gate is: no 5xx, every answer matches
 * its schema and status list, and no operation that needs a credential answers without one.
 * It runs on a database of its own: fuzzed policies, KB overrides and actions by scope would
 * otherwise change what every other test's devices may install.
 *
 * The other-tenant run carries an admin key for client B only, after the valid-key run has filled
 * the database with every other client's things: its gate adds that no answer holds an id of a client
 * (or a site, device, policy, schedule, report or request) B's key may not see
 * (schemathesis-hooks/no_foreign_tenant_data.py), and the test after it reads every list and shows
 * tenant A's own things with B's key.
 */

const binary = schemathesisBinary();
const BUDGET = {
  maxExamples: Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 5),
  statefulExamples: Number(process.env.SCHEMATHESIS_STATEFUL_EXAMPLES ?? 100),
  seed: Number(process.env.SCHEMATHESIS_SEED ?? 1205),
  maxSeconds: Number(process.env.SCHEMATHESIS_MAX_SECONDS ?? 240),
};
const CHECKS = ['not_a_server_error', 'response_schema_conformance', 'status_code_conformance', 'content_type_conformance', 'ignored_auth'];

let h: Harness;
let specPath: string;
let reportDir: string;
let deviceCredential: string;
/** tenant A: the client the enrolled device is in, and a policy, schedule and report of its own */
let tenantA: { clientId: string; siteId: string; deviceId: string; policyId: string; scheduleId: string; reportId: string };
/** tenant B: another client, and an admin key for it alone */
let tenantB: { clientId: string; key: string };
/** the key the valid-key run may revoke (it would otherwise pick `bootstrap`, the harness's own, from the key id's pattern) */
let revocableKeyId: string;
const figures: FuzzFigures[] = [];

// On a developer's machine without the venv the fuzz is skipped, saying so; in CI it must run.
const describeIf = binary ? describe : describe.skip;
if (!binary) console.warn('[schemathesis] not installed (.tools/venv/bin/schemathesis; node tools/setup.js installs it): the contract fuzz is skipped');
if (!binary && process.env.CI) test('schemathesis is installed in CI', () => { expect(schemathesisBinary()).toBeDefined(); });

describeIf('schemathesis over the OpenAPI document', () => {
  beforeAll(async () => {
    const databaseUrl = await createMigratedDatabase('patchflow_fuzz');
    // Hundreds of requests without a key come from one address: the lockout would answer 429 to all
    // that follow (its own test is auth-throttle.test.ts).
    h = await startHarness({ databaseUrl, app: { authFailureLimits: { maxFailures: 1_000_000 } } });
    reportDir = path.join(h.scratch, 'schemathesis');
    fs.mkdirSync(reportDir, { recursive: true });
    // An enrolled device, whose credential the gateway run carries.
    const device = await h.createDevice();
    const enrolled = await h.api('POST', '/agent/v1/enroll', { enrollmentToken: device.enrollmentToken, bootId: 'boot-1', hostname: 'fuzz' });
    deviceCredential = enrolled.body.credential;
    tenantA = { clientId: device.clientId, siteId: device.siteId, deviceId: device.deviceId, policyId: '', scheduleId: '', reportId: '' };
    const other = await h.createDevice();
    tenantB = { clientId: other.clientId, key: (await h.mintKey({ role: 'admin', clients: [other.clientId] })).key };
    revocableKeyId = (await h.mintKey({ role: 'viewer' })).keyId;
    specPath = path.join(reportDir, 'openapi.json');
    fs.writeFileSync(specPath, JSON.stringify(buildOpenApiDocument()));
  }, 120_000);

  afterAll(async () => {
    // Fuzzed schedules live in Temporal too: remove them with their rows.
    try {
      const { rows } = await h.db.query<{ id: string }>('SELECT id FROM update_schedules');
      for (const r of rows) await h.api('DELETE', `/api/v1/schedules/${r.id}`);
    } finally {
      await h.stop();
    }
    if (figures.length > 0) {
      console.log([`[schemathesis] figures (seed ${BUDGET.seed}, ${BUDGET.maxExamples} fuzzing examples per operation, ${BUDGET.statefulExamples} stateful scenarios):`,
        ...figures.map((f) => `  ${f.name}: ${f.operations} operations, ${f.cases ?? '?'} test cases${f.links ? `, links ${f.links}` : ''}, ${f.failures} failures, ${f.errors} errors, ${f.seconds.toFixed(1)} s`)].join('\n'));
    }
  }, 120_000);

  /** A policy with the client as its member, a scan schedule of the client, and an offline report of it. */
  async function thingsOf(clientId: string) {
    const policy = await h.api('POST', '/api/v1/policies', { name: `Tenant ${clientId.slice(0, 8)}` });
    const member = await h.api('POST', `/api/v1/policies/${policy.body.id}/members`, { scopeType: 'client', scopeId: clientId });
    const schedule = await h.api('POST', '/api/v1/schedules', {
      name: `Scan ${clientId.slice(0, 8)}`, kind: 'scan', scope: { scopeType: 'client', scopeId: clientId }, timing: { kind: 'daily', time: '03:00', timezone: 'UTC' },
    });
    const report = await h.api('GET', `/api/v1/reports/patch-overview?format=csv-offline&clientId=${clientId}`);
    expect([policy.status, member.status, schedule.status, report.status]).toEqual([201, 201, 201, 202]);
    return { policyId: policy.body.id as string, scheduleId: schedule.body.id as string, reportId: report.body.id as string };
  }

  /** Every id tenant B's key may not see, by kind, as the database holds them now. */
  async function foreignIds(): Promise<Record<string, string[]>> {
    const b = { clients: [tenantB.clientId] };
    const ids = async (sql: string) => (await h.db.query<{ id: string }>(sql, [tenantB.clientId])).rows.map((r) => r.id);
    const unseen = async (sql: string, tenancy: (db: typeof h.db, id: string) => Promise<Tenancy>) => {
      const out: string[] = [];
      for (const { id } of (await h.db.query<{ id: string }>(sql)).rows) {
        const t = await tenancy(h.db, id);
        if (t !== undefined && !principalSees(b, t)) out.push(id);
      }
      return out;
    };
    return {
      client: await ids('SELECT id::text FROM clients WHERE id <> $1::uuid'),
      site: await ids('SELECT id::text FROM sites WHERE client_id <> $1::uuid'),
      device: await ids('SELECT d.id::text FROM devices d JOIN sites s ON s.id = d.site_id WHERE s.client_id <> $1::uuid'),
      policy: await unseen('SELECT id::text FROM approval_policies', policyTenancy),
      schedule: await unseen('SELECT id::text FROM update_schedules', scheduleTenancy),
      report: await unseen('SELECT id::text FROM reports', reportTenancy),
      request: await unseen('SELECT id::text FROM approval_requests', approvalRequestTenancy),
    };
  }

  // Who calls, in this order: the other tenant comes last, when the valid key's run has made the
  // most for it not to see.
  const runs: FuzzRun[] = [
    { name: 'valid-key', headers: { 'X-API-Key': API_KEY }, parameters: () => ({ revokeApiKey: { keyId: revocableKeyId } }) },
    { name: 'no-key', headers: {} },
    // The long poll waits up to 120 s by contract: the fuzz asks for no wait, or each case would hold
    // the run that long (the waiting itself is tested in api-limits.test.ts and slow-clients.test.ts).
    {
      name: 'device-credential', headers: () => ({ Authorization: `Bearer ${deviceCredential}` }), tags: ['agent gateway'], phases: ['examples', 'coverage', 'fuzzing'],
      parameters: { pollCommands: { wait: 0 } },
    },
    {
      name: 'other-tenant', headers: () => ({ 'X-API-Key': tenantB.key }),
      hooks: { file: path.join(__dirname, 'schemathesis-hooks', 'no_foreign_tenant_data.py'), checks: ['no_foreign_tenant_data'] },
      env: async () => {
        // Made now, after the valid key's run (which learns ids from lists and could delete them), so they are there to be shown.
        tenantA = { ...tenantA, ...(await thingsOf(tenantA.clientId)) };
        const file = path.join(reportDir, 'foreign-ids.json');
        fs.writeFileSync(file, JSON.stringify(await foreignIds()));
        return { PATCHFLOW_FOREIGN_IDS: file };
      },
    },
  ];

  if (process.env.SCHEMATHESIS_TAGS) for (const r of runs) r.tags ??= process.env.SCHEMATHESIS_TAGS.split(',');
  test.each(runs)('$name: no server error, every answer as specified, no route ignores its credential', async (run) => {
    const f = await runSchemathesis(binary!, run, {
      specPath, baseUrl: h.server.url, reportDir, checks: CHECKS, phases: ['examples', 'coverage', 'fuzzing', 'stateful'],
      maxExamples: BUDGET.maxExamples, statefulExamples: BUDGET.statefulExamples, seed: BUDGET.seed, maxSeconds: BUDGET.maxSeconds,
    });
    figures.push(f);
    if (f.exitCode !== 0 || f.failures > 0 || f.errors > 0 || process.env.SCHEMATHESIS_VERBOSE) console.log(f.output.slice(-20_000));
    expect({ exitCode: f.exitCode, problems: f.problems }).toEqual({ exitCode: 0, problems: [] });
    expect(f.operations).toBeGreaterThan(run.tags ? 2 : 60);
  }, 400_000);

  test("other-tenant: every list holds none of another client's ids, and tenant A's own things are 404 to B's key", async () => {
    const foreign = new Set(Object.values(await foreignIds()).flat());
    for (const [kind, id] of Object.entries(tenantA)) expect([kind, foreign.has(id)]).toEqual([kind, true]);
    const leaks: string[] = [];
    const lists = ROUTE_ROLES.filter((r) => r.method === 'GET' && r.tenant === TenantRule.Listed && !r.path.includes(':'));
    for (const rule of lists) {
      // The overview of every client is a 403 for this key: it names its own client.
      const res = await h.apiAs(tenantB.key, 'GET', `/api/v1${rule.path}${rule.path === '/reports/patch-overview' ? `?format=json&clientId=${tenantB.clientId}` : ''}`);
      expect([rule.path, res.status]).toEqual([rule.path, 200]);
      const held = [...JSON.stringify(res.body).matchAll(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g)].map((m) => m[0]).filter((id) => foreign.has(id));
      if (held.length > 0) leaks.push(`GET ${rule.path}: ${[...new Set(held)].join(', ')}`);
    }
    expect(leaks).toEqual([]);
    // Every show by one id: A's id is there for A (the admin key) and a 404 for B, worded as an unknown id.
    const idOf: Partial<Record<TenantRule, string>> = {
      [TenantRule.Device]: tenantA.deviceId, [TenantRule.Client]: tenantA.clientId, [TenantRule.Policy]: tenantA.policyId,
      [TenantRule.Schedule]: tenantA.scheduleId, [TenantRule.Report]: tenantA.reportId,
    };
    const shows = ROUTE_ROLES.filter((r) => r.method === 'GET' && r.param && idOf[r.tenant] && r.path.split(':').length === 2);
    expect(shows.length).toBeGreaterThan(10);
    for (const rule of shows) {
      const url = `/api/v1${rule.path.replace(`:${rule.param}`, idOf[rule.tenant]!)}`;
      const asB = await h.apiAs(tenantB.key, 'GET', url);
      expect([url, asB.status, asB.body?.type]).toEqual([url, 404, 'NotFound']);
    }
    expect((await h.api('GET', `/api/v1/devices/${tenantA.deviceId}`)).status).toBe(200);
    expect((await h.api('GET', `/api/v1/policies/${tenantA.policyId}`)).status).toBe(200);
    expect((await h.api('GET', `/api/v1/schedules/${tenantA.scheduleId}`)).status).toBe(200);
  }, 120_000);
});
