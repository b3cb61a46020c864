/**
 * How the console's approval screens read in a terminal (pure: rows in, text out): policies and their
 * members and defaults, Kaseya's policy summary, the catalog's Approval by Patch, a device's decisions
 * with the resolver's reasons, actions by scope and KB overrides. `-o json|jsonl` bypasses all of this.
 */
import type { DeviceApprovalRow } from '../api/patch-views';
import type { KbOverrideRow, PatchActionRow, PolicyApprovalRow } from '../db/approval-repository';
import type { PolicyMemberRow, PolicyRow } from '../db/policy-repository';
import type { PatchApprovalRow, PolicySummary, SummaryRow } from '../db/policy-views';
import { formatDate, renderFields, renderTable, truncate, yesNo } from './format';

/** An action past the two-person threshold answers 202 with a pending request instead of running. */
export interface PendingAnswer { pending?: boolean; requestId?: string; summary?: string; neededRole?: string; expiresAt?: string }

/** The pending request's lines, or undefined when the action ran. */
export const pendingText = (a: PendingAnswer): string | undefined => (a.pending
  ? `waits for a second person (role ${a.neededRole}) until ${a.expiresAt}: ${a.summary}\n  patchflow requests approve ${a.requestId}`
  : undefined);

export const policiesTable = (rows: PolicyRow[]): string => (rows.length === 0 ? 'no approval policies (a device in no policy installs everything)' : renderTable(
  ['ID', 'NAME', 'MEMBERS', 'FALLBACK', 'DEFAULTS', 'DENY MANUAL', 'DENY WU SITE', 'DENY SUPERSEDED'],
  rows.map((p) => [p.id, p.name, p.members, p.fallbackDefault, p.defaults.length, yesNo(p.denyManualInstallOnly), yesNo(p.denyWindowsUpdateWebSite), yesNo(p.denySuperseded)]),
));

export function policyText(p: PolicyRow, members?: PolicyMemberRow[]): string {
  const head = renderFields([
    ['ID', p.id], ['Name', p.name], ['Members', p.members], ['Fallback default', p.fallbackDefault],
    ['Deny manual-install-only', yesNo(p.denyManualInstallOnly)], ['Deny Windows Update web site', yesNo(p.denyWindowsUpdateWebSite)],
    ['Deny superseded', yesNo(p.denySuperseded)], ['Created', formatDate(p.createdAt)],
  ]);
  const defaults = p.defaults.length
    ? renderTable(['DEFAULT FOR', 'KEY', 'STATUS'], p.defaults.map((d) => [d.kind, d.key, d.status]))
    : '(no defaults: a newly discovered patch gets the fallback)';
  return [head, defaults, ...(members ? [membersTable(members)] : [])].join('\n\n');
}

export const membersTable = (rows: PolicyMemberRow[]): string => (rows.length === 0 ? 'no members' : renderTable(
  ['SCOPE', 'ID', 'NAME', 'DEVICES'], rows.map((m) => [m.scopeType, m.scopeId, m.name, m.devices]),
));

const summaryRow = (r: SummaryRow) => [r.key, r.approved, r.denied, r.pendingApproval, r.total, `${r.defaultStatus}${r.defaultFrom === 'fallback' ? ' (fallback)' : ''}`];

/** Kaseya's policy summary: Approved / Denied / Pending Approval / Totals / Default approval status. */
export function summaryText(s: PolicySummary & { policy: string; groupBy: string }): string {
  const headers = [s.groupBy.toUpperCase().replace('_', ' '), 'APPROVED', 'DENIED', 'PENDING APPROVAL', 'TOTAL', 'DEFAULT'];
  const t = s.totals;
  const table = renderTable(headers, [...s.rows.map(summaryRow), ['Totals', t.approved, t.denied, t.pendingApproval, t.total, '']]);
  const outside = s.outside?.length ? `\n\nnot in Kaseya's rows (not in the totals):\n${renderTable(headers, s.outside.map(summaryRow))}` : '';
  return `${s.policy}, by ${s.groupBy}\n${table}${outside}`;
}

/** The catalog with each patch's status across policies (Approval by Patch). */
export const patchApprovalsTable = (rows: PatchApprovalRow[]): string => (rows.length === 0 ? 'no patches match' : renderTable(
  ['KB', 'TITLE', 'CLASSIFICATION', 'PRODUCT', 'SEVERITY', 'APPROVAL', 'KB OVERRIDE', 'SUPERSEDED BY'],
  rows.map((p) => [p.kb, truncate(p.title, 44), p.classification, truncate(p.product, 24), p.severity, p.approval ?? 'no policy', p.kbOverride, p.supersededBy]),
));

/** One patch's status in every policy (the per-policy column of Approval by Patch). */
export const patchPolicyStatusesText = (p: PatchApprovalRow): string => [
  `${p.kb}  ${p.title}`,
  `  ${p.classification}; ${p.product}; severity ${p.severity}; approval ${p.approval ?? 'no policy'}${p.kbOverride ? `; KB override ${p.kbOverride}` : ''}`,
  ...p.policies.map((x) => `  ${x.policyName}: ${x.status} (${x.source}${x.stamped ? '' : ', default'})${x.note ? `: ${x.note}` : ''}`),
].join('\n');

export const policyApprovalsText = (a: { policy: string; status: string; patches: number; approvalsChanged: number; approvals: PolicyApprovalRow[] }): string =>
  `${a.policy}: ${a.patches} patch(es) set to ${a.status}, ${a.approvalsChanged} changed\n${renderTable(
    ['KB', 'STATUS', 'SOURCE', 'NOTE'], a.approvals.map((x) => [x.kb, x.status, x.source, truncate(x.note, 60)]),
  )}`;

/** A device's patches with the resolver's decision and its reason ("why didn't KB X install here?"). */
export const deviceApprovalsText = (a: { policyIds: readonly string[]; patches: DeviceApprovalRow[] }): string => {
  const policies = a.policyIds.length ? `policies: ${a.policyIds.join(', ')}` : 'in no policy: installs everything';
  if (a.patches.length === 0) return `${policies}\nno patches (the device has not been scanned yet)`;
  return `${policies}\n${renderTable(
    ['KB', 'TITLE', 'STATUS', 'DECISION', 'WHY'], a.patches.map((p) => [p.kb, truncate(p.title, 40), p.status, p.decision, truncate(p.reason, 80)]),
  )}`;
};

export const patchActionsTable = (rows: PatchActionRow[]): string => (rows.length === 0 ? 'no actions by scope (every patch inherits)' : renderTable(
  ['SCOPE', 'SCOPE ID', 'KB', 'TITLE', 'ACTION', 'SET'],
  rows.map((a) => [a.scopeType, a.scopeId, a.kb, truncate(a.title, 44), a.action, formatDate(a.setAt)]),
));

export const kbOverridesTable = (rows: KbOverrideRow[]): string => (rows.length === 0 ? 'no KB overrides' : renderTable(
  ['KB', 'STATUS', 'PATCHES', 'SET'], rows.map((k) => [k.kb, k.status, k.patches, formatDate(k.setAt)]),
));
