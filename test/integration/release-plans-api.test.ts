/**
 * Release plans and releases through the API (issue 14.1), on real PostgreSQL and Temporal: plans are
 * validated field by field and scoped to their client; a ring's devices are what the rollout's device
 * listing resolves (site, stable sample, the rest: disjoint, all of the client); a release starts,
 * reports its phase, and takes an operator's abort.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { resolveScopeDevices } from '../../db/rollout-repository';
import { API_KEY, startHarness, type Harness } from './harness';

const BIN = path.resolve(__dirname, '../../cli/bin.js');
const cli = async (args: string[]) => (await promisify(execFile)(process.execPath, [BIN, ...args], {
  env: { ...process.env, PATCHFLOW_CLI_FROM_SOURCE: '1', PATCHFLOW_API_URL: h.server.url, PATCHFLOW_API_KEY: API_KEY },
})).stdout;

jest.setTimeout(120_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

const gate = { minSuccessRate: 95, minSuccessCount: 1, soakHours: 24 };
const halt = { failureRate: 20, minFinished: 5 };

test('plans: bad input is a 400 naming the field, nothing written; another client\'s key sees a 404', async () => {
  const { clientId, siteId } = await h.createDevice();
  const other = await h.createDevice();
  const bad = await h.api('POST', '/api/v1/release-plans', {
    clientId, name: 'Bad', rings: [{ name: 'rest first', scope: { type: 'rest' }, deferral: { days: 0 }, gate, haltThreshold: halt }, { name: 'x', scope: { type: 'client' }, deferral: { days: 1 }, gate, haltThreshold: halt }],
  });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/body\.rings\.0\.scope: a "rest" ring/);
  const badRate = await h.api('POST', '/api/v1/release-plans', { clientId, name: 'Bad', rings: [{ name: 'r', scope: { type: 'sample', percent: 150 }, deferral: { days: 0 }, gate, haltThreshold: halt }] });
  expect(badRate.status).toBe(400);
  expect(badRate.body.error).toMatch(/body\.rings\.0\.scope\.percent/);
  const foreignSite = await h.api('POST', '/api/v1/release-plans', { clientId, name: 'Bad', rings: [{ name: 'r', scope: { type: 'site', siteId: other.siteId }, deferral: { days: 0 }, gate, haltThreshold: halt }] });
  expect(foreignSite.status).toBe(422);
  expect(foreignSite.body.error).toMatch(/rings\[0\]\.scope\.siteId/);
  expect((await h.db.query('SELECT 1 FROM release_plans WHERE client_id = $1', [clientId])).rows).toHaveLength(0);

  const ok = await h.api('POST', '/api/v1/release-plans', { clientId, name: 'Rings', rings: [{ name: 'HQ', scope: { type: 'site', siteId }, deferral: { days: 0 }, gate, haltThreshold: halt }] });
  expect(ok.status).toBe(201);
  expect(ok.body.rings[0].deferral).toEqual({ days: 0, from: 'release' });
  expect((await h.api('POST', '/api/v1/release-plans', { clientId, name: 'Rings', rings: ok.body.rings })).status).toBe(409);
  expect((await h.api('GET', `/api/v1/release-plans/${ok.body.id}`)).body.name).toBe('Rings');
  const audit = await h.db.query(`SELECT actor FROM audit_log WHERE action = 'release_plan.created' AND subject = $1`, [ok.body.id]);
  expect(audit.rows).toHaveLength(1);

  const foreign = await h.mintKey({ role: 'approver', clients: [other.clientId] });
  expect((await h.apiAs(foreign.key, 'GET', `/api/v1/release-plans/${ok.body.id}`)).status).toBe(404);
  expect((await h.apiAs(foreign.key, 'GET', '/api/v1/release-plans')).body.plans.map((p: { id: string }) => p.id)).not.toContain(ok.body.id);
  const viewer = await h.mintKey({ role: 'viewer', clients: [clientId] });
  expect((await h.apiAs(viewer.key, 'DELETE', `/api/v1/release-plans/${ok.body.id}`)).status).toBe(403);
  expect((await h.api('DELETE', `/api/v1/release-plans/${ok.body.id}`)).status).toBe(204);

  // The CLI: create (rings as JSON), list, show; -o json gives the API's answer.
  const rings = JSON.stringify([{ name: 'HQ', scope: { type: 'site', siteId }, deferral: { days: 0 }, gate, haltThreshold: halt }, { name: 'rest', scope: { type: 'rest' }, deferral: { days: 2 }, gate, haltThreshold: halt }]);
  const created = JSON.parse(await cli(['-o', 'json', 'release-plans', 'create', 'CLI rings', '--client', clientId, '--rings', rings]));
  expect(created.rings).toHaveLength(2);
  expect(await cli(['release-plans', 'show', created.id])).toMatch(/rest\s+rest\s+\+2 d after release\s+≥ 95% of ≥ 1, 24 h soak/);
  expect(await cli(['release-plans', 'list'])).toContain('HQ → rest');
});

test('ring scopes resolve in the rollout\'s device listing: site, a stable 30% sample, the rest', async () => {
  const { clientId, siteId } = await h.createDevice('HQ-1');
  const branch = await h.api('POST', `/api/v1/clients/${clientId}/sites`, { name: 'Branch' });
  for (let i = 0; i < 40; i++) {
    const d = await h.api('POST', '/api/v1/devices', { siteId: branch.body.id, name: `BR-${i}-${randomUUID().slice(0, 4)}`, deviceType: 'workstation' });
    expect(d.status).toBe(201);
  }
  // Enrolled devices only are listed: mark them enrolled.
  await h.db.query(`UPDATE devices SET credential_hash = 'test' WHERE site_id IN ($1::uuid, $2::uuid)`, [siteId, branch.body.id]);
  const plan = await h.api('POST', '/api/v1/release-plans', {
    clientId, name: 'Three rings', rings: [
      { name: 'HQ', scope: { type: 'site', siteId }, deferral: { days: 0 }, gate, haltThreshold: halt },
      { name: 'pilot', scope: { type: 'sample', percent: 30 }, deferral: { days: 2 }, gate, haltThreshold: halt },
      { name: 'broad', scope: { type: 'rest' }, deferral: { days: 5 }, gate, haltThreshold: halt },
    ],
  });
  expect(plan.status).toBe(201);
  const ringOf = async (index: number) => (await resolveScopeDevices(h.db, { scopeType: 'client', scopeId: clientId, ring: { planId: plan.body.id, index } })).map((d) => d.deviceId);
  const [r0, r1, r2] = [await ringOf(0), await ringOf(1), await ringOf(2)];
  expect(r0).toHaveLength(1);
  // A 30% sample of the 40 others: about 12 (a hash, not an exact count), never the HQ device.
  expect(r1.length).toBeGreaterThan(4);
  expect(r1.length).toBeLessThan(22);
  expect(r0.length + r1.length + r2.length).toBe(41);
  expect(new Set([...r0, ...r1, ...r2]).size).toBe(41);
  // Stable: the same devices every time; a retry's deviceIds narrow the ring.
  expect(await ringOf(1)).toEqual(r1);
  const narrowed = await resolveScopeDevices(h.db, { scopeType: 'client', scopeId: clientId, ring: { planId: plan.body.id, index: 1, deviceIds: [r1[0]!, r2[0]!] } });
  expect(narrowed.map((d) => d.deviceId)).toEqual([r1[0]]);

  // A release: started (202), waiting for ring 0's deferral, refused a resume (409), aborted.
  const start = await h.api('POST', `/api/v1/release-plans/${plan.body.id}/releases`, { cycle: '2026-12', kbs: ['kb5034441'], releasedAt: new Date(Date.now() + 86_400_000).toISOString() });
  expect(start.status).toBe(202);
  expect(start.body.workflowId).toBe(`release/${plan.body.id}/2026-12`);
  expect((await h.api('POST', `/api/v1/release-plans/${plan.body.id}/releases`, { cycle: '2026-12', kbs: ['KB5034441'] })).status).toBe(409);
  expect((await h.api('POST', `/api/v1/release-plans/${plan.body.id}/releases`, { cycle: 'december', kbs: ['KB5034441'] })).body.error).toMatch(/body\.cycle/);
  const status = await h.api('GET', `/api/v1/release-plans/${plan.body.id}/releases/2026-12`);
  expect(status.status).toBe(200);
  expect(status.body).toMatchObject({ phase: 'waiting_deferral', ringIndex: 0, status: 'RUNNING' });
  const resume = await h.api('POST', `/api/v1/release-plans/${plan.body.id}/releases/2026-12/resume`, {});
  expect(resume.status).toBe(409);
  expect(resume.body.error).toMatch(/not halted/);
  const abort = await h.api('POST', `/api/v1/release-plans/${plan.body.id}/releases/2026-12/abort`, { reason: 'test' });
  expect(abort.status).toBe(200);
  const result = await h.client.workflow.getHandle(start.body.workflowId).result();
  expect(result.outcome).toBe('aborted');
  expect(result.log).toEqual(['aborted by user:admin/key:bootstrap in ring 0: test']);
});
