import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { findUpdate } from '../../agent/catalog';
import { SIMULATOR_FEED_ID } from '../../agent/catalog-feed';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { signCatalogFeed, type CatalogFeed, type CatalogFeedEntry } from '../../domain/catalog-feed';
import { generateSigningKeyPair } from '../../domain/signatures';
import type { InstallResult } from '../../workflows/install.contract';
import type { PatchScanResult } from '../../workflows/scan.contract';
import { answerNextScan, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const catalogRow = async (updateId: string) => (await h.db.query('SELECT * FROM patches WHERE update_id = $1', [updateId])).rows[0];
const auditOf = async (action: string, since: number) =>
  (await h.db.query('SELECT * FROM audit_log WHERE action = $1 AND id > $2 ORDER BY id', [action, since])).rows;
const lastAuditId = async () => Number((await h.db.query('SELECT coalesce(max(id), 0) AS id FROM audit_log')).rows[0].id);

/** An enrolled device driven by hand: it answers scans with whatever it is told to claim. */
async function handDevice(name: string) {
  const created = await h.createDevice(name);
  const enroll = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enrollmentToken: created.enrollmentToken, bootId: 'boot-1' }),
  });
  const { credential } = (await enroll.json()) as { credential: string };
  return {
    ...created,
    /** Starts a scan through the API, answers it with `updates` (raw, as an attacker would post them) and returns its result. */
    async scan(updates: Record<string, unknown>[]): Promise<PatchScanResult> {
      const started = await h.api('POST', `/api/v1/devices/${created.deviceId}/scans`, {});
      expect(started.status).toBe(202);
      await answerNextScan(h, credential, updates);
      return (await h.client.workflow.getHandle(started.body.workflowId).result()) as PatchScanResult;
    },
  };
}

/** What an old agent sent for an update: every WUA field, here the catalog's own. */
function fullReport(kb: string, installed = false): Record<string, unknown> {
  const { appliesTo: _a, ...u } = findUpdate({ kb })!;
  return { ...u, installed };
}

test('the attack: a device re-posting a known update with its own URL, hash, classification and supersedence changes nothing, and is audited as refused', async () => {
  const ROLLUP = 'KB890830'; // Update Rollups → Pending Approval under the new-policy defaults
  const LCU = 'KB5035857';
  const SECURITY = 'KB5034439';
  const rollup = findUpdate({ kb: ROLLUP })!;
  const suffix = randomUUID().slice(0, 8);

  // A victim server that misses the rollup, under a policy with the new-policy defaults.
  const victim = await h.createDevice(`VICTIM-${suffix}`);
  const policy = await h.api('POST', '/api/v1/policies', { name: `Attack test ${suffix}` });
  expect(policy.status).toBe(201);
  await h.api('POST', `/api/v1/policies/${policy.body.id}/members`, { scopeType: 'device', scopeId: victim.deviceId });
  const device = new SimulatedWindowsDevice({
    id: `victim-${suffix}`, name: `VICTIM-${suffix}`, os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'victim-')),
    missingKbs: [ROLLUP, SECURITY],
  });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken: victim.enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;

  const before = { rollup: await catalogRow(rollup.updateId), lcu: await catalogRow(findUpdate({ kb: LCU })!.updateId), security: await catalogRow(findUpdate({ kb: SECURITY })!.updateId) };
  const approvalsBefore = (await h.db.query('SELECT policy_id, status, source FROM policy_approvals WHERE update_id = $1 ORDER BY policy_id', [rollup.updateId])).rows;
  expect(approvalsBefore.find((a) => a.policy_id === policy.body.id)?.status).toBe('pending_approval');
  const since = await lastAuditId();

  // The attacker's device: revision + 1, its own file, "Security Updates / Critical"; and, for the
  // real cumulative update, a changed hash; and it marks the real security update superseded.
  const attacker = await handDevice(`ATTACKER-${suffix}`);
  const evil = {
    ...fullReport(ROLLUP), revision: rollup.revision + 1, downloadUrl: 'https://evil.example/mrt.exe', sha256: sha('evil'),
    classification: 'Security Updates', severity: 'Critical', sizeBytes: 1234,
  };
  const summary = await attacker.scan([
    evil,
    { ...fullReport(LCU), sha256: sha('evil-lcu'), downloadUrl: 'https://evil.example/lcu.msu' },
    { ...fullReport(SECURITY), supersededBy: LCU },
  ]);
  expect(summary).toMatchObject({ changed: true, unverified: 1, unverifiedKbs: [ROLLUP], missing: 2 });

  // Nothing in the catalog changed, nor any policy's approval.
  expect(await catalogRow(rollup.updateId)).toEqual(before.rollup);
  expect(await catalogRow(findUpdate({ kb: LCU })!.updateId)).toEqual(before.lcu);
  expect(await catalogRow(findUpdate({ kb: SECURITY })!.updateId)).toEqual(before.security);
  expect((await h.db.query('SELECT policy_id, status, source FROM policy_approvals WHERE update_id = $1 ORDER BY policy_id', [rollup.updateId])).rows).toEqual(approvalsBefore);

  // Audited as refused, naming what the device claimed.
  const refused = await auditOf('catalog.device_report_refused', since);
  expect(refused.map((r) => [r.subject, r.device_id])).toEqual([[ROLLUP, attacker.deviceId], [LCU, attacker.deviceId], [SECURITY, attacker.deviceId]]);
  expect(refused[0].details).toMatchObject({ reportedRevision: rollup.revision + 1, catalogRevision: rollup.revision });
  expect(refused[0].details.fields).toEqual(expect.arrayContaining(['classification', 'severity', 'sizeBytes', 'sha256', 'downloadUrl']));
  expect(refused[1].details.fields).toEqual(['sha256', 'downloadUrl']);
  expect(refused[2].details.fields).toEqual(['supersededBy']);

  // The attacker's own view: unverified, with the reason; never an install candidate.
  const mine = (await h.api('GET', `/api/v1/devices/${attacker.deviceId}/approvals`)).body.patches as any[];
  expect(mine.find((p) => p.kb === ROLLUP)).toMatchObject({ decision: 'unverified', reason: `unverified: at revision ${rollup.revision + 1}, the catalog has ${rollup.revision}` });

  // The victim's next ordinary install: the rollup is still Pending Approval, so it is left out...
  const plain = await h.api('POST', `/api/v1/devices/${victim.deviceId}/installs`, {});
  expect(plain.status).toBe(202);
  const plainResult = (await h.client.workflow.getHandle(plain.body.workflowId).result()) as InstallResult;
  expect(plainResult.refused?.map((r) => [r.kb, r.decision])).toEqual([[ROLLUP, 'pending_approval']]);
  expect(plainResult.patches.map((p) => p.kb)).toEqual([SECURITY]);
  // ...and installed by name, the download it receives is the catalog's, not the attacker's.
  const explicit = await h.api('POST', `/api/v1/devices/${victim.deviceId}/installs`, { kbs: [ROLLUP] });
  expect(explicit.status).toBe(202);
  const explicitResult = (await h.client.workflow.getHandle(explicit.body.workflowId).result()) as InstallResult;
  expect(explicitResult.outcome).toBe('succeeded');
  const downloads = (await h.db.query(`SELECT payload FROM agent_commands WHERE device_id = $1 AND type = 'download'`, [victim.deviceId])).rows;
  // One download command per install, carrying its patches.
  const rollupDownload = downloads.flatMap((d) => d.payload.patches as { kb: string }[]).find((p) => p.kb === ROLLUP);
  expect(rollupDownload).toEqual({
    updateId: rollup.updateId, kb: ROLLUP, fileName: rollup.fileName, downloadUrl: rollup.downloadUrl, sizeBytes: rollup.sizeBytes, sha256: rollup.sha256,
  });
  expect(downloads.every((d) => !/evil/.test(JSON.stringify(d.payload)))).toBe(true);
  expect(device.isInstalled(ROLLUP)).toBe(true);
  await h.api('DELETE', `/api/v1/policies/${policy.body.id}/members`, { scopeType: 'device', scopeId: victim.deviceId });
});

test('an update the catalog does not know is unverified: shown, counted, and never installed, even by name', async () => {
  const attacker = await handDevice(`UNKNOWN-${randomUUID().slice(0, 8)}`);
  const updateId = randomUUID();
  const summary = await attacker.scan([
    { updateId, revision: 1, installed: false, kb: 'KB9999991', title: 'Totally real security update', sha256: sha('x'), downloadUrl: 'https://evil.example/x.exe' },
    fullReport('KB5034439'),
  ]);
  expect(summary).toMatchObject({ unverified: 1, unverifiedKbs: ['KB9999991'], missing: 1, updatesReported: 2 });
  expect(await catalogRow(updateId)).toBeUndefined();

  const patches = (await h.api('GET', `/api/v1/devices/${attacker.deviceId}/patches?status=unverified`)).body.patches as any[];
  expect(patches).toEqual([expect.objectContaining({ updateId, kb: 'KB9999991', status: 'unverified', verified: false, unverifiedReason: 'unverified: not in the catalog' })]);
  const approvals = (await h.api('GET', `/api/v1/devices/${attacker.deviceId}/approvals`)).body.patches as any[];
  expect(approvals.find((p) => p.updateId === updateId)).toMatchObject({ decision: 'unverified', reason: 'unverified: not in the catalog' });
  expect((await h.api('GET', `/api/v1/devices/${attacker.deviceId}/last-scan`)).body).toMatchObject({ updatesReported: 2, unverified: 1 });

  const byName = await h.api('POST', `/api/v1/devices/${attacker.deviceId}/installs`, { kbs: ['KB9999991'] });
  expect(byName.status).toBe(422);
  expect(byName.body.error).toBe('body.kbs: KB9999991 is unverified: not in the catalog; it installs once a catalog feed confirms it');
  expect((await h.db.query('SELECT count(*)::int AS n FROM agent_commands WHERE device_id = $1 AND type <> $2', [attacker.deviceId, 'scan'])).rows[0].n).toBe(0);
});

// ---- feeds ------------------------------------------------------------------------------------------

function entry(kb: string, overrides: Partial<CatalogFeedEntry> = {}): CatalogFeedEntry {
  return {
    updateId: randomUUID(), revision: 1, kb, title: `Test update (${kb})`, classification: 'Updates', product: 'Windows Server 2022',
    severity: 'Unrated', releaseDate: '2024-03-12', supersededBy: null, fileName: `${kb.toLowerCase()}.msu`, sizeBytes: 1024,
    sha256: sha(kb), downloadUrl: `https://catalog.example/${kb.toLowerCase()}.msu`, rebootBehavior: 'never', installType: 'normal',
    uninstallable: true, securityBulletin: null, ...overrides,
  };
}
const header = (feedId: string, sequence: number) => ({ id: feedId, sequence, publishedAt: new Date().toISOString() });
const rowsOf = async (updateIds: string[]) => (await h.db.query('SELECT * FROM patches WHERE update_id = ANY($1) ORDER BY update_id', [updateIds])).rows;

describe('a feed of its own', () => {
  const feedId = `test-feed-${randomUUID().slice(0, 8)}`;
  const a = entry('KB7000001');
  const b = entry('KB7000002', { supersededBy: a.updateId });
  let policies: string[];

  beforeAll(async () => {
    const suffix = randomUUID().slice(0, 8);
    policies = [];
    for (const n of [1, 2]) policies.push((await h.api('POST', '/api/v1/policies', { name: `Feed test ${n} ${suffix}` })).body.id);
  });

  test('a first sequence adds its entries, stamps them in every policy and audits each', async () => {
    const since = await lastAuditId();
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 1), [a, b]));
    const synced = await h.syncCatalog(feedId);
    expect(synced).toMatchObject({ outcome: 'applied', sequence: 1, applied: { newKbs: ['KB7000001', 'KB7000002'], revisedKbs: [], unchanged: 0, refused: [] } });
    const rows = await rowsOf([a.updateId, b.updateId]);
    expect(rows.map((r) => [r.kb, r.source, r.source_feed_id, Number(r.feed_sequence)])).toEqual(
      [a, b].sort((x, y) => x.updateId.localeCompare(y.updateId)).map((e) => [e.kb, 'feed', feedId, 1]));
    // Supersedence named by update id is stored as the KB.
    expect(rows.find((r) => r.kb === 'KB7000002').superseded_by).toBe('KB7000001');
    const stamps = (await h.db.query('SELECT status FROM policy_approvals WHERE update_id = $1 AND policy_id = ANY($2)', [a.updateId, policies])).rows;
    expect(stamps.map((s) => s.status)).toEqual(['pending_approval', 'pending_approval']);
    const added = await auditOf('catalog.entry_added', since);
    expect(added.map((r) => r.subject).sort()).toEqual(['KB7000001', 'KB7000002']);
    expect(added[0].details).toMatchObject({ feedId, sequence: 1, kind: 'new', revision: { from: null, to: 1 } });
    await maybeRecordHistory(h.client, synced.workflowId, 'catalogSyncWorkflow-applied');
  });

  test('the same feed again changes nothing', async () => {
    const rows = await rowsOf([a.updateId, b.updateId]);
    const since = await lastAuditId();
    const again = await h.syncCatalog(feedId);
    expect(again).toMatchObject({ outcome: 'unchanged', sequence: 1 });
    expect(await rowsOf([a.updateId, b.updateId])).toEqual(rows);
    expect(await auditOf('catalog.entry_added', since)).toEqual([]);
    expect(await lastAuditId()).toBe(since + 1); // only the operator's catalog.sync_started
  });

  test('a bad signature, an unknown key, an old or reused sequence are refused, audited, and write nothing', async () => {
    const rows = await rowsOf([a.updateId, b.updateId]);
    const feedRow = (await h.db.query('SELECT * FROM catalog_feeds WHERE feed_id = $1', [feedId])).rows[0];
    const evil = { ...a, sha256: sha('evil'), downloadUrl: 'https://evil.example/a.msu' };

    const signed = signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 5), [a, b]);
    const tampered: CatalogFeed = { ...signed, entries: [evil, b] };
    const foreign = signCatalogFeed(generateSigningKeyPair().privateKeyPem, header(feedId, 6), [evil, b]);
    const cases: [string, CatalogFeed, RegExp][] = [
      ['bad_signature', tampered, /signature does not match/],
      ['unknown_key', foreign, /is not pinned for feed/],
      ['sequence_reused', signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 1), [evil, b]), /already applied with other content/],
    ];
    for (const [code, feed, reason] of cases) {
      const since = await lastAuditId();
      h.publishFeed(feed);
      const result = await h.syncCatalog(feedId);
      expect(result).toMatchObject({ outcome: 'refused', refusalCode: code });
      expect(result.reason).toMatch(reason);
      const audit = await auditOf('catalog.feed_refused', since);
      expect(audit.map((r) => [r.subject, r.details.code])).toEqual([[feedId, code]]);
      expect(await rowsOf([a.updateId, b.updateId])).toEqual(rows);
      expect((await h.db.query('SELECT * FROM catalog_feeds WHERE feed_id = $1', [feedId])).rows[0]).toEqual(feedRow);
      expect((await h.db.query('SELECT count(*)::int AS n FROM catalog_feed_documents WHERE feed_id = $1', [feedId])).rows[0].n).toBe(0);
    }
  });

  test('a revision returns the patch to Pending Approval in every policy, audited with what changed; an older sequence is then refused', async () => {
    for (const p of policies) {
      expect((await h.api('PUT', `/api/v1/policies/${p}/approvals`, { updateIds: [a.updateId], status: 'approved' })).status).toBeLessThan(300);
    }
    const since = await lastAuditId();
    const revised = { ...a, revision: 2, sha256: sha('KB7000001 v2'), sizeBytes: 2048 };
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 2), [revised, b]));
    const synced = await h.syncCatalog(feedId);
    expect(synced).toMatchObject({ outcome: 'applied', sequence: 2, applied: { revisedKbs: ['KB7000001'], newKbs: [], changedKbs: [], unchanged: 1 } });
    expect(await catalogRow(a.updateId)).toMatchObject({ revision: 2, sha256: revised.sha256, feed_sequence: '2' });
    const stamps = (await h.db.query('SELECT status, source, note FROM policy_approvals WHERE update_id = $1 AND policy_id = ANY($2)', [a.updateId, policies])).rows;
    expect(stamps).toEqual([0, 1].map(() => expect.objectContaining({ status: 'pending_approval', source: 'default', note: expect.stringMatching(/^new revision, previous approval was approved \(explicit\)/) })));
    const audit = await auditOf('catalog.entry_revised', since);
    expect(audit.map((r) => r.details)).toEqual([expect.objectContaining({
      feedId, sequence: 2, updateId: a.updateId, revision: { from: 1, to: 2 }, fields: ['sizeBytes', 'sha256'],
      changes: { sizeBytes: { from: 1024, to: 2048 }, sha256: { from: a.sha256, to: revised.sha256 } },
    })]);

    // The first feed replayed: an older sequence, refused.
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 1), [a, b]));
    const replayed = await h.syncCatalog(feedId);
    expect(replayed).toMatchObject({ outcome: 'refused', refusalCode: 'old_sequence' });
    expect(await catalogRow(a.updateId)).toMatchObject({ revision: 2, sha256: revised.sha256 });
    await maybeRecordHistory(h.client, replayed.workflowId, 'catalogSyncWorkflow-refused');
  });

  test('a feed cannot take over an update another feed supplies', async () => {
    const simulatorUpdate = findUpdate({ kb: 'KB5034439' })!;
    const before = await catalogRow(simulatorUpdate.updateId);
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 3), [
      entry('KB5034439', { updateId: simulatorUpdate.updateId, revision: simulatorUpdate.revision + 1, downloadUrl: 'https://evil.example/s.msu' }),
    ]));
    const synced = await h.syncCatalog(feedId);
    expect(synced.applied?.refused).toEqual([{ updateId: simulatorUpdate.updateId, kb: 'KB5034439', reason: `supplied by feed "${SIMULATOR_FEED_ID}"` }]);
    expect(await catalogRow(simulatorUpdate.updateId)).toEqual(before);
  });
});

test('POST /api/v1/catalog/sync: 202 with a Location to poll; an unknown feed is 404', async () => {
  const r = await h.api('POST', '/api/v1/catalog/sync', {});
  expect(r.status).toBe(202);
  expect(r.headers.get('location')).toBe(`/api/v1/catalog/feeds/${SIMULATOR_FEED_ID}/syncs/${r.body.runId}`);
  await h.client.workflow.getHandle(r.body.workflowId, r.body.runId).result();
  const view = await h.api('GET', r.headers.get('location')!);
  expect(view.body).toMatchObject({ status: 'COMPLETED', result: { outcome: 'unchanged' } });
  expect((await h.api('POST', '/api/v1/catalog/sync', { feedId: 'nope' })).status).toBe(404);
  expect((await h.api('POST', '/api/v1/catalog/sync', { feedId: 'Not A Feed' })).body.error).toMatch(/^body\.feedId: /);
  const feeds = (await h.api('GET', '/api/v1/catalog/feeds')).body.feeds as any[];
  expect(feeds.find((f) => f.feedId === SIMULATOR_FEED_ID).lastApplied).toMatchObject({ lastSequence: 1 });
});

describe('operator import', () => {
  const N = 2000;
  beforeAll(async () => {
    expect((await h.api('POST', '/api/v1/policies', { name: `Import test ${randomUUID().slice(0, 8)}` })).status).toBe(201);
  });
  const csv = () => {
    const lines = ['KB,Title,Classification,Severity,Product,Release Date,Approval Status'];
    for (let i = 0; i < N; i++) {
      const kb = `KB8${String(i).padStart(6, '0')}`;
      lines.push(`${kb},"Imported update ${i}, from the old RMM",Security Update - ${i % 2 ? 'Important' : 'Critical'} (High Priority),,Windows 10,2023-0${1 + (i % 9)}-14,${i % 3 === 0 ? 'Approved' : 'Pending Approval'}`);
    }
    lines.push('KB5034439,Renamed by the old RMM,Update Rollups,,Windows Server 2022,2024-01-09,Denied'); // a feed's update
    lines.push('KB12,Bad row,Updates,,Windows 10,2024-01-01,Approved');
    lines.push('KB8000000,Twice,Updates,,Windows 10,2024-01-01,Approved');
    lines.push('KB8999999,No classification,,,Windows 10,2024-01-01,Approved');
    return `${lines.join('\n')}\n`;
  };
  const post = async (query: string, body: string, type = 'text/csv') => {
    const res = await fetch(`${h.server.url}/api/v1/catalog/import${query}`, { method: 'POST', headers: { authorization: `Bearer ${'test-api-key-0123456789abcdef'}`, 'content-type': type }, body });
    return { status: res.status, body: (await res.json()) as any };
  };
  const counts = async () => (await h.db.query(`SELECT (SELECT count(*) FROM patches)::int AS patches, (SELECT count(*) FROM policy_approvals)::int AS approvals,
    (SELECT max(id) FROM audit_log)::int AS audit, (SELECT md5(string_agg(p::text, ',' ORDER BY update_id)) FROM patches p) AS digest`)).rows[0];

  test('a dry run of a few thousand rows shows what would change and writes nothing; the import then writes it, audited as the operator\'s', async () => {
    const before = await counts();
    const started = Date.now();
    const dry = await post('', csv());
    const dryMs = Date.now() - started;
    expect(dry.status).toBe(200);
    expect(dry.body).toMatchObject({ dryRun: true, format: 'csv', rows: N + 4, changed: [], unchanged: 1 });
    expect(dry.body.new).toHaveLength(N);
    expect(dry.body.new[0]).toEqual({ line: 2, kb: 'KB8000000', installable: false });
    expect(dry.body.keptFromFeed).toEqual([{ line: N + 2, kb: 'KB5034439', reason: `feed "${SIMULATOR_FEED_ID}" supplies its title, classification, severity; kept` }]);
    expect(dry.body.refused).toEqual([
      { line: N + 3, kb: 'KB12', reason: 'KB: "KB12" must look like KB5034441' },
      { line: N + 4, kb: 'KB8000000', reason: 'KB KB8000000 is also on line 2' },
      { line: N + 5, kb: 'KB8999999', reason: 'Classification is needed for a KB the catalog does not know' },
    ]);
    expect(dry.body.approvals.find((a: any) => a.status === 'denied')).toMatchObject({ kbs: ['KB5034439'] });
    expect(dry.body.approvals.find((a: any) => a.status === 'approved').kbs).toHaveLength(Math.ceil(N / 3));
    expect(await counts()).toEqual(before);

    const applyStarted = Date.now();
    const applied = await post('?dryRun=false', csv());
    const applyMs = Date.now() - applyStarted;
    expect(applied.status).toBe(201);
    expect({ ...applied.body, dryRun: true }).toEqual(dry.body);
    console.log(`catalog import of ${N + 4} CSV rows: dry run ${dryMs} ms, import ${applyMs} ms`);
    const imported = await catalogRow('import:KB8000001');
    expect(imported).toMatchObject({ kb: 'KB8000001', classification: 'Security Updates', severity: 'Important', source: 'import', sha256: null, download_url: null });
    // Approval status carried into every policy; the feed's update keeps the feed's classification.
    const policyCount = (await h.db.query('SELECT count(*)::int AS n FROM approval_policies')).rows[0].n;
    const approved = (await h.db.query(`SELECT status, source FROM policy_approvals WHERE update_id = 'import:KB8000000'`)).rows;
    expect(approved).toHaveLength(policyCount);
    expect(approved.every((a) => a.status === 'approved' && a.source === 'explicit')).toBe(true);
    expect(await catalogRow(findUpdate({ kb: 'KB5034439' })!.updateId)).toMatchObject({ classification: 'Security Updates', source: 'feed' });
    expect((await auditOf('catalog.imported', before.audit)).map((r) => r.actor)).toEqual(['user:admin/key:bootstrap']);
    expect((await auditOf('catalog.entry_imported', before.audit))).toHaveLength(N);

    // Importing the same file again changes nothing.
    const again = await post('?dryRun=false', csv());
    expect(again.body).toMatchObject({ new: [], changed: [], unchanged: N + 1 });
    expect(again.body.approvals.every((a: any) => a.approvalsChanged === 0)).toBe(true);
  });

  test('an imported KB is not installable until a feed supplies its file; then the feed entry keeps the imported approval', async () => {
    const device = await handDevice(`IMPORTED-${randomUUID().slice(0, 8)}`);
    const realId = randomUUID();
    await device.scan([{ updateId: realId, revision: 3, installed: false, kb: 'KB8000003' }]);
    expect((await h.api('GET', `/api/v1/devices/${device.deviceId}/approvals`)).body.patches[0]).toMatchObject({ kb: 'KB8000003', decision: 'unverified' });
    expect((await h.api('POST', `/api/v1/devices/${device.deviceId}/installs`, { kbs: ['KB8000003'] })).status).toBe(422);

    const feedId = `import-confirm-${randomUUID().slice(0, 8)}`;
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 1), [entry('KB8000003', { updateId: realId, revision: 3, classification: 'Security Updates', severity: 'Important' })]));
    const synced = await h.syncCatalog(feedId);
    expect(synced.applied?.newKbs).toEqual(['KB8000003']);
    expect(await catalogRow('import:KB8000003')).toBeUndefined();
    const approvals = (await h.db.query('SELECT status, source FROM policy_approvals WHERE update_id = $1', [realId])).rows;
    expect(approvals.length).toBeGreaterThan(0);
    expect(approvals).toEqual(approvals.map(() => expect.objectContaining({ status: 'approved', source: 'explicit' }))); // line 5: i = 3, Approved
    // The device's next scan finds it verified.
    await device.scan([{ updateId: realId, revision: 3, installed: false, kb: 'KB8000003' }]);
    expect((await h.api('GET', `/api/v1/devices/${device.deviceId}/patches`)).body.patches).toEqual([expect.objectContaining({ kb: 'KB8000003', status: 'missing', verified: true })]);
  });

  test('a feed-format JSON import applies entries as the operator\'s and never overwrites a feed\'s entry', async () => {
    const mine = entry('KB8100001');
    const feedOwned = { ...entry('KB5034439'), updateId: findUpdate({ kb: 'KB5034439' })!.updateId, revision: 999 };
    const before = await counts();
    const dry = await post('', JSON.stringify({ entries: [mine, feedOwned, { kb: 'KB1' }] }), 'application/json');
    expect(dry.body).toMatchObject({ dryRun: true, format: 'feed', new: [{ kb: 'KB8100001', installable: true }] });
    expect(dry.body.refused.map((r: any) => r.reason)).toEqual([expect.stringMatching(/^entries\.2\./), `supplied by feed "${SIMULATOR_FEED_ID}"`]);
    expect(await counts()).toEqual(before);
    const applied = await post('?dryRun=false', JSON.stringify({ entries: [mine, feedOwned] }), 'application/json');
    expect(applied.status).toBe(201);
    expect(await catalogRow(mine.updateId)).toMatchObject({ source: 'import', source_feed_id: null, sha256: mine.sha256 });
    expect(await catalogRow(feedOwned.updateId)).toMatchObject({ source: 'feed', revision: findUpdate({ kb: 'KB5034439' })!.revision });
    expect((await post('?dryRun=maybe', '{}', 'application/json')).body.error).toMatch(/^query\.dryRun: /);
  });
});
