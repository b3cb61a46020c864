/**
 * The Patch Overview Report (seed 000, "View Patch Status"): its choices, its row, its group headers
 * and its columns. Pure: the SQL lives in db/report-repository.ts, the rendering in reports/.
 */
import { interpretExitCode } from './exit-codes';
import { ALL_PATCH_STATUSES, PatchStatus } from './patch-status';

/** How the report is delivered. */
export const ReportFormat = {
  /** a self-contained page, streamed */
  Html: 'html',
  /** streamed as it is read */
  Csv: 'csv',
  /** "CSV - Offline Mode": written in the background by a `report/<id>` workflow, downloaded when done */
  CsvOffline: 'csv-offline',
  /** streamed; valid against reports/patch-overview.xsd */
  Xml: 'xml',
  /** one JSON document, streamed group by group */
  Json: 'json',
} as const;
export type ReportFormat = (typeof ReportFormat)[keyof typeof ReportFormat];
export const ALL_REPORT_FORMATS: readonly ReportFormat[] = Object.values(ReportFormat);

/** What each header of the report stands for. */
export const ReportGrouping = {
  /** one header per patch, with its count per status across the selected devices */
  Patch: 'patch',
  /** one header per device, with its compliance (installed / applicable) */
  Device: 'device',
} as const;
export type ReportGrouping = (typeof ReportGrouping)[keyof typeof ReportGrouping];
export const ALL_REPORT_GROUPINGS: readonly ReportGrouping[] = Object.values(ReportGrouping);

/** The report's selection: a client (absent: all), the grouping and the statuses shown. */
export interface PatchOverviewFilter {
  clientId?: string;
  groupBy: ReportGrouping;
  statuses: readonly PatchStatus[];
}

/** One (device, patch). `installedAt` is set only where Patchflow installed the patch. */
export interface PatchOverviewRow {
  clientId: string;
  clientName: string;
  siteName: string;
  deviceId: string;
  deviceName: string;
  deviceType: string;
  updateId: string;
  kb: string;
  title: string;
  classification: string;
  product: string;
  severity: string;
  status: PatchStatus;
  installedAt: string | null;
  lastExitCode: number | null;
  lastError: string | null;
  lastScanAt: string | null;
}

/** A patch's header: how many selected devices have it in each status (every status, not only those shown). */
export interface PatchGroupHeader {
  kind: 'patch';
  updateId: string;
  kb: string;
  title: string;
  classification: string;
  product: string;
  severity: string;
  counts: Record<PatchStatus, number>;
}

/** A device's header: its compliance over every patch that applies to it. */
export interface DeviceGroupHeader {
  kind: 'device';
  deviceId: string;
  deviceName: string;
  deviceType: string;
  clientName: string;
  siteName: string;
  installed: number;
  applicable: number;
  /** installed / applicable in percent, one decimal; 100 when nothing applies */
  compliancePercent: number;
}

export type GroupHeader = PatchGroupHeader | DeviceGroupHeader;

/** A row as the repository reads it: the row and its group's figures (the same on every row of a group). */
export interface PatchOverviewRecord {
  row: PatchOverviewRow;
  group: GroupHeader;
}

/**
 * Compliance counts a patch as done only when it is Installed (Reboot Required is not finished
 * until the reboot and rescan), and leaves out of "applicable" what an operator chose not to
 * install (Ignored), and what its installed successor replaces (Superseded). Every other status, including any added later, counts as applicable and not done.
 */
export const COMPLIANT_STATUSES: readonly PatchStatus[] = [PatchStatus.Installed];
export const NOT_APPLICABLE_STATUSES: readonly PatchStatus[] = [PatchStatus.Ignored, PatchStatus.Superseded];

export function compliancePercent(installed: number, applicable: number): number {
  if (applicable <= 0) return 100;
  return Math.round((installed / applicable) * 1000) / 10;
}

/** "Reboot Required" for reboot_required: the operators' word, as the seed lists the statuses. */
export function statusLabel(status: string): string {
  let label = statusLabels.get(status);
  if (label === undefined) {
    label = status.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
    if (statusLabels.size < 100) statusLabels.set(status, label);
  }
  return label;
}
const statusLabels = new Map<string, string>();

/**
 * Reads the statuses asked for: a comma-separated list, or the parameter repeated; each a status
 * value (`reboot_required`) or its label in any case (`Reboot Required`, `reboot-required`). Empty
 * means every status. Unknown names come back so the caller can name them.
 */
export function parseStatusList(input: readonly string[]): { statuses: PatchStatus[] } | { unknown: string[] } {
  const names = input.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  if (names.length === 0) return { statuses: [...ALL_PATCH_STATUSES] };
  const known = new Set<string>(ALL_PATCH_STATUSES);
  const statuses: PatchStatus[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const key = name.toLowerCase().replace(/[\s-]+/g, '_');
    if (!known.has(key)) unknown.push(name);
    else if (!statuses.includes(key as PatchStatus)) statuses.push(key as PatchStatus);
  }
  return unknown.length > 0 ? { unknown } : { statuses };
}

/** A fleet reports a handful of distinct codes: each is interpreted once. */
const exitCodeTexts = new Map<number, { display: string; meaning: string }>();
function exitCodeText(code: number): { display: string; meaning: string } {
  let t = exitCodeTexts.get(code);
  if (!t) {
    const m = interpretExitCode(code);
    t = { display: m.display, meaning: `${m.name}: ${m.description}${m.hint ? ` ${m.hint}` : ''}` };
    if (exitCodeTexts.size < 10_000) exitCodeTexts.set(code, t);
  }
  return t;
}

/** "ERROR_INSTALL_FAILURE: Fatal error during installation." from domain/exit-codes.ts; null without a code. */
export function exitCodeMeaning(code: number | null): string | null {
  return code === null ? null : exitCodeText(code).meaning;
}

/** The row's columns, in order, as CSV and HTML headers name them. */
export const ROW_COLUMNS: readonly { key: keyof PatchOverviewRow | 'exitCodeMeaning'; label: string }[] = [
  { key: 'clientName', label: 'Client' },
  { key: 'siteName', label: 'Site' },
  { key: 'deviceName', label: 'Device' },
  { key: 'deviceType', label: 'Device Type' },
  { key: 'kb', label: 'KB' },
  { key: 'title', label: 'Title' },
  { key: 'classification', label: 'Classification' },
  { key: 'product', label: 'Product' },
  { key: 'severity', label: 'Severity' },
  { key: 'status', label: 'Status' },
  { key: 'installedAt', label: 'Install Date' },
  { key: 'lastExitCode', label: 'Last Exit Code' },
  { key: 'exitCodeMeaning', label: 'Exit Code Meaning' },
  { key: 'lastError', label: 'Last Error' },
  { key: 'lastScanAt', label: 'Last Scan' },
];

/** A row's cell values in ROW_COLUMNS order; the exit code shown as Windows shows it (hex for HRESULTs). */
export function rowCells(row: PatchOverviewRow): (string | null)[] {
  return ROW_COLUMNS.map(({ key }) => {
    if (key === 'exitCodeMeaning') return exitCodeMeaning(row.lastExitCode);
    if (key === 'lastExitCode') return row.lastExitCode === null ? null : exitCodeText(row.lastExitCode).display;
    if (key === 'status') return statusLabel(row.status);
    const v = row[key];
    return v === null || v === undefined ? null : String(v);
  });
}

/**
 * The group's figures as extra columns, so that a CSV stays one flat record per (device, patch):
 * by patch, one count per status ("Patch Missing", ...); by device, "Device Installed",
 * "Device Applicable" and "Device Compliance %".
 */
export function groupColumns(groupBy: ReportGrouping): string[] {
  return groupBy === ReportGrouping.Patch
    ? ALL_PATCH_STATUSES.map((s) => `Patch ${statusLabel(s)}`)
    : ['Device Installed', 'Device Applicable', 'Device Compliance %'];
}

export function groupCells(group: GroupHeader): number[] {
  return group.kind === 'patch'
    ? ALL_PATCH_STATUSES.map((s) => group.counts[s] ?? 0)
    : [group.installed, group.applicable, group.compliancePercent];
}

/** Groups are contiguous in the stream: a new key starts a new header. */
export function groupKey(group: GroupHeader): string {
  return group.kind === 'patch' ? group.updateId : group.deviceId;
}
