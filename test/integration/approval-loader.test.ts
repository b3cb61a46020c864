/**
 * The approvals loader reads only what can decide for the devices it is asked about (issue 11): the
 * policies they are members of, the actions at their device, site, client and device type, and the
 * names of their site and client. Against the real PostgreSQL: the decisions are those of a load of
 * the whole fleet, and another client's policy, approvals and actions are never read.
 */
import { randomUUID } from 'node:crypto';
import { loadApprovalModel } from '../../db/approval-model-loader';
import { stampNewPatches } from '../../db/approval-repository';
import type { Db } from '../../db/database';
import { explainDecision, resolveFleet } from '../../domain/approval-resolver';
import { startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

let h: Harness;
const policies: string[] = [];
beforeAll(async () => { h = await startHarness({ startWorker: false }); });
afterAll(async () => {
  // Leave no membership or action behind: other files install on devices that must stay in no policy.
  await h.db.query('DELETE FROM policy_members WHERE policy_id = ANY($1::uuid[])', [policies]);
  await h.db.query('DELETE FROM patch_actions WHERE update_id = ANY($1::text[])', [patches.map((p) => p.updateId)]);
  await h.stop();
});

const tag = randomUUID().slice(0, 6);
let patches: { updateId: string; kb: string; classification: string; product: string; severity: string }[] = [];

async function insertPatches(count: number) {
  const base = 8_000_000 + Math.floor(Math.random() * 1_000_000);
  const rows = Array.from({ length: count }, (_, i) => ({
    updateId: randomUUID(), kb: `KB${base + i}`, classification: 'Security Updates', product: 'Windows Server 2022', severity: 'Critical',
  }));
  await h.db.query(
    `INSERT INTO patches (update_id, revision, kb, title, product, classification, severity, size_bytes, sha256,
                          download_url, file_name, reboot_behavior, install_type, superseded_by, uninstallable)
     SELECT u.update_id, 1, u.kb, u.kb, 'Windows Server 2022', 'Security Updates', 'Critical', 1000, repeat('a', 64),
            'https://example.test/' || u.kb, lower(u.kb) || '.msu', 'CanRequestReboot', 'normal', NULL, true
     FROM unnest($1::text[], $2::text[]) AS u(update_id, kb)`,
    [rows.map((r) => r.updateId), rows.map((r) => r.kb)],
  );
  await stampNewPatches(h.db, rows);
  return rows;
}

async function policy(name: string, member: { scopeType: string; scopeId: string }): Promise<string> {
  const r = await h.api('POST', '/api/v1/policies', { name: `${name} ${tag}` });
  expect(r.status).toBe(201);
  policies.push(r.body.id);
  expect((await h.api('POST', `/api/v1/policies/${r.body.id}/members`, member)).status).toBeLessThan(300);
  return r.body.id;
}

/** A db that keeps every query's SQL, parameters and rows, to see what a load read. */
function recording(db: Db) {
  const reads: { text: string; params: unknown[]; rows: Record<string, unknown>[] }[] = [];
  const query = (async (text: string, params: unknown[] = []) => {
    const result = await db.query(text, params);
    reads.push({ text, params, rows: result.rows });
    return result;
  }) as Db['query'];
  return { db: { query }, reads };
}

test('one device\'s load reads only its policies and scopes, and decides exactly as the whole fleet\'s load', async () => {
  patches = await insertPatches(4);
  const [p1, p2, p3, p4] = patches as [typeof patches[0], typeof patches[0], typeof patches[0], typeof patches[0]];
  const mine = await h.createDevice(`LOAD-A-${tag}`);
  const other = await h.createDevice(`LOAD-B-${tag}`);
  // Mine: a policy through the client approving p1 and p2, a stricter one on the device denying p2.
  const mineByClient = await policy('Loader client A', { scopeType: 'client', scopeId: mine.clientId });
  const mineByDevice = await policy('Loader device A', { scopeType: 'device', scopeId: mine.deviceId });
  expect((await h.api('PUT', `/api/v1/policies/${mineByClient}/approvals`, { kbs: [p1.kb, p2.kb], status: 'approved' })).status).toBe(200);
  expect((await h.api('PUT', `/api/v1/policies/${mineByDevice}/approvals`, { kbs: [p2.kb], status: 'denied' })).status).toBe(200);
  expect((await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'site', scopeId: mine.siteId, kbs: [p3.kb], action: 'approve' })).status).toBe(200);
  // The other client: a policy approving everything of ours, and an Ignore at its client.
  const theirs = await policy('Loader client B', { scopeType: 'client', scopeId: other.clientId });
  expect((await h.api('PUT', `/api/v1/policies/${theirs}/approvals`, { kbs: [p1.kb, p2.kb, p3.kb, p4.kb], status: 'approved' })).status).toBe(200);
  expect((await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'client', scopeId: other.clientId, kbs: [p4.kb], action: 'ignore' })).status).toBe(200);

  const seen = recording(h.db);
  const scoped = await loadApprovalModel(seen.db, { deviceIds: [mine.deviceId] });
  const all = recording(h.db);
  const whole = await loadApprovalModel(all.db);
  const policyRows = (r: ReturnType<typeof recording>) =>
    r.reads.filter((q) => /FROM (approval_policies|policy_approvals|policy_defaults)\b/.test(q.text)).reduce((n, q) => n + q.rows.length, 0);
  console.log(`[approval-loader] one device's load read ${policyRows(seen)} policy rows (policies, approvals, defaults); the whole fleet's ${policyRows(all)}`);

  // The answer is unchanged: every decision and every reason for the device.
  expect(resolveFleet(scoped).decisionsFor(mine.deviceId)).toEqual(resolveFleet(whole).decisionsFor(mine.deviceId));
  for (const p of patches) {
    expect(explainDecision(scoped, mine.deviceId, p.updateId)).toEqual(explainDecision(whole, mine.deviceId, p.updateId));
  }
  expect(explainDecision(scoped, mine.deviceId, p1.updateId).decision).toBe('approved');
  expect(explainDecision(scoped, mine.deviceId, p2.updateId)).toMatchObject({ decision: 'denied', reason: expect.stringContaining('Loader device A') });
  expect(explainDecision(scoped, mine.deviceId, p3.updateId)).toMatchObject({ decision: 'approved', reason: expect.stringMatching(/^Approved at site /) });

  // Only the device's own policies were loaded: every policy row read is one of them.
  const devicePolicies = scoped.devices.find((d) => d.id === mine.deviceId)!.policyIds;
  expect(devicePolicies).toEqual(expect.arrayContaining([mineByClient, mineByDevice]));
  expect(scoped.policies.map((p) => p.id).sort()).toEqual([...devicePolicies].sort());
  const rowsOf = (table: string) => seen.reads.filter((r) => new RegExp(`FROM ${table}\\b`).test(r.text)).flatMap((r) => r.rows);
  expect(rowsOf('approval_policies').every((r) => devicePolicies.includes(r.id as string))).toBe(true);
  expect(rowsOf('policy_approvals').every((r) => devicePolicies.includes(r.policy_id as string))).toBe(true);
  expect(rowsOf('policy_defaults').every((r) => devicePolicies.includes(r.policy_id as string))).toBe(true);
  // The other client's policy, its approvals and its Ignore were never read, nor its name...
  const everything = JSON.stringify(seen.reads.map((r) => r.rows));
  expect(everything).not.toContain(theirs);
  expect(everything).not.toContain(other.clientId);
  expect(everything).not.toContain(other.siteId);
  // ...while the whole fleet's load does hold them (the test would see them if they were read).
  expect(whole.policies.some((p) => p.id === theirs)).toBe(true);
  expect(whole.actions.get(`client:${other.clientId}`)?.get(p4.updateId)).toBe('ignore');
  // The policy queries asked for the device's policies by id.
  const policyQuery = seen.reads.find((r) => /FROM approval_policies\b/.test(r.text))!;
  expect([...(policyQuery.params[0] as string[])].sort()).toEqual([...devicePolicies].sort());
});

test('a load of several devices reads the union of their policies, and nothing of a client none of them is in', async () => {
  const a = await h.createDevice(`LOAD-C-${tag}`);
  const b = await h.createDevice(`LOAD-D-${tag}`);
  const outsider = await h.createDevice(`LOAD-E-${tag}`);
  const pa = await policy('Loader client C', { scopeType: 'client', scopeId: a.clientId });
  const pb = await policy('Loader site D', { scopeType: 'site', scopeId: b.siteId });
  const po = await policy('Loader client E', { scopeType: 'client', scopeId: outsider.clientId });

  const seen = recording(h.db);
  const scoped = await loadApprovalModel(seen.db, { deviceIds: [a.deviceId, b.deviceId] });
  const whole = await loadApprovalModel(h.db);

  const ids = scoped.policies.map((p) => p.id);
  expect(ids).toEqual(expect.arrayContaining([pa, pb]));
  expect(ids).not.toContain(po);
  expect(JSON.stringify(seen.reads.map((r) => r.rows))).not.toContain(outsider.clientId);
  for (const d of [a, b]) {
    expect(resolveFleet(scoped).decisionsFor(d.deviceId)).toEqual(resolveFleet(whole).decisionsFor(d.deviceId));
  }
});
