import { markerCounter, reportQuery, resolveClient } from '../../cli/report';
import { UsageError } from '../../cli/format';

const clients = [
  { id: '11111111-1111-4111-8111-111111111111', name: 'Contoso', createdAt: '' },
  { id: '22222222-2222-4222-8222-222222222222', name: 'Twin', createdAt: '' },
  { id: '33333333-3333-4333-8333-333333333333', name: 'twin', createdAt: '' },
];

test('--client takes an id as given, or the one client of that name in any case', () => {
  expect(resolveClient(clients, 'contoso')).toBe(clients[0]!.id);
  expect(resolveClient([], '44444444-4444-4444-8444-44444444444A')).toBe('44444444-4444-4444-8444-44444444444a');
  expect(() => resolveClient(clients, 'Twin')).toThrow(/names 2 clients/);
  expect(() => resolveClient(clients, 'Nobody')).toThrow(UsageError);
});

test.each([
  [{ format: 'csv', groupBy: 'patch', status: 'failed,Missing' }, { format: 'csv', groupBy: 'patch', status: 'failed,missing' }],
  [{ format: 'CSV', groupBy: 'device', offline: true }, { format: 'csv-offline', groupBy: 'device', status: undefined }],
  [{ format: 'xml', groupBy: 'patch', status: 'reboot required' }, { format: 'xml', status: 'reboot_required' }],
])('options %j → query %j', (options, expected) => {
  expect(reportQuery(options, undefined)).toMatchObject(expected);
});

test.each([
  [{ format: 'pdf', groupBy: 'patch' }, /--format: unknown format "pdf"/],
  [{ format: 'csv', groupBy: 'site' }, /--group-by: unknown grouping "site"/],
  [{ format: 'csv', groupBy: 'patch', status: 'broken' }, /--status: unknown status "broken"/],
  [{ format: 'xml', groupBy: 'patch', offline: true }, /--offline writes CSV only/],
])('options %j are refused', (options, message) => {
  expect(() => reportQuery(options, undefined)).toThrow(message);
});

test('row markers are counted across chunk boundaries, each once', () => {
  const count = markerCounter('</row>');
  expect(['<row>a</ro', 'w><row>b</row', '>', '</row></row>'].map(count)).toEqual([0, 1, 1, 2]);
  const lines = markerCounter('\n');
  expect(['a\nb', '\n\n', 'c'].map(lines)).toEqual([1, 2, 0]);
});
