/**
 * Renders the Patch Overview Report as it streams: records (from db/report-repository.ts) become
 * group and row events, and each format turns events into text chunks. Every stage is a Transform,
 * so `pipeline()` carries backpressure from the socket (or file) back to the database cursor and
 * nothing holds more than a batch. Chunks are batches (arrays) of records and events, not single
 * rows: a million rows through five object-mode stages one by one cost more than the database.
 * Escaping is the libraries' (csv-stringify, xmlbuilder2, JSON.stringify); HTML uses the
 * five-character escape below.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { stringify as csvStringify } from 'csv-stringify/sync';
import { createCB } from 'xmlbuilder2';
import type { XMLBuilderCB } from 'xmlbuilder2/lib/interfaces';
import {
  exitCodeMeaning, groupCells, groupColumns, groupKey, ReportFormat, ROW_COLUMNS, rowCells, statusLabel,
  type GroupHeader, type ReportGrouping, type PatchOverviewRecord, type PatchOverviewRow,
} from '../domain/patch-overview';
import { ALL_PATCH_STATUSES, type PatchStatus } from '../domain/patch-status';

/** The XML's namespace; reports/patch-overview.xsd is its schema. */
export const PATCH_OVERVIEW_XML_NAMESPACE = 'urn:patchflow:report:patch-overview:1';

/** What the report says about itself, in every format. */
export interface ReportMeta {
  generatedAt: string;
  /** null: all clients */
  clientId: string | null;
  clientName: string;
  groupBy: ReportGrouping;
  statuses: readonly PatchStatus[];
  /** the number of rows that follow */
  rowCount: number;
}

export type ReportEvent =
  | { kind: 'group'; group: GroupHeader }
  | { kind: 'row'; row: PatchOverviewRow; group: GroupHeader };

/** Batches of records → batches of events: a group event whenever the group changes (groups are contiguous), then the row. */
export function toEvents(): Transform {
  let current: string | undefined;
  return new Transform({
    objectMode: true,
    transform(records: PatchOverviewRecord[], _enc, cb) {
      const events: ReportEvent[] = [];
      for (const record of records) {
        const key = groupKey(record.group);
        if (key !== current) {
          current = key;
          events.push({ kind: 'group', group: record.group });
        }
        events.push({ kind: 'row', row: record.row, group: record.group });
      }
      cb(null, events);
    },
  });
}

/** Counts rows as they pass (for progress); `onRows` is called with the running total. */
export function countRows(onRows: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    objectMode: true,
    transform(events: ReportEvent[], _enc, cb) {
      for (const e of events) if (e.kind === 'row') n += 1;
      onRows(n);
      cb(null, events);
    },
  });
}

/** A stage that renders each batch of events into one string chunk. */
abstract class BatchRenderer extends Transform {
  constructor() {
    super({ writableObjectMode: true });
  }

  protected abstract render(event: ReportEvent, out: string[]): void;
  protected abstract finish(out: string[]): void;

  override _transform(events: ReportEvent[], _enc: BufferEncoding, cb: TransformCallback): void {
    const out: string[] = [];
    for (const e of events) this.render(e, out);
    cb(null, out.join(''));
  }

  override _flush(cb: TransformCallback): void {
    const out: string[] = [];
    this.finish(out);
    cb(null, out.join(''));
  }
}

// ---- CSV ----

/**
 * One flat record per (device, patch) under one header line, the group's figures as trailing
 * columns (groupColumns), in group order. Zero rows: the header line alone.
 */
class CsvReport extends Transform {
  private readonly columns: string[];
  private headerWritten = false;

  constructor(meta: ReportMeta) {
    super({ writableObjectMode: true });
    this.columns = [...ROW_COLUMNS.map((c) => c.label), ...groupColumns(meta.groupBy)];
  }

  /** csv-stringify over the batch; the header line with the first batch (or alone, for zero rows). */
  private csv(records: (string | number | null)[][]): string {
    const header = !this.headerWritten;
    this.headerWritten = true;
    return csvStringify(records, { header, columns: this.columns });
  }

  override _transform(events: ReportEvent[], _enc: BufferEncoding, cb: TransformCallback): void {
    const records: (string | number | null)[][] = [];
    for (const e of events) if (e.kind === 'row') records.push([...rowCells(e.row), ...groupCells(e.group)]);
    cb(null, records.length > 0 || !this.headerWritten ? this.csv(records) : '');
  }

  override _flush(cb: TransformCallback): void {
    cb(null, this.headerWritten ? '' : this.csv([]));
  }
}

// ---- XML ----

/** XML 1.0 cannot carry these at all (not even escaped): each becomes U+FFFD. */
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const XML_ILLEGAL = /[^\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const xmlSafe = (s: string) => s.replace(XML_ILLEGAL, '\uFFFD');

class XmlReport extends Transform {
  private readonly xml: XMLBuilderCB;
  private groupOpen = false;
  /** what the builder wrote since the last chunk was pushed */
  private out: string[] = [];

  constructor(meta: ReportMeta) {
    super({ writableObjectMode: true });
    this.xml = createCB({ data: (chunk: string) => { this.out.push(chunk); }, prettyPrint: false });
    this.xml.dec({ version: '1.0', encoding: 'UTF-8' });
    this.xml.ele(PATCH_OVERVIEW_XML_NAMESPACE, 'patchOverviewReport', {
      generatedAt: meta.generatedAt, client: xmlSafe(meta.clientName), ...(meta.clientId ? { clientId: meta.clientId } : {}),
      groupBy: meta.groupBy, rowCount: String(meta.rowCount),
    });
    this.ele('statuses');
    for (const s of meta.statuses) this.leaf('status', s);
    this.xml.up();
    this.pushOut();
  }

  private pushOut(): void {
    if (this.out.length > 0) this.push(this.out.join(''));
    this.out = [];
  }

  private ele(name: string, attributes: Record<string, string> = {}): void {
    const safe = Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, xmlSafe(v)]));
    this.xml.ele(PATCH_OVERVIEW_XML_NAMESPACE, name, safe);
  }

  private leaf(name: string, value: string | number | null, attributes: Record<string, string> = {}): void {
    if (value === null) return;
    this.ele(name, attributes);
    this.xml.txt(xmlSafe(String(value)));
    this.xml.up();
  }

  override _transform(events: ReportEvent[], _enc: BufferEncoding, cb: TransformCallback): void {
    for (const e of events) this.event(e);
    this.pushOut();
    cb();
  }

  private event(event: ReportEvent): void {
    if (event.kind === 'group') {
      if (this.groupOpen) this.xml.up();
      this.groupOpen = true;
      const g = event.group;
      if (g.kind === 'patch') {
        this.ele('patch', { updateId: g.updateId, kb: g.kb, title: g.title, classification: g.classification, product: g.product, severity: g.severity });
        for (const s of ALL_PATCH_STATUSES) this.leaf('count', g.counts[s] ?? 0, { status: s });
      } else {
        this.ele('device', {
          id: g.deviceId, name: g.deviceName, type: g.deviceType, client: g.clientName, site: g.siteName,
          installed: String(g.installed), applicable: String(g.applicable), compliancePercent: String(g.compliancePercent),
        });
      }
    } else {
      const r = event.row;
      this.ele('row');
      this.leaf('client', r.clientName);
      this.leaf('site', r.siteName);
      this.leaf('device', r.deviceName);
      this.leaf('deviceType', r.deviceType);
      this.leaf('kb', r.kb);
      this.leaf('title', r.title);
      this.leaf('classification', r.classification);
      this.leaf('product', r.product);
      this.leaf('severity', r.severity);
      this.leaf('status', r.status);
      this.leaf('installedAt', r.installedAt);
      this.leaf('lastExitCode', r.lastExitCode === null ? null : r.lastExitCode >>> 0);
      this.leaf('exitCodeMeaning', exitCodeMeaning(r.lastExitCode));
      this.leaf('lastError', r.lastError);
      this.leaf('lastScanAt', r.lastScanAt);
      this.xml.up();
    }
  }

  override _flush(cb: TransformCallback): void {
    if (this.groupOpen) this.xml.up();
    this.xml.up();
    this.xml.end();
    this.out.push('\n');
    this.pushOut();
    cb();
  }
}

// ---- HTML ----

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** The five characters that can end a text node or an attribute; everything else is text. */
export function escapeHtml(value: string | number | null | undefined): string {
  return value === null || value === undefined ? '' : String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24}
h1{font-size:20px;margin:0 0 4px}p.meta{color:#57606a;margin:0 0 16px}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
thead th{background:#f6f8fa;position:sticky;top:0}tr.group th{background:#ddf4ff;font-weight:600}
td.status-failed{color:#cf222e;font-weight:600}td.status-missing{color:#9a6700}td.status-installed{color:#1a7f37}
td.empty{color:#57606a;font-style:italic}`;

function groupTitle(g: GroupHeader): string {
  if (g.kind === 'patch') {
    const counts = ALL_PATCH_STATUSES.map((s) => `${statusLabel(s)} ${g.counts[s] ?? 0}`).join(' · ');
    return `${escapeHtml(g.kb)} · ${escapeHtml(g.title)} <small>(${escapeHtml(g.classification)} · ${escapeHtml(g.product)} · ${escapeHtml(g.severity)})</small> — ${escapeHtml(counts)}`;
  }
  return `${escapeHtml(g.deviceName)} <small>(${escapeHtml(g.deviceType)} · ${escapeHtml(g.clientName)} / ${escapeHtml(g.siteName)})</small>`
    + ` — compliance ${escapeHtml(g.compliancePercent)}% (${escapeHtml(g.installed)} of ${escapeHtml(g.applicable)} applicable installed)`;
}

class HtmlReport extends BatchRenderer {
  private groupOpen = false;

  constructor(meta: ReportMeta) {
    super();
    const statuses = meta.statuses.map(statusLabel).join(', ');
    this.push(`<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Patch Overview Report · ${escapeHtml(meta.clientName)}</title>`
      + `<style>${STYLE}</style></head><body>\n<h1>Patch Overview Report</h1>\n`
      + `<p class="meta">Client: ${escapeHtml(meta.clientName)} · grouped by ${escapeHtml(meta.groupBy)} · statuses: ${escapeHtml(statuses)}`
      + ` · ${escapeHtml(meta.rowCount)} rows · generated ${escapeHtml(meta.generatedAt)}</p>\n`
      + `<table><thead><tr>${ROW_COLUMNS.map((c) => `<th>${escapeHtml(c.label)}</th>`).join('')}</tr></thead>\n`);
  }

  protected render(event: ReportEvent, out: string[]): void {
    if (event.kind === 'group') {
      out.push(`${this.groupOpen ? '</tbody>\n' : ''}<tbody><tr class="group"><th colspan="${ROW_COLUMNS.length}">${groupTitle(event.group)}</th></tr>\n`);
      this.groupOpen = true;
      return;
    }
    const cells = rowCells(event.row).map((v, i) =>
      ROW_COLUMNS[i]!.key === 'status' ? `<td class="status-${escapeHtml(event.row.status)}">${escapeHtml(v)}</td>` : `<td>${escapeHtml(v)}</td>`);
    out.push(`<tr>${cells.join('')}</tr>\n`);
  }

  protected finish(out: string[]): void {
    const body = this.groupOpen
      ? '</tbody>\n'
      : `<tbody><tr><td class="empty" colspan="${ROW_COLUMNS.length}">No (device, patch) matches this selection.</td></tr></tbody>\n`;
    out.push(`${body}</table>\n</body></html>\n`);
  }
}

// ---- JSON ----

/**
 * One JSON document, streamed: `{"report": {...}, "groups": [{"patch"|"device": header, "rows": [...]}, ...]}`,
 * a group and each row on a line of their own.
 */
class JsonReport extends BatchRenderer {
  private groups = 0;
  private rowsInGroup = 0;

  constructor(meta: ReportMeta) {
    super();
    const columns = [...ROW_COLUMNS.map((c) => c.key)];
    this.push(`{"report":${JSON.stringify({ title: 'Patch Overview Report', ...meta, columns })},\n"groups":[`);
  }

  protected render(event: ReportEvent, out: string[]): void {
    if (event.kind === 'group') {
      const { kind, ...header } = event.group;
      out.push(`${this.groups++ > 0 ? ']},' : ''}\n{${JSON.stringify(kind)}:${JSON.stringify(header)},"rows":[`);
      this.rowsInGroup = 0;
      return;
    }
    const row = { ...event.row, exitCodeMeaning: exitCodeMeaning(event.row.lastExitCode) };
    out.push(`${this.rowsInGroup++ > 0 ? ',' : ''}\n${JSON.stringify(row)}`);
  }

  protected finish(out: string[]): void {
    out.push(`${this.groups > 0 ? ']}' : ''}\n]}\n`);
  }
}

/** The stages after the records, for a streamed format (csv-offline writes csv). */
export function renderStages(format: Exclude<ReportFormat, 'csv-offline'>, meta: ReportMeta): Transform[] {
  switch (format) {
    case ReportFormat.Csv: return [new CsvReport(meta)];
    case ReportFormat.Xml: return [new XmlReport(meta)];
    case ReportFormat.Html: return [new HtmlReport(meta)];
    case ReportFormat.Json: return [new JsonReport(meta)];
  }
}

export const CONTENT_TYPES: Record<Exclude<ReportFormat, 'csv-offline'>, string> = {
  csv: 'text/csv; charset=utf-8',
  xml: 'application/xml; charset=utf-8',
  html: 'text/html; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

/** "patch-overview-acme-manufacturing-by-patch-2026-03-01.csv": only [a-z0-9-] from the client's name. */
export function reportFileName(meta: Pick<ReportMeta, 'clientName' | 'groupBy' | 'generatedAt'>, extension: string): string {
  const client = meta.clientName.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'client';
  return `patch-overview-${client}-by-${meta.groupBy}-${meta.generatedAt.slice(0, 10)}.${extension}`;
}
