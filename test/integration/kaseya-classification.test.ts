import { createHash, randomUUID } from 'node:crypto';
import { signCatalogFeed, type CatalogFeedEntry } from '../../domain/catalog-feed';
import { KASEYA_CLASSIFICATIONS } from '../../domain/kaseya-classification';
import { startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

// Kaseya's policy summary by Kaseya classification (seed 003: Security Updates split by MSRC severity,
// 11 rows) and defaults per Kaseya classification, stamped when a catalog feed adds or revises a patch.

let h: Harness;
const policies: string[] = [];
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => {
  for (const id of policies) await h.api('DELETE', `/api/v1/policies/${id}`);
  await h.stop();
});

const tag = randomUUID().slice(0, 8);
// KB6xxxxxx: a range no other test file draws from (policies-api 7–9 million, the import test KB8000000…, reports KB9…).
let nextKb = 6_000_000 + Math.floor(Math.random() * 900_000);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const q = encodeURIComponent;

const [CRITICAL, IMPORTANT, MODERATE, LOW, NON_RATED, CRITICAL_UPDATE, ROLLUP, SERVICE_PACK, UPDATE, FEATURE_PACK, TOOL] = KASEYA_CLASSIFICATIONS;

function entry(classification: string, severity: CatalogFeedEntry['severity'], o: Partial<CatalogFeedEntry> = {}): CatalogFeedEntry {
  const kb = `KB${nextKb++}`;
  return {
    updateId: randomUUID(), revision: 1, kb, title: `${classification} ${severity} (${kb})`, classification: classification as CatalogFeedEntry['classification'],
    product: `Kaseya Test OS ${tag}`, severity, releaseDate: '2024-03-12', supersededBy: null, fileName: `${kb.toLowerCase()}.msu`, sizeBytes: 2048,
    sha256: sha(kb), downloadUrl: `https://catalog.example/${kb.toLowerCase()}.msu`, rebootBehavior: 'never', installType: 'normal',
    uninstallable: true, securityBulletin: null, ...o,
  };
}
const header = (feedId: string, sequence: number) => ({ id: feedId, sequence, publishedAt: new Date().toISOString() });

async function createPolicy(name: string): Promise<string> {
  const r = await h.api('POST', '/api/v1/policies', { name: `${name} ${tag}` });
  expect(r.status).toBe(201);
  policies.push(r.body.id);
  return r.body.id;
}

async function summary(policyId: string, groupBy = 'kaseya_classification') {
  const r = await h.api('GET', `/api/v1/policies/${policyId}/summary?groupBy=${groupBy}`);
  expect(r.status).toBe(200);
  return r.body;
}

async function setDefault(policyId: string, kind: string, key: string, status: string) {
  const r = await h.api('PUT', `/api/v1/policies/${policyId}/defaults`, { kind, key, status });
  expect(r.status).toBe(200);
  return r.body;
}

/** The stamped row of each patch in one policy: [status, note]. */
async function stamps(policyId: string, list: CatalogFeedEntry[]): Promise<Record<string, [string, string]>> {
  const { rows } = await h.db.query(
    `SELECT p.kb, pa.status, pa.note FROM policy_approvals pa JOIN patches p ON p.update_id = pa.update_id
     WHERE pa.policy_id = $1::uuid AND pa.update_id = ANY($2::text[])`,
    [policyId, list.map((e) => e.updateId)],
  );
  return Object.fromEntries(rows.map((r) => [r.kb, [r.status, r.note]]));
}

type Counts = { approved: number; denied: number; pendingApproval: number; total: number };
const minus = (a: Counts, b: Counts): Counts => ({
  approved: a.approved - b.approved, denied: a.denied - b.denied, pendingApproval: a.pendingApproval - b.pendingApproval, total: a.total - b.total,
});
const counts = (approved: number, denied: number, pendingApproval: number): Counts => ({ approved, denied, pendingApproval, total: approved + denied + pendingApproval });

describe('the policy summary by Kaseya classification', () => {
  test('answers Kaseya\'s 11 rows in Kaseya\'s order, counting a feed\'s patches of every severity', async () => {
    const feedId = `kaseya-summary-${tag}`;
    const id = await createPolicy('Kaseya summary');
    const before = await summary(id);
    const feed = [
      entry('Security Updates', 'Critical'), entry('Security Updates', 'Critical'), entry('Security Updates', 'Critical'),
      entry('Security Updates', 'Important'), entry('Security Updates', 'Important'),
      entry('Security Updates', 'Moderate'),
      entry('Security Updates', 'Low'),
      entry('Security Updates', 'Unrated'), entry('Security Updates', 'Unrated'),
      // Only Security Updates are split: a rated Critical Update is still "Critical Update (High Priority)".
      entry('Critical Updates', 'Unrated'), entry('Critical Updates', 'Critical'),
      entry('Update Rollups', 'Unrated'),
      entry('Service Packs', 'Unrated'), entry('Service Packs', 'Unrated'),
      entry('Updates', 'Unrated'), entry('Updates', 'Low'), entry('Updates', 'Unrated'),
      entry('Feature Packs', 'Unrated'),
      entry('Tools', 'Unrated'),
      // Kaseya shows no row for definition updates: counted outside the 11 rows, by Microsoft's name.
      entry('Definition Updates', 'Unrated'),
    ];
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 1), feed));
    expect(await h.syncCatalog(feedId)).toMatchObject({ outcome: 'applied', applied: { newKbs: feed.map((e) => e.kb) } });
    // One explicit denial, so that a row shows all three statuses.
    const deny = await h.api('PUT', `/api/v1/policies/${id}/approvals`, { kbs: [feed[0]!.kb], status: 'denied' });
    expect(deny.status).toBe(200);

    const after = await summary(id);
    expect(after).toMatchObject({ policyId: id, groupBy: 'kaseya_classification' });
    expect(after.rows.map((r: any) => r.key)).toEqual(KASEYA_CLASSIFICATIONS);
    // What this feed added to each row, under the new-policy defaults (Security and Critical Updates
    // Approved, Service Packs Denied, the rest Pending Approval), read off the seed's columns.
    const added = Object.fromEntries(after.rows.map((r: any, i: number) => [r.key, minus(r, before.rows[i])]));
    expect(added).toEqual({
      [CRITICAL]: counts(2, 1, 0),
      [IMPORTANT]: counts(2, 0, 0),
      [MODERATE]: counts(1, 0, 0),
      [LOW]: counts(1, 0, 0),
      [NON_RATED]: counts(2, 0, 0),
      [CRITICAL_UPDATE]: counts(2, 0, 0),
      [ROLLUP]: counts(0, 0, 1),
      [SERVICE_PACK]: counts(0, 2, 0),
      [UPDATE]: counts(0, 0, 3),
      [FEATURE_PACK]: counts(0, 0, 1),
      [TOOL]: counts(0, 0, 1),
    });
    // The Default column: a row's own default, else its Microsoft classification's, else the fallback.
    expect(after.rows.map((r: any) => [r.key, r.defaultStatus, r.defaultFrom])).toEqual([
      [CRITICAL, 'approved', 'classification'], [IMPORTANT, 'approved', 'classification'], [MODERATE, 'approved', 'classification'],
      [LOW, 'approved', 'classification'], [NON_RATED, 'approved', 'classification'], [CRITICAL_UPDATE, 'approved', 'classification'],
      [ROLLUP, 'pending_approval', 'fallback'], [SERVICE_PACK, 'denied', 'classification'], [UPDATE, 'pending_approval', 'fallback'],
      [FEATURE_PACK, 'pending_approval', 'fallback'], [TOOL, 'pending_approval', 'fallback'],
    ]);
    // Totals add up the 11 rows, as Kaseya's Totals row does.
    const sum = after.rows.reduce((t: Counts, r: Counts) => ({
      approved: t.approved + r.approved, denied: t.denied + r.denied, pendingApproval: t.pendingApproval + r.pendingApproval, total: t.total + r.total,
    }), counts(0, 0, 0));
    expect(after.totals).toEqual(sum);
    expect(minus(after.totals, before.totals)).toEqual(counts(10, 3, 6));
    const definitions = (s: any) => s.outside.find((r: any) => r.key === 'Definition Updates') ?? counts(0, 0, 0);
    expect(minus(definitions(after), definitions(before))).toEqual(counts(0, 0, 1));
    expect(after.outside.every((r: any) => !KASEYA_CLASSIFICATIONS.includes(r.key))).toBe(true);

    // The five security rows together are Microsoft's "Security Updates" row.
    const byClassification = await summary(id, 'classification');
    const security = byClassification.rows.find((r: any) => r.key === 'Security Updates');
    const securityRows = after.rows.slice(0, 5).reduce((t: number, r: Counts) => t + r.total, 0);
    expect(security.total).toBe(securityRows);

    // The drill-down: the patch list filtered by a Kaseya classification, each patch naming its own.
    const ours = new Set(feed.map((e) => e.kb));
    const listed = await h.api('GET', `/api/v1/patches?kaseyaClassification=${q(CRITICAL)}&product=${q(feed[0]!.product)}`);
    expect(listed.status).toBe(200);
    expect(listed.body.patches.filter((p: any) => ours.has(p.kb)).map((p: any) => p.kb).sort()).toEqual(feed.slice(0, 3).map((e) => e.kb).sort());
    expect(listed.body.patches.every((p: any) => p.kaseyaClassification === CRITICAL)).toBe(true);
    const definition = await h.api('GET', `/api/v1/patches?kb=${feed[19]!.kb}`);
    expect(definition.body.patches[0]).toMatchObject({ classification: 'Definition Updates', kaseyaClassification: null });
  });
});

describe('defaults by Kaseya classification', () => {
  const feedId = `kaseya-defaults-${tag}`;

  test('are stamped on the new patches of a feed sync; the more specific default wins; a later change does not restamp', async () => {
    // "Security Updates" Approved (the new-policy default), Low left pending by its Kaseya default.
    const lowPending = await createPolicy('Kaseya Low pending');
    const set = await setDefault(lowPending, 'kaseya_classification', LOW, 'pending_approval');
    expect(set).toMatchObject({ default: { kind: 'kaseya_classification', key: LOW, status: 'pending_approval' }, previous: null, restampedPatches: 0 });
    const audit = (await h.db.query('SELECT action, subject, details FROM audit_log ORDER BY id DESC LIMIT 1')).rows[0];
    expect(audit).toMatchObject({ action: 'policy.default_changed', subject: lowPending, details: { kind: 'kaseya_classification', key: LOW, from: null, to: 'pending_approval' } });
    // "Security Updates" Pending Approval, Critical approved by its Kaseya default; one product denied.
    const criticalOnly = await createPolicy('Kaseya Critical only');
    await setDefault(criticalOnly, 'classification', 'Security Updates', 'pending_approval');
    await setDefault(criticalOnly, 'kaseya_classification', CRITICAL, 'approved');
    const denied = `Denied Product ${tag}`;
    await setDefault(criticalOnly, 'product', denied, 'denied');
    expect((await h.api('GET', `/api/v1/policies/${criticalOnly}`)).body.defaults).toEqual(expect.arrayContaining([
      { kind: 'kaseya_classification', key: CRITICAL, status: 'approved' },
    ]));

    const critical = entry('Security Updates', 'Critical');
    const important = entry('Security Updates', 'Important');
    const low = entry('Security Updates', 'Low');
    const unrated = entry('Security Updates', 'Unrated');
    const criticalOfDenied = entry('Security Updates', 'Critical', { product: denied });
    const first = [critical, important, low, unrated, criticalOfDenied];
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 1), first));
    expect(await h.syncCatalog(feedId)).toMatchObject({ outcome: 'applied' });

    expect(await stamps(lowPending, first)).toEqual({
      [critical.kb]: ['approved', "classification 'Security Updates'"],
      [important.kb]: ['approved', "classification 'Security Updates'"],
      [low.kb]: ['pending_approval', `Kaseya classification '${LOW}'`],
      // No Non-rated default: the classification's stands, as it did before Kaseya's split.
      [unrated.kb]: ['approved', "classification 'Security Updates'"],
      [criticalOfDenied.kb]: ['approved', "classification 'Security Updates'"],
    });
    expect(await stamps(criticalOnly, first)).toEqual({
      [critical.kb]: ['approved', `Kaseya classification '${CRITICAL}'`],
      [important.kb]: ['pending_approval', "classification 'Security Updates'"],
      [low.kb]: ['pending_approval', "classification 'Security Updates'"],
      // Unrated is never approved by the Critical row's default.
      [unrated.kb]: ['pending_approval', "classification 'Security Updates'"],
      // A product default beats a Kaseya classification default.
      [criticalOfDenied.kb]: ['denied', `product '${denied}'`],
    });
    // The patch list reads the same statuses (the SQL view and the stamping agree).
    const listed = await h.api('GET', `/api/v1/patches?product=${q(critical.product)}`);
    const statusIn = (kb: string) => listed.body.patches.find((p: any) => p.kb === kb).policies.find((x: any) => x.policyId === criticalOnly).status;
    expect([critical, important, low, unrated].map((e) => statusIn(e.kb))).toEqual(['approved', 'pending_approval', 'pending_approval', 'pending_approval']);
    // The summary's Default column names the Kaseya defaults.
    const rows = Object.fromEntries((await summary(criticalOnly)).rows.map((r: any) => [r.key, [r.defaultStatus, r.defaultFrom]]));
    expect([rows[CRITICAL], rows[IMPORTANT], rows[NON_RATED]]).toEqual([
      ['approved', 'kaseya_classification'], ['pending_approval', 'classification'], ['pending_approval', 'classification'],
    ]);

    // Changing a default later does not restamp known patches; the next new one, and a new revision, get it.
    expect(await setDefault(lowPending, 'kaseya_classification', LOW, 'approved')).toMatchObject({ previous: 'pending_approval', restampedPatches: 0 });
    const lowLater = entry('Security Updates', 'Low');
    const lowRevised = entry('Security Updates', 'Low');
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 2), [...first, lowLater]));
    expect(await h.syncCatalog(feedId)).toMatchObject({ outcome: 'applied', applied: { newKbs: [lowLater.kb] } });
    expect((await stamps(lowPending, [low, lowLater]))).toEqual({
      [low.kb]: ['pending_approval', `Kaseya classification '${LOW}'`],
      [lowLater.kb]: ['approved', `Kaseya classification '${LOW}'`],
    });
    h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, header(feedId, 3), [...first.filter((e) => e !== low), { ...low, revision: 2 }, lowLater, lowRevised]));
    expect(await h.syncCatalog(feedId)).toMatchObject({ outcome: 'applied', applied: { revisedKbs: [low.kb], newKbs: [lowRevised.kb] } });
    expect((await stamps(lowPending, [low]))[low.kb]).toEqual(['approved', `new revision, previous approval was pending_approval (default); Kaseya classification '${LOW}'`]);

    // Removing a Kaseya default hands the row back to its classification's (for patches found later).
    const removed = await h.api('DELETE', `/api/v1/policies/${criticalOnly}/defaults`, { kind: 'kaseya_classification', key: CRITICAL });
    expect(removed.status).toBe(200);
    expect(removed.body.removed).toEqual({ kind: 'kaseya_classification', key: CRITICAL, status: 'approved' });
    expect((await summary(criticalOnly)).rows[0]).toMatchObject({ key: CRITICAL, defaultStatus: 'pending_approval', defaultFrom: 'classification' });
  });

  test('a key outside Kaseya\'s 11 names is a 400 that lists them, and nothing is written', async () => {
    const id = await createPolicy('Kaseya bad input');
    const tables = ['policy_defaults', 'audit_log'];
    const count = async (t: string) => Number((await h.db.query(`SELECT count(*) FROM ${t}`)).rows[0].count);
    const before = await Promise.all(tables.map(count));
    const cases: [string, string, unknown, RegExp][] = [
      ['PUT', `/api/v1/policies/${id}/defaults`, { kind: 'kaseya_classification', key: 'Security Updates', status: 'approved' },
        /^body\.key: must be one of Kaseya's classifications: "Security Update - Critical \(High Priority\)", .*"Tool \(Optional - Software\)"$/],
      ['PUT', `/api/v1/policies/${id}/defaults`, { kind: 'kaseya_classification', key: 'Security Update - Critical', status: 'approved' }, /body\.key: must be one of Kaseya's classifications/],
      ['PUT', `/api/v1/policies/${id}/defaults`, { kind: 'kaseya_classification', key: 'security update - critical (high priority)', status: 'approved' }, /body\.key: must be one of/],
      ['PUT', `/api/v1/policies/${id}/defaults`, { kind: 'kaseya_classification', key: CRITICAL, status: 'yes' }, /body\.status: must be approved, pending_approval or denied/],
      ['DELETE', `/api/v1/policies/${id}/defaults`, { kind: 'kaseya_classification', key: 'Critical' }, /body\.key: must be one of/],
      ['GET', `/api/v1/policies/${id}/summary?groupBy=severity`, undefined, /query\.groupBy: must be classification, product or kaseya_classification/],
      ['GET', `/api/v1/patches?kaseyaClassification=${q('Security Updates')}`, undefined, /query\.kaseyaClassification: must be one of Kaseya's classifications/],
    ];
    for (const [method, path, body, error] of cases) {
      const r = await h.api(method, path, body);
      expect({ path, body, status: r.status }).toEqual({ path, body, status: 400 });
      expect(r.body.error).toMatch(error);
    }
    expect(await Promise.all(tables.map(count))).toEqual(before);
  });
});
