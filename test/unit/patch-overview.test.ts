import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import {
  compliancePercent, exitCodeMeaning, groupColumns, parseStatusList, rowCells, statusLabel, type PatchOverviewRecord,
} from '../../domain/patch-overview';
import { ALL_PATCH_STATUSES } from '../../domain/patch-status';
import { escapeHtml, renderStages, reportFileName, toEvents, type ReportMeta } from '../../reports/patch-overview-render';

describe('the statuses asked for', () => {
  test.each([
    [[], { statuses: [...ALL_PATCH_STATUSES] }],
    [['failed,missing'], { statuses: ['failed', 'missing'] }],
    [['Reboot Required', 'reboot-required', 'PENDING'], { statuses: ['reboot_required', 'pending'] }],
    [[' failed , ,installed'], { statuses: ['failed', 'installed'] }],
    [['failed,broken', 'nope'], { unknown: ['broken', 'nope'] }],
  ])('%j → %j', (input, expected) => {
    expect(parseStatusList(input)).toEqual(expected);
  });
});

test.each([
  [0, 0, 100], [1, 3, 33.3], [2, 3, 66.7], [3, 3, 100], [0, 5, 0],
])('compliance %d of %d is %d%%', (installed, applicable, percent) => {
  expect(compliancePercent(installed, applicable)).toBe(percent);
});

test('labels and exit code meanings come from the domain tables', () => {
  expect(statusLabel('reboot_required')).toBe('Reboot Required');
  expect(exitCodeMeaning(null)).toBeNull();
  expect(exitCodeMeaning(0x800f081f)).toBe('CBS_E_SOURCE_MISSING: The source files could not be found. Repair the component store (DISM /Online /Cleanup-Image /RestoreHealth) and retry.');
  expect(exitCodeMeaning(12345)).toMatch(/^UNKNOWN: .*12345/);
  expect(groupColumns('device')).toEqual(['Device Installed', 'Device Applicable', 'Device Compliance %']);
  expect(groupColumns('patch')).toHaveLength(ALL_PATCH_STATUSES.length);
});

test.each([
  ['<script>"a" & \'b\'</script>', '&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;'],
  ['plain', 'plain'], [null, ''], [42, '42'],
])('escapeHtml(%j)', (input, expected) => {
  expect(escapeHtml(input)).toBe(expected);
});

test('a file name keeps only [a-z0-9-] of the client name', () => {
  expect(reportFileName({ clientName: 'Contoso "<&>" / ../etc', groupBy: 'patch', generatedAt: '2024-03-01T00:00:00Z' }, 'csv'))
    .toBe('patch-overview-contoso-etc-by-patch-2024-03-01.csv');
});

const record = (deviceId: string, updateId: string, title: string): PatchOverviewRecord => {
  const row = {
    clientId: 'c', clientName: 'Acme', siteName: 'HQ', deviceId, deviceName: deviceId.toUpperCase(), deviceType: 'server',
    updateId, kb: `KB${updateId}`, title, classification: 'Security Updates', product: 'Windows', severity: 'Critical',
    status: 'missing' as const, installedAt: null, lastExitCode: 0x80070643, lastError: 'line one\nline "two"', lastScanAt: null,
  };
  const counts = Object.fromEntries(ALL_PATCH_STATUSES.map((s) => [s, s === 'missing' ? 2 : 0])) as Record<(typeof ALL_PATCH_STATUSES)[number], number>;
  return { row, group: { kind: 'patch', updateId, kb: row.kb, title, classification: row.classification, product: row.product, severity: row.severity, counts } };
};

async function render(format: 'csv' | 'html' | 'json' | 'xml', records: PatchOverviewRecord[]): Promise<string> {
  const meta: ReportMeta = { generatedAt: '2024-03-01T00:00:00.000Z', clientId: null, clientName: 'All clients', groupBy: 'patch', statuses: ['missing'], rowCount: records.length };
  let out = '';
  // Records arrive in batches, as the repository hands them on; two batches here.
  const batches = [records.slice(0, 1), records.slice(1)].filter((b) => b.length > 0);
  await pipeline(Readable.from(batches), toEvents(), ...renderStages(format, meta), new Writable({ write(chunk, _enc, cb) { out += chunk; cb(); } }));
  return out;
}

test('rows of one group share one header; a new key starts the next', async () => {
  const records = [record('d1', '1', 'A'), record('d2', '1', 'A'), record('d1', '2', 'B <b>')];
  const json = JSON.parse(await render('json', records));
  expect(json.groups.map((g: any) => [g.patch.kb, g.rows.map((r: any) => r.deviceId)])).toEqual([['KB1', ['d1', 'd2']], ['KB2', ['d1']]]);
  const html = await render('html', records);
  expect(html.match(/<tr class="group">/g)).toHaveLength(2);
  expect(html).toContain('B &lt;b&gt;');
  // A newline and quotes inside a field stay inside one quoted CSV field.
  const csv = await render('csv', records);
  expect(csv).toContain('"line one\nline ""two"""');
  expect(rowCells(records[0]!.row)[11]).toBe('0x80070643');
});

test('characters XML cannot carry become U+FFFD, so the document stays well-formed', async () => {
  const xml = await render('xml', [record('d1', '1', 'bad \u0001 char \uD800 here')]);
  expect(xml).toContain('<title>bad \uFFFD char \uFFFD here</title>');
});
