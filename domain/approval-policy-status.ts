import {
  type ApprovalPatch, type ApprovalPolicy, type ApprovalStatus, InstallType, RESTRICTIVENESS,
} from './approval-model';
import { kaseyaClassificationOf } from './kaseya-classification';
import { normaliseKb } from './patch-id';
import { deferralAt, describeDeferral, type DeferralVerdict } from './approval-deferral';

/**
 * One policy's status for one patch (Kaseya's Patch Policy, DOMAIN-RULES §2.8, §2.9), and what it
 * came from, so that a reason can name it. Shared by explainDecision and resolveFleet so the two
 * cannot disagree.
 */
export type PolicyBasis =
  | { kind: 'kb_override'; kb: string }
  | { kind: 'explicit'; note?: string }
  | { kind: 'switch'; installType?: InstallType; supersededBy?: string }
  | { kind: 'stamp'; note?: string }
  | { kind: 'default'; from: 'product' | 'kaseya_classification' | 'classification' | 'fallback'; name: string }
  /** an Approved status deferred N days after release: Pending Approval until then, Approved after */
  | { kind: 'deferred'; deferral: DeferralVerdict; approvedBy: Exclude<PolicyBasis, { kind: 'deferred' }> };

export interface PolicyVerdict {
  status: ApprovalStatus;
  basis: PolicyBasis;
}


/** The more restrictive of two statuses (Denied > Pending Approval > Approved). */
export const moreRestrictive = (a: ApprovalStatus, b: ApprovalStatus): ApprovalStatus =>
  (RESTRICTIVENESS.indexOf(a) <= RESTRICTIVENESS.indexOf(b) ? a : b);

const normalisedOverrides = new WeakMap<ReadonlyMap<string, ApprovalStatus>, Map<string, ApprovalStatus>>();

/**
 * KB overrides keyed by normalised KB, built once per model map. Two spellings of one KB with
 * different statuses give the more restrictive one.
 */
export function kbOverrideIndex(kbOverrides: ReadonlyMap<string, ApprovalStatus>): ReadonlyMap<string, ApprovalStatus> {
  let index = normalisedOverrides.get(kbOverrides);
  if (!index) {
    index = new Map();
    for (const [kb, status] of kbOverrides) {
      const key = normaliseKb(kb);
      const seen = index.get(key);
      index.set(key, seen ? moreRestrictive(seen, status) : status);
    }
    normalisedOverrides.set(kbOverrides, index);
  }
  return index;
}

/**
 * The default a policy gives a patch it has no row for: product → Kaseya classification →
 * classification → fallback, the first the policy has. A product default, where the policy has one
 * for this product, beats the classification defaults: it is the narrower, deliberate choice (Kaseya's
 * Product view; N-able approves third-party patches by vendor/product, DOMAIN-RULES rule 4), and
 * "child beats parent" is how every other precedence in the resolver works. Taking the more
 * restrictive of the two instead would make a product default unable to approve anything whose
 * classification is left at Pending Approval (every classification of a new policy), which is the
 * usual reason to set one. Most-restrictive is kept for peers that disagree: separate policies.
 * A Kaseya classification ("Security Update - Critical (High Priority)") is a part of Microsoft's
 * classification, so its default beats the classification's for the same reason: "Security Updates"
 * Approved with "Security Update - Low" Pending leaves Low pending, and "Security Updates" Pending with
 * Critical Approved approves Critical only. Most-restrictive would make the second impossible without
 * setting all five severities. Unrated security updates have their own row (Non-rated): a rated row's
 * default never reaches them. The maps hold only defaults the operator set; the fallback covers the rest.
 */
function defaultFor(policy: ApprovalPolicy, patch: ApprovalPatch): PolicyVerdict {
  const byProduct = policy.productDefaults.get(patch.product);
  if (byProduct) return { status: byProduct, basis: { kind: 'default', from: 'product', name: patch.product } };
  const kaseya = policy.kaseyaClassificationDefaults.size > 0 ? kaseyaClassificationOf(patch.classification, patch.severity) : null;
  const byKaseya = kaseya ? policy.kaseyaClassificationDefaults.get(kaseya) : undefined;
  if (byKaseya) return { status: byKaseya, basis: { kind: 'default', from: 'kaseya_classification', name: kaseya! } };
  const byClassification = policy.classificationDefaults.get(patch.classification);
  if (byClassification) {
    return { status: byClassification, basis: { kind: 'default', from: 'classification', name: patch.classification } };
  }
  return { status: policy.fallbackDefault, basis: { kind: 'default', from: 'fallback', name: '' } };
}

/**
 * Kaseya's "Override Default Approval Status with Denied for …" switches: they replace a status that
 * came from a default (stamped or computed), never an explicit approval or a KB override.
 */
function switchDenies(policy: ApprovalPolicy, patch: ApprovalPatch): PolicyBasis | undefined {
  if (policy.denyManualInstallOnly && patch.installType === InstallType.ManualInstallOnly) {
    return { kind: 'switch', installType: patch.installType };
  }
  if (policy.denyWindowsUpdateWebSite && patch.installType === InstallType.WindowsUpdateWebSite) {
    return { kind: 'switch', installType: patch.installType };
  }
  if (policy.denySuperseded && patch.supersededBy) return { kind: 'switch', supersededBy: patch.supersededBy };
  return undefined;
}

/**
 * A policy's status for a patch: the KB Override for its KB (all policies, present and future patches
 * of that KB) → the policy's explicit row (Approval by Policy / by Patch) → the default-based status
 * (the stamped row, else the policy's default now), with the deny switches applied to it.
 * `kbOverrides` is the normalised index from kbOverrideIndex.
 */
export function policyVerdict(
  policy: ApprovalPolicy, patch: ApprovalPatch, kbOverrides: ReadonlyMap<string, ApprovalStatus>, nowMs = Number.NaN,
): PolicyVerdict {
  if (kbOverrides.size > 0) {
    const kb = normaliseKb(patch.kb);
    const override = kbOverrides.get(kb);
    if (override) return { status: override, basis: { kind: 'kb_override', kb } };
  }
  const row = policy.approvals.get(patch.updateId);
  if (row?.source === 'explicit') return deferred({ status: row.status, basis: { kind: 'explicit', note: row.note } }, row.approveAfterDays, patch, nowMs);
  const denied = switchDenies(policy, patch);
  if (denied) return { status: 'denied', basis: denied };
  if (row) return deferred({ status: row.status, basis: { kind: 'stamp', note: row.note } }, row.approveAfterDays, patch, nowMs);
  const byDefault = defaultFor(policy, patch);
  const b = byDefault.basis as Extract<PolicyBasis, { kind: 'default' }>;
  return deferred(byDefault, policy.defaultDeferrals?.get(`${b.from}:${b.name}`), patch, nowMs);
}

/**
 * An Approved verdict with a deferral ("approve N days after release"): Pending Approval until the
 * release date + N days, Approved from then on; either way the basis says so. Only an approval is
 * deferred: a Denied or Pending status stands as it is. A KB Override is never deferred (it is the
 * operator's word for every policy at once).
 */
function deferred(v: PolicyVerdict, days: number | undefined, patch: ApprovalPatch, nowMs: number): PolicyVerdict {
  if (days === undefined || v.status !== 'approved' || v.basis.kind === 'deferred') return v;
  const deferral = deferralAt(patch.releasedAt, days, nowMs);
  return { status: deferral.deferred ? 'pending_approval' : 'approved', basis: { kind: 'deferred', deferral, approvedBy: v.basis } };
}

const STATUS_LABEL: Record<ApprovalStatus, string> = {
  approved: 'Approved', pending_approval: 'Pending Approval', denied: 'Denied',
};

export const statusLabel = (s: ApprovalStatus) => STATUS_LABEL[s];

/** The part of a reason after the policy's name: "classification 'Service Packs' default". */
export function describeBasis(v: PolicyVerdict): string {
  const b = v.basis;
  switch (b.kind) {
    case 'deferred':
      // the approval's own basis, as it reads when approved: "deferred until …: approved 7 days after release (… default)"
      return `${describeDeferral(b.deferral)} (${describeBasis({ status: 'approved', basis: b.approvedBy })})`;
    case 'kb_override':
      return `KB Override for ${b.kb}`;
    case 'explicit': {
      const what = v.status === 'approved' ? 'explicit approval'
        : v.status === 'denied' ? 'explicitly denied' : 'explicitly set to Pending Approval';
      return b.note ? `${what} (${b.note})` : what;
    }
    case 'switch':
      if (b.supersededBy) return `superseded updates are denied (superseded by ${b.supersededBy})`;
      return b.installType === InstallType.ManualInstallOnly
        ? "\"Manual Install Only\" updates are denied" : "\"Windows Update Web Site\" updates are denied";
    case 'stamp':
      return b.note ? `${b.note} default` : 'default approval status stamped when the patch was discovered';
    case 'default':
      if (b.from === 'fallback') return 'new patch, the policy\'s fallback default';
      return `new patch, ${b.from === 'kaseya_classification' ? 'Kaseya classification' : b.from} '${b.name}' default`;
  }
}
