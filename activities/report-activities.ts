import fs from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { finishReport, openPatchOverview, recordReportProgress } from '../db/report-repository';
import { ReportFormat } from '../domain/patch-overview';
import { countRows, renderStages, reportFileName, toEvents } from '../reports/patch-overview-render';
import type { ReportInput, ReportResult } from '../workflows/report.contract';

/** Where an offline report's file lives: REPORTS_DIR/<id>.csv (the id is a UUID: no path in it). */
export function offlineReportPath(reportsDir: string, reportId: string): string {
  return path.join(reportsDir, `${reportId}.csv`);
}

/** How often progress is heartbeaten and written to the report's row. */
const PROGRESS_EVERY_MS = 1000;

/** Writing offline reports ("CSV - Offline Mode"). */
export function createReportActivities(deps: { db: Db; log: Logger; reportsDir: string }) {
  return {
    /**
     * Streams the report into REPORTS_DIR/<id>.csv.part and renames it to <id>.csv when complete,
     * so a download never sees half a file. Idempotent: a retry writes the whole file again, and
     * the report is marked done (and audited) once.
     */
    async writePatchOverviewReport(input: ReportInput): Promise<ReportResult> {
      const ctx = Context.current();
      const log = deps.log.child({ reportId: input.reportId });
      fs.mkdirSync(deps.reportsDir, { recursive: true });
      const final = offlineReportPath(deps.reportsDir, input.reportId);
      const partial = `${final}.part`;
      const { total, records } = await openPatchOverview(deps.db, input.filter);
      const meta = {
        generatedAt: input.requestedAt, clientId: input.filter.clientId ?? null, clientName: input.clientName,
        groupBy: input.filter.groupBy, statuses: input.filter.statuses, rowCount: total,
      };
      let rows = 0;
      let bytes = 0;
      let lastProgress = 0;
      const report = async () => {
        ctx.heartbeat({ rows, total, bytes });
        await recordReportProgress(deps.db, input.reportId, { rowsTotal: total, rowsWritten: rows, bytesWritten: bytes });
      };
      await report();
      const countBytes = new Transform({
        async transform(chunk: Buffer | string, _enc, cb) {
          bytes += Buffer.byteLength(chunk);
          if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
            lastProgress = Date.now();
            try { await report(); } catch (err) { cb(err as Error); return; }
          }
          cb(null, chunk);
        },
      });
      await pipeline(
        records, toEvents(), countRows((n) => { rows = n; }), ...renderStages(ReportFormat.Csv, meta), countBytes,
        fs.createWriteStream(partial),
        { signal: ctx.cancellationSignal },
      );
      fs.renameSync(partial, final);
      const fileName = reportFileName(meta, 'csv');
      await finishReport(deps.db, input.reportId, { state: 'done', rowsWritten: rows, bytesWritten: bytes, fileName }, `workflow:${ctx.info.workflowExecution?.workflowId ?? ctx.info.workflowType}`);
      log.info({ rows, bytes }, 'offline report written');
      return { reportId: input.reportId, rows, bytes, fileName };
    },

    /** Idempotent: a report already finished keeps its state. */
    async markReportFailed(reportId: string, error: string): Promise<void> {
      const ctx = Context.current();
      fs.rmSync(`${offlineReportPath(deps.reportsDir, reportId)}.part`, { force: true });
      await finishReport(deps.db, reportId, { state: 'failed', error }, `workflow:${ctx.info.workflowExecution?.workflowId ?? ctx.info.workflowType}`);
    },
  };
}
