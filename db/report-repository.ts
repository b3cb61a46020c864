import { randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { types } from 'pg';
import QueryStream from 'pg-query-stream';
import {
  COMPLIANT_STATUSES, compliancePercent, NOT_APPLICABLE_STATUSES, ReportGrouping,
  type GroupHeader, type PatchOverviewFilter, type PatchOverviewRecord,
} from '../domain/patch-overview';
import { ALL_PATCH_STATUSES, type PatchStatus } from '../domain/patch-status';
import { appendAudit } from './audit-repository';
import { withTransaction, type Db, type Queryable } from './database';

/**
 * The rows of the report, as device_patches holds each (device, patch) status (retired devices left
 * out), with the group's figures computed by a window over the whole group, before the status
 * filter: a patch's counts and a device's compliance cover every status, whatever is shown.
 * The window's partition and order are the report's order, so PostgreSQL sorts once and the
 * rows leave in group order for the stream.
 */
export function patchOverviewQuery(filter: PatchOverviewFilter): { text: string; values: unknown[] } {
  const byPatch = filter.groupBy === ReportGrouping.Patch;
  const values: unknown[] = [filter.clientId ?? null, [...filter.statuses]];
  let figures: string;
  if (byPatch) {
    values.push([...ALL_PATCH_STATUSES]);
    figures = ALL_PATCH_STATUSES.map((_, i) => `count(*) FILTER (WHERE dp.status = ($3::text[])[${i + 1}]) OVER g AS n_${i}`).join(',\n           ');
  } else {
    values.push([...COMPLIANT_STATUSES], [...NOT_APPLICABLE_STATUSES]);
    figures = `count(*) FILTER (WHERE dp.status = ANY($3::text[])) OVER g AS installed,
           count(*) FILTER (WHERE NOT (dp.status = ANY($4::text[]))) OVER g AS applicable`;
  }
  const device = 'c.name, s.name, d.name, d.id';
  const patch = 'p.kb, p.update_id';
  const window = byPatch
    ? `PARTITION BY ${patch} ORDER BY ${device}`
    : `PARTITION BY ${device} ORDER BY ${patch}`;
  const order = byPatch
    ? 'r.kb, r.update_id, r.client_name, r.site_name, r.device_name, r.device_id'
    : 'r.client_name, r.site_name, r.device_name, r.device_id, r.kb, r.update_id';
  const text = `
    SELECT * FROM (
      SELECT c.id AS client_id, c.name AS client_name, s.name AS site_name, d.id AS device_id, d.name AS device_name,
             d.device_type, p.update_id, p.kb, p.title, p.classification, p.product, p.severity, dp.status,
             dp.installed_at, dp.last_exit_code, dp.last_error, ds.last_scanned_at,
             ${figures}
      FROM device_patches dp
      JOIN devices d ON d.id = dp.device_id AND d.retired_at IS NULL
      JOIN sites s ON s.id = d.site_id
      JOIN clients c ON c.id = s.client_id
      JOIN patches p ON p.update_id = dp.update_id
      LEFT JOIN device_scans ds ON ds.device_id = d.id
      WHERE ($1::uuid IS NULL OR s.client_id = $1::uuid)
      WINDOW g AS (${window} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ) r
    WHERE r.status = ANY($2::text[])
    ORDER BY ${order}`;
  return { text, values };
}

/** How many rows the report has (the same filter, without the figures). */
async function countPatchOverview(db: Queryable, filter: PatchOverviewFilter): Promise<number> {
  const { rows } = await db.query(
    `SELECT count(*)::bigint AS n FROM device_patches dp
     JOIN devices d ON d.id = dp.device_id AND d.retired_at IS NULL
     JOIN sites s ON s.id = d.site_id
     WHERE ($1::uuid IS NULL OR s.client_id = $1::uuid) AND dp.status = ANY($2::text[])`,
    [filter.clientId ?? null, [...filter.statuses]],
  );
  return Number(rows[0].n);
}

const iso = (v: Date | null): string | null => (v ? v.toISOString() : null);

const TIMESTAMPTZ_OID = 1184;
const defaultTimestamptz = types.getTypeParser(TIMESTAMPTZ_OID, 'text');
const PG_UTC = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/;

/**
 * timestamptz as the ISO string the report prints, straight from PostgreSQL's text (the session is
 * UTC, DateStyle ISO): a million Date objects cost more than the rest of a row. Anything unusual
 * (BC, beyond year 9999) goes through pg's own parser.
 */
export function isoFromPgTimestamptz(text: string): string {
  const m = PG_UTC.exec(text);
  if (!m) return (defaultTimestamptz(text) as Date).toISOString();
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

const REPORT_TYPES = {
  getTypeParser: (oid: number, format?: 'text' | 'binary') =>
    (oid === TIMESTAMPTZ_OID ? isoFromPgTimestamptz : types.getTypeParser(oid, format ?? 'text')),
};

/**
 * Rows are read and handed on in batches of this many: small enough that a batch dies young (1,000
 * measured a 220 MB heap and a third slower; 200, 60 MB), large enough to amortise each stage.
 */
const BATCH_ROWS = 200;

/** Maps rows to records; consecutive rows of one group share one header object. */
function recordMapper(groupBy: ReportGrouping): (r: Record<string, any>) => PatchOverviewRecord {
  let last: GroupHeader | undefined;
  let lastKey: string | undefined;
  return (r) => {
    const key = groupBy === ReportGrouping.Patch ? r.update_id : r.device_id;
    const record = toRecord(r, groupBy, key === lastKey ? last : undefined);
    last = record.group;
    lastKey = key;
    return record;
  };
}

function toRecord(r: Record<string, any>, groupBy: ReportGrouping, sameGroup: GroupHeader | undefined): PatchOverviewRecord {
  const row = {
    clientId: r.client_id, clientName: r.client_name, siteName: r.site_name, deviceId: r.device_id,
    deviceName: r.device_name, deviceType: r.device_type, updateId: r.update_id, kb: r.kb, title: r.title,
    classification: r.classification, product: r.product, severity: r.severity, status: r.status as PatchStatus,
    installedAt: r.installed_at, lastExitCode: r.last_exit_code === null ? null : Number(r.last_exit_code),
    lastError: r.last_error, lastScanAt: r.last_scanned_at,
  };
  if (sameGroup) return { row, group: sameGroup };
  let group: GroupHeader;
  if (groupBy === ReportGrouping.Patch) {
    const counts = Object.fromEntries(ALL_PATCH_STATUSES.map((s, i) => [s, Number(r[`n_${i}`])])) as Record<PatchStatus, number>;
    group = { kind: 'patch', updateId: row.updateId, kb: row.kb, title: row.title, classification: row.classification, product: row.product, severity: row.severity, counts };
  } else {
    const installed = Number(r.installed);
    const applicable = Number(r.applicable);
    group = {
      kind: 'device', deviceId: row.deviceId, deviceName: row.deviceName, deviceType: row.deviceType, clientName: row.clientName,
      siteName: row.siteName, installed, applicable, compliancePercent: compliancePercent(installed, applicable),
    };
  }
  return { row, group };
}

/**
 * Opens the report as a stream of record batches (arrays) read with a cursor (pg-query-stream, `batchSize` rows per
 * round trip), so memory holds a batch, never the report. The count and the rows come from one
 * read-only REPEATABLE READ snapshot, so `total` is exactly the number of records. The client is
 * released when the stream ends; a stream destroyed early (the caller went away) destroys its
 * connection rather than pool one left mid-cursor.
 */
export async function openPatchOverview(db: Db, filter: PatchOverviewFilter, options: { batchSize?: number } = {}): Promise<{ total: number; records: Readable }> {
  const client = await db.connect();
  let released = false;
  const release = (err?: Error) => { if (!released) { released = true; client.release(err ?? undefined); } };
  const onError = (err: Error) => release(err);
  client.on('error', onError);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The one sort of a large report runs in memory rather than in temporary files.
    await client.query("SET LOCAL work_mem = '64MB'");
    // Timestamps arrive as UTC text in ISO style, which isoFromPgTimestamptz turns into ISO 8601.
    await client.query("SET LOCAL TimeZone = 'UTC'");
    await client.query("SET LOCAL DateStyle = 'ISO'");
    const total = await countPatchOverview(client, filter);
    const { text, values } = patchOverviewQuery(filter);
    const batchRows = options.batchSize ?? BATCH_ROWS;
    const rows = client.query(new QueryStream(text, values, { batchSize: batchRows, types: REPORT_TYPES }));
    const toRecordOf = recordMapper(filter.groupBy);
    let batch: PatchOverviewRecord[] = [];
    const records = new Transform({
      readableObjectMode: true,
      writableObjectMode: true,
      // a few batches in flight, no more
      readableHighWaterMark: 2,
      transform(r, _enc, cb) {
        batch.push(toRecordOf(r));
        if (batch.length < batchRows) { cb(); return; }
        const full = batch;
        batch = [];
        cb(null, full);
      },
      flush(cb) {
        if (batch.length > 0) this.push(batch);
        cb();
      },
    });
    rows.on('error', (err) => records.destroy(err));
    rows.pipe(records);
    let ended = false;
    rows.once('end', () => { ended = true; });
    records.once('close', () => {
      client.off('error', onError);
      if (ended && !records.errored) {
        client.query('COMMIT').then(() => release(), (err: Error) => release(err));
      } else {
        rows.destroy();
        release(new Error('report stream closed before its end'));
      }
    });
    return { total, records };
  } catch (err) {
    client.off('error', onError);
    release(err as Error);
    throw err;
  }
}

// ---- offline reports (CSV - Offline Mode) ----

export const ReportState = {
  /** its workflow is writing the file */
  Running: 'running',
  /** the file is complete and can be downloaded */
  Done: 'done',
  /** the workflow gave up; `error` says why */
  Failed: 'failed',
} as const;
export type ReportState = (typeof ReportState)[keyof typeof ReportState];

export interface ReportRow {
  id: string;
  kind: 'patch_overview';
  format: 'csv';
  parameters: PatchOverviewFilter;
  state: ReportState;
  rowsTotal: number | null;
  rowsWritten: number;
  bytesWritten: number;
  fileName: string | null;
  error: string | null;
  requestedBy: string;
  requestedAt: string;
  finishedAt: string | null;
}

const REPORT_SELECT = `SELECT id, kind, format, parameters, state, rows_total, rows_written, bytes_written, file_name, error,
                              requested_by, requested_at, finished_at FROM reports`;

const toReport = (r: Record<string, any>): ReportRow => ({
  id: r.id, kind: r.kind, format: r.format, parameters: r.parameters, state: r.state,
  rowsTotal: r.rows_total === null ? null : Number(r.rows_total), rowsWritten: Number(r.rows_written),
  bytesWritten: Number(r.bytes_written), fileName: r.file_name, error: r.error, requestedBy: r.requested_by,
  requestedAt: r.requested_at.toISOString(), finishedAt: iso(r.finished_at),
});

/** Records a requested offline report (state running) and its audit row, in one transaction. */
export async function insertReport(db: Db, r: { parameters: PatchOverviewFilter; requestedBy: string }): Promise<ReportRow> {
  const id = randomUUID();
  return withTransaction(db, async (tx) => {
    const { rows } = await tx.query(
      `INSERT INTO reports (id, kind, format, parameters, state, requested_by)
       VALUES ($1::uuid, 'patch_overview', 'csv', $2::jsonb, 'running', $3::text)
       RETURNING id, kind, format, parameters, state, rows_total, rows_written, bytes_written, file_name, error, requested_by, requested_at, finished_at`,
      [id, JSON.stringify(r.parameters), r.requestedBy],
    );
    await appendAudit(tx, [{ actor: r.requestedBy, action: 'report.requested', subject: id, details: { kind: 'patch_overview', format: 'csv', ...r.parameters } }]);
    return toReport(rows[0]);
  });
}

export async function findReport(db: Queryable, id: string): Promise<ReportRow | undefined> {
  const { rows } = await db.query(`${REPORT_SELECT} WHERE id = $1::uuid`, [id]);
  return rows[0] ? toReport(rows[0]) : undefined;
}

export async function listReports(db: Queryable, limit = 100): Promise<ReportRow[]> {
  const { rows } = await db.query(`${REPORT_SELECT} ORDER BY requested_at DESC, id LIMIT $1::int`, [limit]);
  return rows.map(toReport);
}

/** Progress of a running report; a retry starts again from zero. Nothing changes once it finished. */
export async function recordReportProgress(db: Queryable, id: string, p: { rowsTotal?: number; rowsWritten: number; bytesWritten: number }): Promise<void> {
  await db.query(
    `UPDATE reports SET rows_total = COALESCE($2::bigint, rows_total), rows_written = $3::bigint, bytes_written = $4::bigint
     WHERE id = $1::uuid AND state = 'running'`,
    [id, p.rowsTotal ?? null, p.rowsWritten, p.bytesWritten],
  );
}

/**
 * Marks the report done or failed, with its audit row, once: a repeated call (an activity retried
 * after its answer was lost) finds it finished and writes nothing.
 */
export async function finishReport(
  db: Db,
  id: string,
  outcome: { state: 'done'; rowsWritten: number; bytesWritten: number; fileName: string } | { state: 'failed'; error: string },
  actor: string,
): Promise<boolean> {
  return withTransaction(db, async (tx) => {
    const { rowCount } = outcome.state === 'done'
      ? await tx.query(
        `UPDATE reports SET state = 'done', rows_total = $2::bigint, rows_written = $2::bigint, bytes_written = $3::bigint,
                            file_name = $4::text, finished_at = now()
         WHERE id = $1::uuid AND state = 'running'`,
        [id, outcome.rowsWritten, outcome.bytesWritten, outcome.fileName])
      : await tx.query(
        `UPDATE reports SET state = 'failed', error = $2::text, finished_at = now() WHERE id = $1::uuid AND state = 'running'`,
        [id, outcome.error]);
    if (!rowCount) return false;
    await appendAudit(tx, [{
      actor, action: outcome.state === 'done' ? 'report.completed' : 'report.failed', subject: id,
      details: outcome.state === 'done' ? { rows: outcome.rowsWritten, bytes: outcome.bytesWritten } : { error: outcome.error },
    }]);
    return true;
  });
}
