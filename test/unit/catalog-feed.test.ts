import { createHash } from 'node:crypto';
import {
  diffCatalog, feedDigestOf, resolveSupersedence, signCatalogFeed, verifyCatalogFeed, type CatalogFeedEntry, type CatalogRow,
} from '../../domain/catalog-feed';
import { readImportRows } from '../../domain/catalog-import';
import type { ScanReport } from '../../domain/device-protocol';
import { verifyScanReport, type CatalogFacts } from '../../domain/scan-verification';
import { generateSigningKeyPair } from '../../domain/signatures';

const key = generateSigningKeyPair();
const other = generateSigningKeyPair();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const entry = (kb: string, o: Partial<CatalogFeedEntry> = {}): CatalogFeedEntry => ({
  updateId: `id-${kb}`, revision: 1, kb, title: `Update ${kb}`, classification: 'Security Updates', product: 'Windows 10', severity: 'Critical',
  releaseDate: '2024-03-12', supersededBy: null, fileName: `${kb}.msu`, sizeBytes: 10, sha256: sha(kb), downloadUrl: `https://c.example/${kb}.msu`,
  rebootBehavior: 'always', installType: 'normal', uninstallable: true, securityBulletin: null, ...o,
});
const header = (sequence: number) => ({ id: 'feed-a', sequence, publishedAt: '2024-03-12T18:00:00Z' });
const feed = signCatalogFeed(key.privateKeyPem, header(2), [entry('KB5000001'), entry('KB5000002')]);
const expect2 = (last?: { sequence: number; digest: string }) => ({ feedId: 'feed-a', pinnedPublicKeys: [key.publicKeyPem], lastApplied: last });

describe('verifyCatalogFeed', () => {
  test.each([
    ['a valid feed', feed, expect2(), 'ok'],
    ['a feed re-serialised with other key order (jsonb)', JSON.parse(JSON.stringify({ signature: feed.signature, entries: feed.entries, feed: feed.feed, format: feed.format })), expect2(), 'ok'],
    ['an altered entry', { ...feed, entries: [{ ...feed.entries[0], sha256: sha('evil') }, feed.entries[1]] }, expect2(), 'bad_signature'],
    ['an altered header', { ...feed, feed: { ...feed.feed, sequence: 99 } }, expect2(), 'bad_signature'],
    ['a key that is not pinned', signCatalogFeed(other.privateKeyPem, header(2), feed.entries), expect2(), 'unknown_key'],
    ['another feed id', signCatalogFeed(key.privateKeyPem, { ...header(2), id: 'feed-b' }, feed.entries), expect2(), 'wrong_feed'],
    ['an older sequence', feed, expect2({ sequence: 3, digest: 'x' }), 'old_sequence'],
    ['the last sequence with other content', feed, expect2({ sequence: 2, digest: 'x' }), 'sequence_reused'],
    ['the last sequence, same content', feed, expect2({ sequence: 2, digest: feedDigestOf(feed) }), 'ok'],
    ['no signature', { ...feed, signature: undefined }, expect2(), 'malformed'],
    ['a path as file name', signCatalogFeed(key.privateKeyPem, header(2), [entry('KB5000003', { fileName: '..\\\\evil.exe' })]), expect2(), 'malformed'],
    ['a duplicate update id', signCatalogFeed(key.privateKeyPem, header(2), [entry('KB5000003'), entry('KB5000003')]), expect2(), 'malformed'],
  ])('%s → %s', (_name, doc, expectation, code) => {
    const v = verifyCatalogFeed(doc, expectation);
    expect(v.ok ? 'ok' : v.refusal.code).toBe(code);
  });
});

describe('diffCatalog', () => {
  const row = (e: CatalogFeedEntry, o: Partial<CatalogRow> = {}): CatalogRow => ({ ...e, releaseDate: `${e.releaseDate}T00:00:00.000Z`, sourceFeedId: 'feed-a', source: 'feed', ...o });
  test('new, revised, changed, unchanged and refused entries', () => {
    const a = entry('KB5000001');
    const current = new Map<string, CatalogRow>([
      ['id-KB5000001', row(a)],
      ['id-KB5000002', row(entry('KB5000002'))],
      ['id-KB5000003', row(entry('KB5000003'))],
      ['id-KB5000004', row(entry('KB5000004', { revision: 5 }))],
      ['id-KB5000005', row(entry('KB5000005'), { sourceFeedId: 'feed-b' })],
      ['id-KB5000006', row(entry('KB5000006'), { sourceFeedId: null, source: 'device_scan' })],
    ]);
    const d = diffCatalog('feed-a', [
      a, entry('KB5000002', { revision: 2, sha256: sha('v2') }), entry('KB5000003', { supersededBy: 'KB5000009' }), entry('KB5000004'),
      entry('KB5000005'), entry('KB5000006'), entry('KB5000007'),
    ], current);
    expect(d.unchanged).toBe(1);
    expect(d.changes.map((c) => [c.entry.kb, c.kind, c.fields.map((f) => f.field)])).toEqual([
      ['KB5000002', 'revised', ['sha256']], ['KB5000003', 'changed', ['supersededBy']], ['KB5000006', 'changed', []], ['KB5000007', 'new', []],
    ]);
    expect(d.refused).toEqual([
      { updateId: 'id-KB5000004', kb: 'KB5000004', reason: "revision 1 is older than the catalog's 5" },
      { updateId: 'id-KB5000005', kb: 'KB5000005', reason: 'supplied by feed "feed-b"' },
    ]);
  });
  test('supersedence named by update id is stored as its KB', () => {
    expect(resolveSupersedence([entry('KB5000001', { supersededBy: 'id-KB5000002' }), entry('KB5000002')])[0]!.supersededBy).toBe('KB5000002');
  });
});

describe('verifyScanReport', () => {
  const facts = (e: CatalogFeedEntry, file = true): CatalogFacts => ({
    updateId: e.updateId, revision: e.revision, kb: e.kb, title: e.title, product: e.product, classification: e.classification, severity: e.severity,
    publishedAt: e.releaseDate, rebootBehavior: e.rebootBehavior, securityBulletin: e.securityBulletin, installType: e.installType,
    supersededBy: e.supersededBy, uninstallable: e.uninstallable,
    file: file ? { fileName: e.fileName, sizeBytes: e.sizeBytes, sha256: e.sha256, downloadUrl: e.downloadUrl } : null,
  });
  const a = entry('KB5000001');
  const b = entry('KB5000002');
  const catalog = new Map([[a.updateId, facts(a)], [b.updateId, facts(b, false)]]);
  const report = (updates: ScanReport['updates']): ScanReport => ({ bootId: 'b', updates, rebootPending: false, freeDiskBytes: 1, scannedAt: '2024-03-12T00:00:00Z' });

  test('catalog facts for confirmed updates; unknown, other revisions and file-less ones unverified; contradictions refused', () => {
    const r = report([
      { updateId: a.updateId, revision: 1, installed: false },
      { updateId: 'nope', revision: 1, installed: true, kb: 'KB9999999' },
      { updateId: b.updateId, revision: 1, installed: false },
    ]);
    const claims = [{ sha256: sha('evil'), classification: 'Security Updates', downloadUrl: 'https://evil.example/' }, {}, {}];
    const v = verifyScanReport(r, catalog, claims);
    expect(v.result.updates).toEqual([expect.objectContaining({ updateId: a.updateId, sha256: a.sha256, downloadUrl: a.downloadUrl, installed: false })]);
    expect(v.result.unverified?.map((u) => [u.kbHint, u.reason])).toEqual([
      ['KB9999999', 'unverified: not in the catalog'],
      ['KB5000002', 'unverified: the catalog has no file facts for it yet (imported without a feed)'],
    ]);
    expect(v.refusedClaims).toEqual([{ updateId: a.updateId, kb: 'KB5000001', reportedRevision: 1, catalogRevision: 1, fields: ['sha256', 'downloadUrl'] }]);
  });
  test('another revision is unverified and audited, whatever else it says', () => {
    const v = verifyScanReport(report([{ updateId: a.updateId, revision: 2, installed: false }]), catalog);
    expect(v.result.updates).toEqual([]);
    expect(v.result.unverified?.[0]?.reason).toBe('unverified: at revision 2, the catalog has 1');
    expect(v.refusedClaims).toEqual([{ updateId: a.updateId, kb: 'KB5000001', reportedRevision: 2, catalogRevision: 1, fields: [] }]);
  });
});

describe('readImportRows', () => {
  test.each([
    [{ KB: 'kb5034441', Classification: 'Security Update - Critical (High Priority)', 'Approval Status': 'approved' }, { kb: 'KB5034441', classification: 'Security Updates', severity: 'Critical', approval: 'approved' }],
    [{ 'KB Article': '5034441', Category: 'Critical Update', Severity: 'Non-rated' }, { kb: 'KB5034441', classification: 'Critical Updates', severity: 'Unrated', approval: null }],
    [{ KB: 'KB5034441', Classification: 'Update Rollups', 'Release Date': '01/09/2024', Status: 'Pending Approval' }, { classification: 'Update Rollups', releaseDate: '2024-01-09', approval: 'pending_approval' }],
    [{ KB: 'KB12' }, 'KB: "KB12" must look like KB5034441'],
    [{ KB: 'KB5034441', Classification: 'Malware' }, 'Classification: "Malware" is not a Windows Update classification'],
    [{ KB: 'KB5034441', Severity: 'Spicy' }, 'Severity: "Spicy" is not Critical, Important, Moderate, Low or Unrated'],
    [{ KB: 'KB5034441', 'Approval Status': 'Maybe' }, 'Approval Status: "Maybe" is not Approved, Denied or Pending Approval'],
  ])('%j', (record, expected) => {
    const { rows, refused } = readImportRows([record as Record<string, string>]);
    if (typeof expected === 'string') expect(refused).toEqual([{ line: 2, kb: expect.anything(), reason: expected }]);
    else expect(rows[0]).toMatchObject(expected);
  });
});
