import fs from 'node:fs';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { offlineReportPath } from '../activities/report-activities';
import type { Db } from '../db/database';
import { findReport, finishReport, insertReport, type ReportRow } from '../db/report-repository';
import { ConflictError, NotFoundError } from '../domain/errors';
import type { PatchOverviewFilter } from '../domain/patch-overview';
import { REPORT_WORKFLOW_TYPE, reportWorkflowId, type ReportInput } from '../workflows/report.contract';
import { ClientIdAttr, OperationAttr } from '../workflows/search-attributes';

export interface ReportServiceDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  reportsDir: string;
}

/** An offline report as the API shows it: state, progress, and where to get the file. */
export interface ReportView extends ReportRow {
  workflowId: string;
  /** rows written of rows to write, in percent (null until the count is known) */
  percent: number | null;
  location: string;
  /** set once done */
  download: string | null;
}

export function reportView(r: ReportRow): ReportView {
  const percent = r.state === 'done' ? 100 : r.rowsTotal ? Math.min(100, Math.floor((r.rowsWritten / r.rowsTotal) * 100)) : r.rowsTotal === 0 ? 0 : null;
  return {
    ...r, workflowId: reportWorkflowId(r.id), percent, location: `/api/v1/reports/${r.id}`,
    download: r.state === 'done' ? `/api/v1/reports/${r.id}/download` : null,
  };
}

/**
 * "CSV - Offline Mode": records the report (audited), then starts its `report/<id>` workflow. A
 * start that fails marks the report failed, so it never shows as running for ever.
 */
export async function startOfflineReport(deps: ReportServiceDeps, filter: PatchOverviewFilter, clientName: string, requestedBy: string): Promise<ReportView> {
  const report = await insertReport(deps.db, { parameters: filter, requestedBy });
  const input: ReportInput = { reportId: report.id, filter, clientName, requestedBy, requestedAt: report.requestedAt };
  try {
    await deps.client.workflow.start(REPORT_WORKFLOW_TYPE, {
      workflowId: reportWorkflowId(report.id),
      taskQueue: deps.taskQueue,
      args: [input],
      staticSummary: `Patch Overview Report (CSV - Offline Mode) · ${clientName} · by ${filter.groupBy}`,
      staticDetails: `Requested by ${requestedBy}. Statuses: ${filter.statuses.join(', ')}.`,
      typedSearchAttributes: [
        { key: OperationAttr, value: 'report' },
        ...(filter.clientId ? [{ key: ClientIdAttr, value: filter.clientId }] : []),
      ],
    });
  } catch (err) {
    await finishReport(deps.db, report.id, { state: 'failed', error: `could not start: ${(err as Error).message}` }, requestedBy);
    throw err;
  }
  deps.log.info({ reportId: report.id, filter }, 'offline report started');
  return reportView(report);
}

/** The finished report's file, or 404 / 409 saying why not. */
export async function offlineReportFile(deps: ReportServiceDeps, reportId: string): Promise<{ path: string; size: number; fileName: string }> {
  const report = await findReport(deps.db, reportId);
  if (!report) throw new NotFoundError('report', reportId);
  if (report.state === 'running') throw new ConflictError(`report ${reportId} is still being written (${report.rowsWritten} of ${report.rowsTotal ?? '?'} rows)`);
  if (report.state === 'failed') throw new ConflictError(`report ${reportId} failed: ${report.error ?? 'no reason recorded'}`);
  const file = offlineReportPath(deps.reportsDir, reportId);
  let size: number;
  try {
    size = fs.statSync(file).size;
  } catch {
    throw new NotFoundError('report file', reportId);
  }
  return { path: file, size, fileName: report.fileName ?? `patch-overview-${reportId}.csv` };
}
