import { ActivityFailure, ApplicationFailure, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { ReportActivities } from '../activities';
import type { ReportInput, ReportResult } from './report.contract';
import { REPORT_WRITE_RETRY, STATE_RETRY } from './retry-policies';

/**
 * "CSV - Offline Mode" of the Patch Overview Report: one activity streams the report from
 * PostgreSQL into a file under REPORTS_DIR, heartbeating its progress, so a fleet too large to wait
 * for is written in the background and downloaded when done. A retry writes the file again from
 * the start (the file only appears, by rename, once complete). A report that cannot be written is
 * marked failed, with the reason, for the operator who asked for it.
 */
export async function patchOverviewReportWorkflow(input: ReportInput): Promise<ReportResult> {
  const reports = proxyActivities<ReportActivities>({
    // A million rows take about a minute; the heartbeat, not this limit, notices a stuck writer.
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
    retry: REPORT_WRITE_RETRY,
  });
  const what = `Patch Overview Report (CSV) of ${input.clientName}, by ${input.filter.groupBy}`;
  setCurrentDetails(`**writing**: ${what}`);
  try {
    const result = await reports.writePatchOverviewReport.executeWithOptions(
      { startToCloseTimeout: '2 hours', heartbeatTimeout: '1 minute', retry: REPORT_WRITE_RETRY, summary: `write ${what}` },
      [input],
    );
    setCurrentDetails(`**done**: ${result.rows} rows, ${result.bytes} bytes (${result.fileName})`);
    return result;
  } catch (err) {
    const reason = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : (err as Error).message;
    await reports.markReportFailed.executeWithOptions(
      { startToCloseTimeout: '1 minute', retry: STATE_RETRY, summary: 'mark the report failed' },
      [input.reportId, reason],
    );
    setCurrentDetails(`**failed**: ${reason}`);
    throw ApplicationFailure.create({ type: 'ReportFailed', message: `the report could not be written: ${reason}`, nonRetryable: true, cause: err as Error });
  }
}
