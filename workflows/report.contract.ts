/** The contract of patchOverviewReportWorkflow ("CSV - Offline Mode"): id scheme, input and result. */
import type { PatchOverviewFilter } from '../domain/patch-overview';

export const REPORT_WORKFLOW_TYPE = 'patchOverviewReportWorkflow';

/** `report/<reportId>`, as the Temporal Web UI lists it. */
export function reportWorkflowId(reportId: string): string {
  return `report/${reportId}`;
}

export interface ReportInput {
  reportId: string;
  filter: PatchOverviewFilter;
  /** "All clients" or the client's name, for the file name and the summaries */
  clientName: string;
  requestedBy: string;
  /** when it was asked for (ISO), the report's "generated" time and its file name's date */
  requestedAt: string;
}

export interface ReportResult {
  reportId: string;
  rows: number;
  bytes: number;
  /** the name the download is offered under */
  fileName: string;
}
