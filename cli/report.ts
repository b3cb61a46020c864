/**
 * `patchflow report …`: the Patch Overview Report streamed to stdout as it arrives (backpressure:
 * the next chunk is read only once stdout took the last one), with a progress bar on stderr when
 * stderr is a terminal; `--offline` starts the report workflow, follows its progress and downloads
 * the file when it is done.
 */
import { once } from 'node:events';
import cliProgress from 'cli-progress';
import type { ReportView } from '../api/report-service';
import type { ClientRow } from '../db/fleet-repository';
import { ALL_REPORT_FORMATS, ALL_REPORT_GROUPINGS, parseStatusList } from '../domain/patch-overview';
import { ALL_PATCH_STATUSES } from '../domain/patch-status';
import type { PatchflowApi } from './api-client';
import { UsageError } from './format';

export interface ReportOptions {
  client?: string;
  format: string;
  groupBy: string;
  status?: string;
  offline?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client id as given, or the id of the one client with this name (case-insensitive). */
export function resolveClient(clients: readonly ClientRow[], given: string): string {
  if (UUID.test(given)) return given.toLowerCase();
  const matches = clients.filter((c) => c.name.toLowerCase() === given.trim().toLowerCase());
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length > 1) throw new UsageError(`--client "${given}" names ${matches.length} clients: give the id (${matches.map((c) => c.id).join(', ')})`);
  throw new UsageError(`--client: no client named "${given}" (patchflow clients list shows them)`);
}

/** Checks the options before any call: a wrong one is a usage error naming it. */
export function reportQuery(o: ReportOptions, clientId: string | undefined): Record<string, string | undefined> {
  const format = o.offline ? 'csv-offline' : o.format.toLowerCase();
  if (o.offline && o.format.toLowerCase() !== 'csv') throw new UsageError('--offline writes CSV only (drop --format or use --format csv)');
  if (!(ALL_REPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format: unknown format "${o.format}" (one of ${ALL_REPORT_FORMATS.join(', ')})`);
  if (!(ALL_REPORT_GROUPINGS as readonly string[]).includes(o.groupBy)) throw new UsageError(`--group-by: unknown grouping "${o.groupBy}" (one of ${ALL_REPORT_GROUPINGS.join(', ')})`);
  let status: string | undefined;
  if (o.status !== undefined) {
    const parsed = parseStatusList([o.status]);
    if ('unknown' in parsed) throw new UsageError(`--status: unknown status ${parsed.unknown.map((u) => `"${u}"`).join(', ')} (any of ${ALL_PATCH_STATUSES.join(', ')})`);
    status = parsed.statuses.join(',');
  }
  return { clientId, format, groupBy: o.groupBy, status };
}

/** What marks the end of a row in each format, to move the bar while the body streams (approximate: a CSV field may hold a newline). */
const ROW_MARKER: Record<string, string> = { csv: '\n', json: '\n', xml: '</row>', html: '</tr>\n' };

/** Counts a marker across chunk boundaries. */
export function markerCounter(marker: string): (chunk: string) => number {
  let tail = '';
  return (chunk) => {
    const text = tail + chunk;
    let n = 0;
    for (let i = text.indexOf(marker); i !== -1; i = text.indexOf(marker, i + marker.length)) n += 1;
    // The last marker.length - 1 characters may begin a marker that the next chunk completes
    // (none of the markers overlaps itself, so nothing is counted twice).
    tail = text.slice(Math.max(0, text.length - marker.length + 1));
    return n;
  };
}

function progressBar(label: string): cliProgress.SingleBar | undefined {
  if (!process.stderr.isTTY) return undefined;
  return new cliProgress.SingleBar({
    stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} rows | {duration_formatted}`, hideCursor: true, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
}

/** Writes the body to stdout, waiting for stdout to drain (a slow pipe slows the download, never fills memory). */
async function copyToStdout(res: Response, onChunk: (chunk: Uint8Array) => void): Promise<void> {
  if (!res.body) return;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    onChunk(chunk);
    if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
  }
}

export async function runPatchOverviewReport(api: PatchflowApi, o: ReportOptions, warn: (text: string) => void): Promise<void> {
  const clientId = o.client === undefined ? undefined : resolveClient(UUID.test(o.client) ? [] : await api.listClients(), o.client);
  const query = reportQuery(o, clientId);
  if (query.format === 'csv-offline') {
    await runOffline(api, query, warn);
    return;
  }
  const res = await api.stream('/reports/patch-overview', query);
  const total = Number(res.headers.get('x-report-rows') ?? 0);
  const bar = progressBar('patch-overview');
  bar?.start(total, 0);
  const count = markerCounter(ROW_MARKER[query.format!]!);
  const decoder = new TextDecoder();
  // CSV and JSON have one line before the first row (the header, the report's own fields).
  let seen = query.format === 'csv' || query.format === 'json' ? -1 : 0;
  try {
    await copyToStdout(res, (chunk) => {
      if (!bar) return;
      seen += count(decoder.decode(chunk, { stream: true }));
      bar.update(Math.max(0, Math.min(seen, total)));
    });
    bar?.update(total);
  } finally {
    bar?.stop();
  }
}

async function runOffline(api: PatchflowApi, query: Record<string, string | undefined>, warn: (text: string) => void): Promise<void> {
  const started = await api.get<ReportView>('/reports/patch-overview', query);
  warn(`offline report started: ${started.workflowId} (${started.location})`);
  const bar = progressBar('writing');
  let view = started;
  bar?.start(1, 0);
  try {
    while (view.state === 'running') {
      await sleep(1000);
      view = await api.get<ReportView>(`/reports/${started.id}`);
      if (view.rowsTotal !== null) bar?.setTotal(Math.max(1, view.rowsTotal));
      bar?.update(view.rowsWritten);
    }
  } finally {
    bar?.stop();
  }
  if (view.state === 'failed') throw new UsageError(`the offline report failed: ${view.error ?? 'no reason recorded'}`);
  warn(`done: ${view.rowsWritten} rows; downloading ${view.fileName}`);
  await copyToStdout(await api.stream(`/reports/${started.id}/download`), () => undefined);
}
