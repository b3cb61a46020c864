/**
 * The Patch Overview Report against the real API, PostgreSQL and Temporal: every format with each
 * grouping on a small seeded fleet, the status and client filters, zero rows, bad input, and
 * "CSV - Offline Mode" end to end (202 → done → download). The fleet is seeded through the real
 * write paths (processScan for the scan, applyPatchStates for what installs wrote).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { validateXML } from 'xmllint-wasm';
import { feedEntryOf } from '../../agent/catalog-feed';
import { applyPatchStates } from '../../db/patch-repository';
import { processScan } from '../../db/scan-repository';
import { signCatalogFeed } from '../../domain/catalog-feed';
import type { ScannedUpdate } from '../../domain/device-protocol';
import { runProcess } from '../run-process';
import { API_KEY, eventually, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

const XSD = fs.readFileSync(path.resolve(__dirname, '../../reports/patch-overview.xsd'), 'utf8');
const TITLE = 'Security Update <script>alert("x")</script> & more';

function update(kb: string, title: string, classification: ScannedUpdate['classification'], severity: ScannedUpdate['severity'], installed = false): ScannedUpdate {
  return {
    updateId: randomUUID(), revision: 1, kb, title, product: 'Windows Server 2022', classification, severity,
    publishedAt: '2024-01-09T00:00:00.000Z', sizeBytes: 1000, sha256: randomBytes(32).toString('hex'),
    downloadUrl: `https://catalog.example/${kb}.msu`, fileName: `${kb.toLowerCase()}.msu`, rebootBehavior: 'can_request',
    installed, securityBulletin: null, installType: 'normal', supersededBy: null, uninstallable: true,
  };
}

/** Unique KBs per run: the run's database is shared with the other test files. */
const kb = () => `KB9${String(Math.floor(Math.random() * 1e6)).padStart(6, '0')}`;

interface Fleet {
  clientA: { id: string; name: string };
  clientB: { id: string; name: string };
  devices: Record<string, string>;
  p1: ScannedUpdate;
  p2: ScannedUpdate;
  p3: ScannedUpdate;
}
let fleet: Fleet;

async function seed(): Promise<Fleet> {
  const suffix = randomUUID().slice(0, 6);
  const a = (await h.api('POST', '/api/v1/clients', { name: `Contoso "<&>" ${suffix}` })).body;
  const b = (await h.api('POST', '/api/v1/clients', { name: `Fabrikam ${suffix}` })).body;
  const hq = (await h.api('POST', `/api/v1/clients/${a.id}/sites`, { name: 'HQ' })).body;
  const branch = (await h.api('POST', `/api/v1/clients/${a.id}/sites`, { name: 'Branch' })).body;
  const bSite = (await h.api('POST', `/api/v1/clients/${b.id}/sites`, { name: 'Main' })).body;
  const devices: Record<string, string> = {};
  for (const [name, siteId, deviceType] of [
    ['A-SRV-01', hq.id, 'server'], ['A-WS-01', hq.id, 'workstation'], ['A-WS-02', branch.id, 'workstation'], ['B-SRV-01', bSite.id, 'server'],
  ] as const) {
    const d = await h.api('POST', '/api/v1/devices', { siteId, name, deviceType });
    expect(d.status).toBe(201);
    devices[name] = d.body.device.id;
  }
  const p1 = update(kb(), TITLE, 'Security Updates', 'Critical');
  const p2 = update(kb(), 'Cumulative Update for Windows', 'Security Updates', 'Important');
  const p3 = update(kb(), 'Update for Windows Defender', 'Updates', 'Unrated');
  // The catalog comes from a signed feed only: publish the three updates as one before the scans.
  const feedId = `report-test-${suffix}`;
  h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, { id: feedId, sequence: 1, publishedAt: new Date().toISOString() }, [p1, p2, p3].map(feedEntryOf)));
  expect((await h.syncCatalog(feedId)).outcome).not.toBe('refused');
  const scan = (updates: ScannedUpdate[]) => ({ bootId: 'boot-1', updates, rebootPending: false, freeDiskBytes: 1e10, scannedAt: '2024-02-01T10:00:00.000Z' });
  await processScan(h.db, devices['A-SRV-01']!, scan([p1, p2, p3]));
  await processScan(h.db, devices['A-WS-01']!, scan([p1, { ...p2, installed: true }, p3]));
  await processScan(h.db, devices['A-WS-02']!, scan([p1, p2]));
  await processScan(h.db, devices['B-SRV-01']!, scan([p1, p2]));
  // What installs (and an Ignore) wrote afterwards.
  await applyPatchStates(h.db, devices['A-SRV-01']!, 'install/test/1', [
    { updateId: p1.updateId, status: 'failed', exitCode: 0x80070643, error: 'installer said <boom> & "quit"', countFailure: true },
    { updateId: p2.updateId, status: 'installed', installedAt: '2024-02-02T03:04:05.000Z', exitCode: 0 },
  ], 'report-seed-1');
  await applyPatchStates(h.db, devices['A-WS-01']!, 'action/test', [{ updateId: p3.updateId, status: 'ignored' }], 'report-seed-2');
  await applyPatchStates(h.db, devices['A-WS-02']!, 'install/test/2', [
    { updateId: p1.updateId, status: 'reboot_required', exitCode: 3010 },
    { updateId: p2.updateId, status: 'pending' },
  ], 'report-seed-3');
  return { clientA: a, clientB: b, devices, p1, p2, p3 };
}

beforeAll(async () => { fleet = await seed(); });

async function getReport(query: Record<string, string>): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await fetch(`${h.server.url}/api/v1/reports/patch-overview?${new URLSearchParams(query)}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

async function validXml(text: string): Promise<void> {
  const result = await validateXML({ xml: [{ fileName: 'report.xml', contents: text }], schema: [{ fileName: 'patch-overview.xsd', contents: XSD }] });
  expect(result.errors).toEqual([]);
  expect(result.valid).toBe(true);
}

describe('CSV', () => {
  test('grouped by patch: one record per (device, patch) in patch order, each with its patch\'s counts per status', async () => {
    const r = await getReport({ clientId: fleet.clientA.id, format: 'csv', groupBy: 'patch' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(r.headers.get('content-disposition')).toMatch(/^attachment; filename="patch-overview-contoso-.*-by-patch-\d{4}-\d{2}-\d{2}\.csv"$/);
    expect(r.headers.get('x-report-rows')).toBe('8');
    const rows = parseCsv(r.text, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(8);
    // Patches in KB order, devices by site then name inside each.
    const sorted = [fleet.p1, fleet.p2, fleet.p3].sort((x, y) => x.kb.localeCompare(y.kb));
    expect([...new Set(rows.map((x) => x.KB))]).toEqual(sorted.map((p) => p.kb));
    const failed = rows.find((x) => x.Device === 'A-SRV-01' && x.KB === fleet.p1.kb)!;
    expect(failed).toMatchObject({
      Client: fleet.clientA.name, Site: 'HQ', 'Device Type': 'server', Title: TITLE, Classification: 'Security Updates',
      Product: 'Windows Server 2022', Severity: 'Critical', Status: 'Failed', 'Install Date': '', 'Last Exit Code': '0x80070643',
      'Exit Code Meaning': 'ERROR_INSTALL_FAILURE (HRESULT): Fatal error during installation.', 'Last Error': 'installer said <boom> & "quit"',
      'Last Scan': '2024-02-01T10:00:00.000Z',
      'Patch Missing': '1', 'Patch Failed': '1', 'Patch Reboot Required': '1', 'Patch Installed': '0', 'Patch Pending': '0',
    });
    const installed = rows.find((x) => x.Device === 'A-SRV-01' && x.KB === fleet.p2.kb)!;
    expect(installed).toMatchObject({ Status: 'Installed', 'Install Date': '2024-02-02T03:04:05.000Z', 'Last Exit Code': '0', 'Patch Installed': '2', 'Patch Pending': '1' });
    // Installed by someone else: Installed without an install date.
    expect(rows.find((x) => x.Device === 'A-WS-01' && x.KB === fleet.p2.kb)).toMatchObject({ Status: 'Installed', 'Install Date': '' });
    expect(rows.find((x) => x.Device === 'A-WS-02' && x.KB === fleet.p1.kb)).toMatchObject({ Status: 'Reboot Required', 'Last Exit Code': '3010' });
    expect(rows.some((x) => x.Client !== fleet.clientA.name)).toBe(false);
  });

  test('grouped by device: devices in client, site, name order, each with its compliance', async () => {
    const r = await getReport({ clientId: fleet.clientA.id, format: 'csv', groupBy: 'device' });
    const rows = parseCsv(r.text, { columns: true }) as Record<string, string>[];
    expect([...new Set(rows.map((x) => `${x.Site}/${x.Device}`))]).toEqual(['Branch/A-WS-02', 'HQ/A-SRV-01', 'HQ/A-WS-01']);
    const byDevice = (name: string) => rows.find((x) => x.Device === name)!;
    expect(byDevice('A-SRV-01')).toMatchObject({ 'Device Installed': '1', 'Device Applicable': '3', 'Device Compliance %': '33.3' });
    // The ignored patch is not applicable.
    expect(byDevice('A-WS-01')).toMatchObject({ 'Device Installed': '1', 'Device Applicable': '2', 'Device Compliance %': '50' });
    expect(byDevice('A-WS-02')).toMatchObject({ 'Device Installed': '0', 'Device Applicable': '2', 'Device Compliance %': '0' });
  });

  test('the status filter shows only those statuses; the group figures still count every status', async () => {
    const r = await getReport({ clientId: fleet.clientA.id, format: 'csv', groupBy: 'patch', status: 'failed,Missing' });
    const rows = parseCsv(r.text, { columns: true }) as Record<string, string>[];
    expect(rows.map((x) => `${x.Device} ${x.KB} ${x.Status}`).sort()).toEqual([
      `A-SRV-01 ${fleet.p1.kb} Failed`, `A-SRV-01 ${fleet.p3.kb} Missing`, `A-WS-01 ${fleet.p1.kb} Missing`,
    ].sort());
    expect(rows.find((x) => x.KB === fleet.p1.kb)).toMatchObject({ 'Patch Reboot Required': '1', 'Patch Failed': '1', 'Patch Missing': '1' });
    // The parameter repeated, and the label spelling, mean the same.
    const repeated = await fetch(`${h.server.url}/api/v1/reports/patch-overview?clientId=${fleet.clientA.id}&status=reboot%20required&status=pending`, { headers: { authorization: `Bearer ${API_KEY}` } });
    const again = parseCsv(await repeated.text(), { columns: true }) as Record<string, string>[];
    expect(again.map((x) => x.Status).sort()).toEqual(['Pending', 'Reboot Required']);
  });

  test('all clients: both clients\' rows are in it', async () => {
    const r = await getReport({ format: 'csv', groupBy: 'device', status: 'missing,failed,installed,pending,reboot_required,ignored' });
    const rows = parseCsv(r.text, { columns: true }) as Record<string, string>[];
    expect(rows.filter((x) => x.Client === fleet.clientA.name)).toHaveLength(8);
    expect(rows.filter((x) => x.Client === fleet.clientB.name)).toHaveLength(2);
    expect(Number(r.headers.get('x-report-rows'))).toBe(rows.length);
  });
});

describe('XML', () => {
  test.each(['patch', 'device'])('grouped by %s: valid against the published XSD, with every row', async (groupBy) => {
    const r = await getReport({ clientId: fleet.clientA.id, format: 'xml', groupBy });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/xml/);
    await validXml(r.text);
    expect(r.text.match(/<row>/g)).toHaveLength(8);
    // In text, < and & are escaped (quotes need not be); in an attribute, quotes too.
    expect(r.text).toContain('<title>Security Update &lt;script&gt;alert("x")&lt;/script&gt; &amp; more</title>');
    if (groupBy === 'patch') {
      expect(r.text).toContain('title="Security Update &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more"');
      expect(r.text.match(/<patch /g)).toHaveLength(3);
      expect(r.text).toContain('<count status="failed">1</count>');
      expect(r.text).toContain('<lastExitCode>2147944003</lastExitCode>');
    } else {
      expect(r.text.match(/<device id=/g)).toHaveLength(3);
      expect(r.text).toMatch(/name="A-SRV-01"[^>]* installed="1" applicable="3" compliancePercent="33.3"/);
    }
  });
});

describe('HTML', () => {
  test.each(['patch', 'device'])('grouped by %s: a self-contained page with every value escaped', async (groupBy) => {
    const r = await getReport({ clientId: fleet.clientA.id, format: 'html', groupBy });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(r.text).toMatch(/^<!doctype html>/);
    expect(r.text).toContain('</html>');
    // The title and the client's name carry <&>": escaped wherever they appear, never markup.
    expect(r.text).not.toContain('<script>');
    expect(r.text).toContain('Security Update &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more');
    expect(r.text).toContain('Contoso &quot;&lt;&amp;&gt;&quot;');
    expect(r.text).not.toContain('Contoso "<&>"');
    expect(r.text).toContain('installer said &lt;boom&gt; &amp; &quot;quit&quot;');
    expect(r.text.match(/<tr class="group">/g)).toHaveLength(3);
    expect(r.text.match(/<tr><td/g)).toHaveLength(8);
    expect(r.text).not.toMatch(/<(link|script|img)\b/);
    if (groupBy === 'device') expect(r.text).toContain('compliance 33.3% (1 of 3 applicable installed)');
    else expect(r.text).toContain('Failed 1');
  });
});

describe('JSON', () => {
  test.each(['patch', 'device'])('grouped by %s: one document with the report, its groups and their rows', async (groupBy) => {
    const r = await getReport({ clientId: fleet.clientA.id, format: 'json', groupBy });
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = JSON.parse(r.text);
    expect(doc.report).toMatchObject({ clientId: fleet.clientA.id, clientName: fleet.clientA.name, groupBy, rowCount: 8 });
    expect(doc.groups).toHaveLength(3);
    expect(doc.groups.flatMap((g: any) => g.rows)).toHaveLength(8);
    expect(Object.keys(doc.groups[0])).toEqual([groupBy, 'rows']);
    const failed = doc.groups.flatMap((g: any) => g.rows).find((x: any) => x.status === 'failed');
    expect(failed).toMatchObject({ deviceName: 'A-SRV-01', kb: fleet.p1.kb, title: TITLE, lastExitCode: 0x80070643, exitCodeMeaning: expect.stringContaining('ERROR_INSTALL_FAILURE') });
    if (groupBy === 'patch') expect(doc.groups.find((g: any) => g.patch.kb === fleet.p1.kb).patch.counts).toMatchObject({ failed: 1, missing: 1, reboot_required: 1 });
    else expect(doc.groups.find((g: any) => g.device.deviceName === 'A-WS-01').device).toMatchObject({ installed: 1, applicable: 2, compliancePercent: 50 });
  });
});

test('zero rows is a valid empty report with its headers, in every format', async () => {
  const empty = (await h.api('POST', '/api/v1/clients', { name: `Empty ${randomUUID().slice(0, 6)}` })).body;
  for (const groupBy of ['patch', 'device']) {
    const csv = await getReport({ clientId: empty.id, format: 'csv', groupBy });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('x-report-rows')).toBe('0');
    const lines = csv.text.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Client,Site,Device,Device Type,KB,Title,/);
    expect(parseCsv(csv.text, { columns: true })).toEqual([]);

    const xml = await getReport({ clientId: empty.id, format: 'xml', groupBy });
    await validXml(xml.text);
    expect(xml.text).toContain('rowCount="0"');

    const html = await getReport({ clientId: empty.id, format: 'html', groupBy });
    expect(html.text).toContain('<thead><tr><th>Client</th>');
    expect(html.text).toContain('No (device, patch) matches this selection.');

    const json = JSON.parse((await getReport({ clientId: empty.id, format: 'json', groupBy })).text);
    expect(json.groups).toEqual([]);
    expect(json.report.columns).toContain('kb');
  }
  // A status filter that matches nothing, too.
  const none = await getReport({ clientId: fleet.clientB.id, format: 'csv', status: 'installed' });
  expect(parseCsv(none.text, { columns: true })).toEqual([]);
});

test('bad input gets a 400 that names it, and nothing is written', async () => {
  const reportAudit = async () => (await h.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action LIKE 'report.%'`)).rows[0].n;
  const auditBefore = await reportAudit();
  const reportsBefore = (await h.db.query('SELECT count(*)::int AS n FROM reports')).rows[0].n;
  const cases: [Record<string, string>, RegExp][] = [
    [{ clientId: randomUUID() }, /^query\.clientId: no client [0-9a-f-]{36}$/],
    [{ clientId: 'Contoso' }, /^query\.clientId: must be a client id/],
    [{ format: 'pdf' }, /^query\.format: unknown format "pdf" \(one of html, csv, csv-offline, xml, json\)$/],
    [{ groupBy: 'site' }, /^query\.groupBy: unknown grouping "site"/],
    [{ status: 'failed,broken' }, /^query\.status: unknown status "broken"/],
    [{ grouping: 'patch' }, /grouping/],
  ];
  for (const [query, message] of cases) {
    const r = await getReport(query);
    expect({ query, status: r.status }).toEqual({ query, status: 400 });
    expect(JSON.parse(r.text).error).toMatch(message);
  }
  // An unknown offline client is refused before anything is recorded or started.
  const offline = await getReport({ clientId: randomUUID(), format: 'csv-offline' });
  expect(offline.status).toBe(400);
  expect((await h.db.query('SELECT count(*)::int AS n FROM reports')).rows[0].n).toBe(reportsBefore);
  expect(await reportAudit()).toBe(auditBefore);
  expect((await h.api('GET', `/api/v1/reports/${randomUUID()}`)).status).toBe(404);
  expect((await h.api('GET', '/api/v1/reports/not-a-uuid')).status).toBe(400);
});

test('CSV - Offline Mode: 202 with a Location, a report/<id> workflow, then the file to download', async () => {
  const streamed = parseCsv((await getReport({ clientId: fleet.clientA.id, format: 'csv', groupBy: 'device' })).text, { columns: true });
  const r = await getReport({ clientId: fleet.clientA.id, format: 'csv-offline', groupBy: 'device' });
  expect(r.status).toBe(202);
  const started = JSON.parse(r.text);
  expect(r.headers.get('location')).toBe(`/api/v1/reports/${started.id}`);
  expect(started).toMatchObject({ state: 'running', workflowId: `report/${started.id}`, download: null });

  const done = await eventually(async () => {
    const v = await h.api('GET', `/api/v1/reports/${started.id}`);
    return v.body.state === 'running' ? undefined : v.body;
  }, 60_000, 'the offline report');
  expect(done).toMatchObject({ state: 'done', rowsTotal: 8, rowsWritten: 8, percent: 100, download: `/api/v1/reports/${started.id}/download` });
  expect(done.fileName).toMatch(/^patch-overview-contoso-.*-by-device-\d{4}-\d{2}-\d{2}\.csv$/);

  const file = await fetch(`${h.server.url}${done.download}`, { headers: { authorization: `Bearer ${API_KEY}` } });
  expect(file.status).toBe(200);
  expect(file.headers.get('content-disposition')).toBe(`attachment; filename="${done.fileName}"`);
  const text = await file.text();
  expect(Number(file.headers.get('content-length'))).toBe(Buffer.byteLength(text));
  expect(done.bytesWritten).toBe(Buffer.byteLength(text));
  expect(parseCsv(text, { columns: true })).toEqual(streamed);

  const list = await h.api('GET', '/api/v1/reports');
  expect(list.body.reports.find((x: any) => x.id === started.id)).toMatchObject({ state: 'done' });
  const history = await h.client.workflow.getHandle(`report/${started.id}`).describe();
  expect(history.status.name).toBe('COMPLETED');
  const audit = await h.db.query(`SELECT action FROM audit_log WHERE subject = $1 ORDER BY id`, [started.id]);
  expect(audit.rows.map((x) => x.action)).toEqual(['report.requested', 'report.completed']);
  await maybeRecordHistory(h.client, `report/${started.id}`, 'patchOverviewReportWorkflow-offline-csv');
});

test('a running offline report cannot be downloaded yet (409), and an unknown one is 404', async () => {
  // A report row with no worker behind it stays running: its file is refused with the progress.
  const row = await h.db.query(`INSERT INTO reports (id, kind, format, parameters, state, requested_by, rows_total, rows_written)
    VALUES ($1, 'patch_overview', 'csv', '{}', 'running', 'test', 10, 4) RETURNING id`, [randomUUID()]);
  const r = await h.api('GET', `/api/v1/reports/${row.rows[0].id}/download`);
  expect(r.status).toBe(409);
  expect(r.body.error).toMatch(/still being written \(4 of 10 rows\)/);
  expect((await h.api('GET', `/api/v1/reports/${randomUUID()}/download`)).status).toBe(404);
});

describe('the CLI against the real server', () => {
  const ROOT = path.resolve(__dirname, '../..');
  const cli = (args: string[]) => runProcess(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: ROOT, env: { ...process.env, PATCHFLOW_API_URL: h.server.url, PATCHFLOW_API_KEY: API_KEY },
  });

  test('report patch-overview --client <name> --format csv --group-by patch --status failed,missing streams the CSV to stdout', async () => {
    const r = await cli(['report', 'patch-overview', '--client', fleet.clientA.name, '--format', 'csv', '--group-by', 'patch', '--status', 'failed,missing']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const viaApi = (await getReport({ clientId: fleet.clientA.id, format: 'csv', groupBy: 'patch', status: 'failed,missing' })).text;
    const rows = parseCsv(r.stdout, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(3);
    expect(rows).toEqual(parseCsv(viaApi, { columns: true }));
  });

  test('--offline starts the report workflow, waits for it and downloads the file', async () => {
    const r = await cli(['report', 'patch-overview', '--client', fleet.clientB.id, '--offline', '--group-by', 'device']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/offline report started: report\/[0-9a-f-]{36}/);
    const rows = parseCsv(r.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((x) => `${x.Device} ${x.Status}`)).toEqual(['B-SRV-01 Missing', 'B-SRV-01 Missing']);
    const list = await cli(['--json', 'report', 'list']);
    expect(JSON.parse(list.stdout).some((x: any) => x.parameters.clientId === fleet.clientB.id && x.state === 'done')).toBe(true);
  });

  test('a bad option is an error on stderr and exit 1, before any call', async () => {
    const unknownClient = await cli(['report', 'patch-overview', '--client', 'No Such Client']);
    expect(unknownClient.code).toBe(1);
    expect(unknownClient.stdout).toBe('');
    expect(unknownClient.stderr).toMatch(/^error: --client: no client named "No Such Client"/);
    const badStatus = await cli(['report', 'patch-overview', '--status', 'failed,broken']);
    expect(badStatus.code).toBe(1);
    expect(badStatus.stderr).toMatch(/^error: --status: unknown status "broken"/);
  });

  test('audit --device lists that device\'s entries', async () => {
    const r = await cli(['--json', 'audit', '--device', fleet.devices['A-SRV-01']!, '--limit', '10']);
    expect(r.code).toBe(0);
    const entries = JSON.parse(r.stdout);
    expect(entries.length).toBeGreaterThan(0);
    expect(entries.every((e: any) => e.deviceId === fleet.devices['A-SRV-01'])).toBe(true);
    expect(entries.map((e: any) => e.action)).toContain('device.created');
  });
});
