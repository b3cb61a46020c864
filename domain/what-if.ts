/**
 * What-if (issue 14.5): what the next Automatic Update run would install where, today and under a
 * proposed change of approvals, KB overrides or patch actions, and the difference. Pure: it takes the
 * approval model and each device's patches as db/ loads them, and the real resolver decides. It mirrors
 * the install workflow's own selection (workflows/device-install.ts): the device's missing patches,
 * superseded ones skipped when their successor is missing too (domain/install-plan.ts), then the
 * resolver's Approved only (Pending Approval counts as Denied for Automatic Update), then the failure cap.
 */
import {
  type ApprovalModel, type ApprovalPolicy, type ApprovalStatus, type PatchAction, type PolicyApproval, type ScopeLevel,
  installsAutomatically,
} from './approval-model';
import { DECISION_OF_CODE, REPROCESS_FAILED_BIT, type DeviceStates, type FleetDecisions } from './approval-resolver';
import { normaliseKb } from './patch-id';
import { PatchStatus } from './patch-status';

/** A proposed change, in the shapes of the API routes that would make it. */
export interface Proposal {
  /** PUT /policies/:id/approvals (policyId), or approval by patch across every policy (policyId "all") */
  approvals?: { policyId: string; updateIds: string[]; status: ApprovalStatus; approveAfterDays?: number }[];
  /** PUT /kb-overrides/:kb (a status), DELETE (null) */
  kbOverrides?: { kb: string; status: ApprovalStatus | null }[];
  /** PUT /patch-actions */
  patchActions?: { scopeType: ScopeLevel; scopeId: string; updateIds: string[]; action: PatchAction }[];
}

/** A patch the device reports missing (what its next pre-scan would say), with what selection reads. */
export interface MissingPatch {
  updateId: string;
  kb: string;
  supersededBy: string | null;
}

export interface PredictedInstall {
  updateId: string;
  kb: string;
}

/** A predicted install that the proposal adds or removes, with the resolver's reason. */
export interface ExplainedInstall extends PredictedInstall {
  reason: string;
}

/** Patch statuses of a patch the device still needs: its next scan reports it as not installed. */
export const NOT_INSTALLED_STATUSES: readonly string[] = [PatchStatus.Missing, PatchStatus.Pending, PatchStatus.Failed, PatchStatus.Ignored, PatchStatus.Installing];

/** Update ids an Uninstall action names, today or in the proposal: only their installed state matters. */
export function uninstallTargets(model: ApprovalModel, proposal: Proposal): string[] {
  const out = new Set<string>();
  for (const byPatch of model.actions.values()) for (const [id, a] of byPatch) if (a === 'uninstall') out.add(id);
  for (const a of proposal.patchActions ?? []) if (a.action === 'uninstall') for (const id of a.updateIds) out.add(id);
  return [...out];
}


/** The model as it would be after the proposal; the given model is not changed. */
export function applyProposal(model: ApprovalModel, proposal: Proposal): ApprovalModel {
  const note = 'what-if: proposed';
  const policies: ApprovalPolicy[] = model.policies.map((p) => {
    const changes = (proposal.approvals ?? []).filter((a) => a.policyId === p.id || a.policyId === 'all');
    if (changes.length === 0) return p;
    const approvals = new Map<string, PolicyApproval>(p.approvals);
    for (const c of changes) {
      const row: PolicyApproval = c.approveAfterDays === undefined
        ? { status: c.status, source: 'explicit', note } : { status: c.status, source: 'explicit', note, approveAfterDays: c.approveAfterDays };
      for (const id of c.updateIds) approvals.set(id, row);
    }
    return { ...p, approvals };
  });
  const kbOverrides = new Map(model.kbOverrides);
  for (const o of proposal.kbOverrides ?? []) {
    if (o.status === null) kbOverrides.delete(normaliseKb(o.kb));
    else kbOverrides.set(normaliseKb(o.kb), o.status);
  }
  const actions = new Map<string, Map<string, PatchAction>>([...model.actions].map(([k, v]) => [k, new Map(v)]));
  for (const a of proposal.patchActions ?? []) {
    const key = `${a.scopeType}:${a.scopeId}`;
    const byPatch = actions.get(key) ?? new Map<string, PatchAction>();
    for (const id of a.updateIds) {
      if (a.action === 'inherit') byPatch.delete(id);
      else byPatch.set(id, a.action);
    }
    actions.set(key, byPatch);
  }
  return { ...model, policies, kbOverrides, actions };
}

/**
 * What the next Automatic Update installs on one device: its missing patches less superseded ones
 * whose successor is missing too, less what the resolver does not approve, less patches at the
 * failure cap (unless Reprocess failed re-arms them). Sorted by KB. `fleet` is resolveFleet's answer
 * for the model (one pass for every device; reasons are asked only for what changes).
 */
export function predictDeviceInstalls(
  fleet: FleetDecisions, states: DeviceStates, deviceId: string, missing: readonly MissingPatch[], failureCap: number,
): PredictedInstall[] {
  const missingKbs = new Set(missing.map((m) => normaliseKb(m.kb)));
  const stateOf = typeof states === 'function' ? (u: string) => states(deviceId, u) : (u: string) => states.get(deviceId)?.get(u);
  const row = fleet.decisionsFor(deviceId);
  const out: PredictedInstall[] = [];
  for (const m of missing) {
    if (m.supersededBy && missingKbs.has(normaliseKb(m.supersededBy))) continue;
    const i = fleet.patchIndex(m.updateId);
    if (i < 0) continue;
    const byte = row[i]!;
    if (!installsAutomatically(DECISION_OF_CODE[byte & 7]!)) continue;
    const attempts = byte & REPROCESS_FAILED_BIT ? 0 : stateOf(m.updateId)?.failedAttempts ?? 0;
    if (attempts >= failureCap) continue;
    out.push({ updateId: m.updateId, kb: m.kb });
  }
  return out.sort((a, b) => a.kb.localeCompare(b.kb) || a.updateId.localeCompare(b.updateId));
}

export interface DeviceDifference {
  /** installs the proposal adds, with the reason they would now install */
  added: ExplainedInstall[];
  /** installs the proposal takes away, with the reason they would not */
  removed: ExplainedInstall[];
}

/** The difference of two predictions for one device, each change explained. */
export function differenceOf(
  before: readonly PredictedInstall[], after: readonly PredictedInstall[],
  why: { added: (updateId: string) => string; removed: (updateId: string) => string },
): DeviceDifference {
  const was = new Set(before.map((p) => p.updateId));
  const is = new Set(after.map((p) => p.updateId));
  return {
    added: after.filter((p) => !was.has(p.updateId)).map((p) => ({ ...p, reason: why.added(p.updateId) })),
    removed: before.filter((p) => !is.has(p.updateId)).map((p) => ({ ...p, reason: why.removed(p.updateId) })),
  };
}
