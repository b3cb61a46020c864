import type { ScheduleView } from '../api/schedule-service';
import type { WhatIfSchedule } from '../api/what-if-service';
import type { RolloutRow } from '../db/rollout-repository';
import type { PatchTestRow } from '../db/patch-test-repository';
import type { ReportView } from '../api/report-service';
import type { AuditRow } from '../db/audit-repository';
import type { ApiKeyRow, UserRow } from '../db/access-repository';
import type { ApprovalRequestRow } from '../db/approval-request-repository';
/** How each API answer reads in a terminal (pure: rows in, text out). `--json` bypasses all of this. */
import type { InitialUpdateView } from '../api/initial-update-service';
import type { InstallView } from '../api/install-service';
import type { ClientRow, DeviceRow, SiteRow } from '../db/fleet-repository';
import { sourceOrder } from '../domain/file-source';
import type { DevicePatchRow } from '../db/patch-repository';
import type { PatchProgress } from '../workflows/install.contract';
import { formatDate, formatExitCode, formatLastResult, renderFields, renderTable, truncate, yesNo } from './format';

export const clientsTable = (rows: ClientRow[]): string =>
  renderTable(['ID', 'NAME', 'CREATED'], rows.map((c) => [c.id, c.name, formatDate(c.createdAt)]));

export const sitesTable = (rows: SiteRow[]): string =>
  renderTable(['ID', 'CLIENT', 'NAME', 'FILE SOURCE', 'CREATED'], rows.map((s) => [s.id, s.clientName, s.name, fileSourceText(s.fileSource), formatDate(s.createdAt)]));

/** "cache, then internet" / "lan-share only": the order a download tries (domain/file-source.ts). */
export const fileSourceText = (f: SiteRow['fileSource'] | undefined): string =>
  !f ? 'internet' : sourceOrder(f).length > 1 ? sourceOrder(f).join(', then ') : `${f.source} only`;

export const devicesTable = (rows: DeviceRow[]): string =>
  renderTable(
    ['ID', 'NAME', 'TYPE', 'OS', 'CLIENT', 'SITE', 'ENROLLED', 'LAST CHECK-IN'],
    rows.map((d) => [d.id, d.name, d.deviceType, d.os, d.clientName, d.siteName, yesNo(d.enrolled), formatDate(d.lastCheckInAt)]),
  );

/** Devices that need a person (an automatic rollback could not finish): why and since when. */
export const needsAttentionTable = (rows: DeviceRow[]): string => (rows.length === 0 ? 'no device needs attention' : renderTable(
  ['ID', 'NAME', 'CLIENT', 'SITE', 'SINCE', 'NEEDS ATTENTION'],
  rows.map((d) => [d.id, d.name, d.clientName, d.siteName, formatDate(d.needsAttentionAt), d.needsAttention]),
));

export const deviceFields = (d: DeviceRow): string =>
  renderFields([
    ['ID', d.id], ['Name', d.name], ['Type', d.deviceType], ['OS', d.os],
    ['Client', `${d.clientName} (${d.clientId})`], ['Site', `${d.siteName} (${d.siteId})`],
    ['Enrolled', d.enrolled ? `yes, ${formatDate(d.enrolledAt)}` : 'no (waiting for its agent to enroll)'],
    ['Last check-in', formatDate(d.lastCheckInAt)], ['Boot id', d.bootId],
    ['Working folder', d.workingFolder], ['Install folder', d.installFolder], ['File source', fileSourceText(d.fileSource)], ['Created', formatDate(d.createdAt)],
    ...(d.needsAttention ? [['Needs attention', `${d.needsAttention} (since ${formatDate(d.needsAttentionAt)})`] as [string, string]] : []),
    ...(d.automaticUpdateBlocked ? [['Automatic Update', `BLOCKED: ${d.automaticUpdateBlocked}`] as [string, string]] : []),
  ]);

export const devicePatchesTable = (rows: DevicePatchRow[]): string =>
  renderTable(
    ['KB', 'TITLE', 'CLASSIFICATION', 'STATUS', 'INSTALLED', 'LAST RESULT'],
    rows.map((p) => [p.kb, truncate(p.title, 48), p.classification, p.status, formatDate(p.installedAt), formatLastResult(p.lastExitCode, p.lastError)]),
  );

const patchesTable = (rows: PatchProgress[]): string =>
  renderTable(
    ['KB', 'TITLE', 'STATUS', 'EXIT CODE', 'ERROR'],
    rows.map((p) => [p.kb, truncate(p.title, 48), p.status, formatExitCode(p.exitCode), truncate(p.error, 60)]),
  );

/** An install: where it is (or how it ended) and each patch's state. */
export function installText(v: InstallView): string {
  const state = v.result ?? v.progress;
  const fields: [string, string | null][] = [
    ['Install', v.workflowId],
    ['Status', v.status],
  ];
  if (state) fields.push(['Step', state.step]);
  if (v.result) fields.push(['Outcome', v.result.outcome]);
  fields.push(['Started', formatDate(v.startedAt)], ['Closed', formatDate(v.closedAt)]);
  if (state) {
    fields.push(['Rebooted', yesNo(state.rebooted)]);
    if (state.cancelRequested) fields.push(['Cancel', 'requested']);
    if (state.skippedKbs.length) fields.push(['Skipped', `${state.skippedKbs.join(', ')} (not needed on this device)`]);
    if (state.supersededKbs?.length) fields.push(['Superseded', `${state.supersededKbs.join(', ')} (skipped: a successor installs in this run)`]);
    if (state.rebootSkipped) fields.push(['Reboot skipped', state.rebootSkipped]);
    if (state.cleanupPending) fields.push(['Cleanup pending', state.cleanupPending]);
    if (state.healthCheck) {
      fields.push(['Health check', `${state.healthCheck.check}: ${state.healthCheck.healthy ? 'healthy' : `FAILED: ${state.healthCheck.output}`}`]);
      if (state.healthCheck.afterRollback) fields.push(['After rollback', state.healthCheck.afterRollback.healthy ? 'healthy' : `still failing: ${state.healthCheck.afterRollback.output}`]);
    }
    if (state.rolledBack?.length) fields.push(['Rolled back', state.rolledBack.join(', ')]);
    if (state.needsAttention) fields.push(['Needs attention', state.needsAttention]);
  }
  const c = v.result?.cleanup;
  if (c) fields.push(['Cleanup', `${c.removedFiles} file(s) removed; working folder ${c.workingFolderEmpty ? 'empty' : 'NOT empty'}, install folder ${c.installFolderEmpty ? 'empty' : 'NOT empty'}`]);
  if (v.failure) fields.push(['Failure', v.failure]);
  const head = renderFields(fields);
  if (!state) return head;
  const parts = [head, state.patches.length ? patchesTable(state.patches) : v.result ? '(no patches to install)' : '(no patches selected yet)'];
  // What the install left out and why (policy, an Ignore), and what it removed: the operator's "why not KB X?".
  if (state.refused?.length) {
    parts.push(`Not installed (approval):\n${renderTable(['KB', 'DECISION', 'WHY'], state.refused.map((r) => [r.kb, r.decision, truncate(r.reason, 90)]))}`);
  }
  if (state.removals?.length) parts.push(`Uninstalled:\n${patchesTable(state.removals)}`);
  return parts.join('\n\n');
}

/** A scan workflow as GET /devices/:id/scans/:key describes it. */
export interface ScanView { workflowId: string; status: string; startedAt: string; closedAt: string | null; result: Record<string, unknown> | null; failure: string | null }

export function scanText(v: ScanView): string {
  const fields: [string, string | number | null][] = [['Scan', v.workflowId], ['Status', v.status], ['Started', formatDate(v.startedAt)], ['Closed', formatDate(v.closedAt)]];
  for (const [k, x] of Object.entries(v.result ?? {})) fields.push([k, typeof x === 'object' && x !== null ? JSON.stringify(x) : (x as string | number | null)]);
  if (v.failure) fields.push(['Failure', v.failure]);
  return renderFields(fields);
}

/** An Initial Update: where it is, what it did, what is left, what needs attention. */
export function initialUpdateText(v: InitialUpdateView): string {
  const lines = [`${v.workflowId}  ${v.status}  (history ${v.historyLength} events)`];
  if (v.device.waitingForDeviceSince) lines.push(`waiting for the device since ${v.device.waitingForDeviceSince}`);
  const p = v.progress;
  if (p) {
    lines.push(`cycle ${p.cycle}, ${p.step}${p.currentGroup ? ` (${p.currentGroup})` : ''}; ${p.reboots} reboots; run ${p.runs}`);
    lines.push(`installed: ${p.installed.join(', ') || '-'}`);
    lines.push(`remaining: ${p.remaining.join(', ') || '-'}`);
    for (const f of p.failed) lines.push(`failed ${f.kb}: ${f.attempts} attempts${f.needsAttention ? ' (needs attention)' : ''}: ${f.lastError ?? ''}`);
  }
  const r = v.result;
  if (r) {
    lines.push(`${r.outcome}: ${r.cycles} cycles, ${r.reboots} reboots, ${r.installed.length} installed, ${r.runs} runs`);
    for (const a of r.needsAttention) lines.push(`needs attention ${a.kb}: ${a.attempts} attempts: ${a.lastError ?? ''}`);
  }
  if (v.failure) lines.push(`failed: ${v.failure}`);
  return lines.join('\n');
}

/** Schedules: what, when, next runs. */
export function schedulesText(rows: ScheduleView[]): string {
  if (rows.length === 0) return 'no schedules';
  return rows.map((r) => [
    `${r.id}  ${r.name}  (${r.kind}${r.paused ? ', PAUSED' : ''})`,
    `  when:   ${r.description}; distribution window ${r.distributionWindowMinutes} min`,
    ...(r.kbs?.length ? [`  kbs:    ${r.kbs.join(', ')} (per-patch schedule)`] : []),
    `  scope:  ${r.scopeType}${r.scopeId ? `:${r.scopeId}` : ''}; reboot: ${r.rebootActionText}; missed run: ${r.missedRun}${r.missedRun !== 'skip' && !r.missedRunReboot ? ' (no reboot)' : ''}`,
    ...(r.maintenanceWindowText ? [`  window: ${r.maintenanceWindowText}`] : []),
    `  next:   ${r.nextRunTimes.slice(0, 3).join(', ') || '-'}`,
  ].join('\n')).join('\n');
}

/** A Patch Test: each check pass or fail with its reason, and whether Automatic Update is blocked. */
export function patchTestText(r: PatchTestRow): string {
  const lines = [`Patch Test ${r.passed ? 'PASSED' : 'FAILED'}  ${formatDate(r.testedAt)}  (${r.workflowId}, requested by ${r.requestedBy})`];
  lines.push(`patches checked: ${r.kbs.join(', ') || 'none (nothing approved is missing)'}`);
  for (const c of r.checks) lines.push(`  ${c.passed ? 'pass' : 'FAIL'}  ${c.check}${c.subject ? ` [${c.subject}]` : ''}: ${c.reason}`);
  if (r.automaticUpdateBlocked) lines.push(`Automatic Update is blocked on this device until a Patch Test passes`);
  return lines.join('\n');
}

/** Past rollouts with their counts. */
export function rolloutsText(rows: RolloutRow[]): string {
  if (rows.length === 0) return 'no rollouts yet';
  return rows.map((r) => {
    const c = r.counts as Partial<Record<string, number>>;
    const counts = r.finishedAt
      ? `${c.devices ?? 0} devices: ${c.done ?? 0} done, ${c.failed ?? 0} failed, ${c.offline ?? 0} offline, ${c.busy ?? 0} busy, ${c.rebootPending ?? 0} reboot pending; ${c.patchesInstalled ?? 0} patches installed, ${c.patchesFailed ?? 0} failed`
      : 'running';
    const blocked = (r.blockedDevices ?? []).map((b) => `\n  left out ${b.deviceName}: ${b.reason}`).join('');
    return `${r.startedAt}  ${r.workflowId}\n  ${counts}${blocked}`;
  }).join('\n');
}

export const reportsTable = (rows: ReportView[]): string =>
  renderTable(
    ['ID', 'STATE', 'PROGRESS', 'GROUP BY', 'STATUSES', 'REQUESTED', 'FILE'],
    rows.map((r) => [
      r.id, r.state, r.state === 'failed' ? truncate(r.error, 40) : `${r.rowsWritten}/${r.rowsTotal ?? '?'} rows`,
      r.parameters.groupBy, r.parameters.statuses.join(','), formatDate(r.requestedAt), r.fileName,
    ]),
  );

export const auditTable = (rows: AuditRow[]): string =>
  renderTable(
    ['ID', 'AT', 'ACTOR', 'FROM', 'ACTION', 'OUTCOME', 'DEVICE', 'SUBJECT'],
    rows.map((a) => [a.id, formatDate(a.at), a.actor, a.sourceIp, a.action, a.outcome, a.deviceId, truncate(a.subject, 60)]),
  );

/** One audit row per line, for `patchflow audit --follow`. */
export const auditLine = (a: AuditRow): string =>
  [a.id, formatDate(a.at), a.actor, a.sourceIp ?? '-', a.action, a.outcome, a.deviceId ?? '-', a.subject ?? '-'].join('  ');

export const usersTable = (rows: UserRow[]): string =>
  renderTable(['ID', 'NAME', 'ROLE', 'CREATED', 'BY'], rows.map((u) => [u.id, u.name, u.role, formatDate(u.createdAt), u.createdBy]));

export const keysTable = (rows: ApiKeyRow[]): string =>
  renderTable(
    ['KEY ID', 'USER', 'ROLE', 'NAME', 'CLIENTS', 'EXPIRES', 'REVOKED', 'LAST USED', 'FROM'],
    rows.map((k) => [
      k.keyId, k.userName, k.role, k.name, k.clientIds ? k.clientIds.join(',') : 'all',
      k.expiresAt ? formatDate(k.expiresAt) : 'never', k.revokedAt ? formatDate(k.revokedAt) : '', k.lastUsedAt ? formatDate(k.lastUsedAt) : 'never', k.lastUsedIp,
    ]),
  );

export const approvalRequestsTable = (rows: ApprovalRequestRow[]): string =>
  renderTable(
    ['ID', 'STATE', 'KIND', 'DEVICES', 'NEEDS', 'ASKED BY', 'EXPIRES', 'DECIDED BY', 'SUMMARY'],
    rows.map((r) => [r.id, r.state, r.kind, r.devices, r.neededRole, r.requestedBy, formatDate(r.expiresAt), r.decidedBy, truncate(r.summary, 60)]),
  );

export interface WhatIfAnswer { generatedAt: string; schedules: WhatIfSchedule[] }

/** Per schedule: its next run, installs before → after, and each device whose answer changes, with why. */
export function whatIfText(answer: WhatIfAnswer): string {
  if (answer.schedules.length === 0) return 'no Automatic Update schedules';
  return answer.schedules.map((s) => {
    const head = `${s.name}  next run ${s.paused ? 'paused' : formatDate(s.nextRunAt)}: ${s.devices.after} devices, ${s.installs.before} → ${s.installs.after} installs`;
    if (s.changed.length === 0) return `${head}
  no change`;
    const rows = s.changed.flatMap((d) => [
      ...d.added.map((p) => [`+ ${p.kb}`, d.deviceName, `${d.clientName} / ${d.siteName}`, truncate(p.reason, 70)]),
      ...d.removed.map((p) => [`- ${p.kb}`, d.deviceName, `${d.clientName} / ${d.siteName}`, truncate(p.reason, 70)]),
    ]);
    return `${head}
${renderTable(['CHANGE', 'DEVICE', 'WHERE', 'WHY'], rows)}`;
  }).join('\n\n');
}
