/**
 * The approval model: everything that decides whether a patch may install on a device, as plain data.
 * Kaseya's approval policies (per-policy statuses stamped from defaults, KB overrides, force-deny
 * switches, most-restrictive across policies) and N-able's actions by scope (device → site → client →
 * device type, first explicit action wins). The resolver (domain/approval-resolver.ts) reads only this;
 * db/ loads it, api/ edits what it is built from. See ../shared/DOMAIN-RULES.md §1.1, §1.2, §2.8, §2.9.
 */

/** A policy's approval status for a patch. */
export const ApprovalStatus = {
  Approved: 'approved',
  /** Kaseya: Pending Approval counts as Denied for Automatic and Initial Update. */
  PendingApproval: 'pending_approval',
  Denied: 'denied',
} as const;
export type ApprovalStatus = (typeof ApprovalStatus)[keyof typeof ApprovalStatus];

/** Most restrictive first: a device in several policies gets the first of these any policy gives. */
export const RESTRICTIVENESS: readonly ApprovalStatus[] = ['denied', 'pending_approval', 'approved'];

/** An action set for a patch at one scope level (N-able's Patch Management Workflow). */
export const PatchAction = {
  /** not set here: ask the level above */
  Inherit: 'inherit',
  Approve: 'approve',
  /** no install path installs the patch until the Ignore is cleared */
  Ignore: 'ignore',
  /** no override: the policy's decision stands (and stops the walk up) */
  DoNothing: 'do_nothing',
  /** the policy decides, and Failed patches become eligible again (attempts reset) */
  ReprocessFailed: 'reprocess_failed',
  /** remove the patch on the next run (only installed patches marked uninstallable) */
  Uninstall: 'uninstall',
} as const;
export type PatchAction = (typeof PatchAction)[keyof typeof PatchAction];

/** Scope levels, nearest first: the order the resolver walks. */
export const ScopeLevel = {
  Device: 'device',
  Site: 'site',
  Client: 'client',
  /** scope id is "server" or "workstation" */
  DeviceType: 'device_type',
} as const;
export type ScopeLevel = (typeof ScopeLevel)[keyof typeof ScopeLevel];
export const SCOPE_WALK: readonly ScopeLevel[] = ['device', 'site', 'client', 'device_type'];

/** How a patch is installed, as Windows Update describes it. */
export const InstallType = {
  Normal: 'normal',
  /** cannot install silently (Kaseya "Manual Install Only") */
  ManualInstallOnly: 'manual_install_only',
  /** only through the Windows Update web site */
  WindowsUpdateWebSite: 'windows_update_web_site',
} as const;
export type InstallType = (typeof InstallType)[keyof typeof InstallType];

/** A catalog patch, as far as approval cares. */
export interface ApprovalPatch {
  updateId: string;
  kb: string;
  title: string;
  classification: string;
  product: string;
  /** MSRC severity ("Unrated" when none): splits Security Updates into Kaseya's classifications */
  severity: string;
  installType: InstallType;
  /** KB or update id of the update that supersedes this one, if any */
  supersededBy: string | null;
  uninstallable: boolean;
  /**
   * The catalog's release date (ISO, "2026-12-10" or an instant): an approval deferred "N days after
   * release" counts from it. Absent or null: unknown, so a deferred approval does not take effect.
   */
  releasedAt?: string | null;
}

/** Where a policy's status for a patch came from. */
export const ApprovalSource = {
  /** stamped from the policy's product/Kaseya classification/classification default when the patch was first discovered */
  Default: 'default',
  /** set for this patch in this policy (Approval by Policy), or in all policies at once (Approval by Patch) */
  Explicit: 'explicit',
} as const;
export type ApprovalSource = (typeof ApprovalSource)[keyof typeof ApprovalSource];

export interface PolicyApproval {
  status: ApprovalStatus;
  source: ApprovalSource;
  /** for a default stamp: which default ("classification 'Service Packs'"); for explicit: who/when, free text */
  note?: string;
  /**
   * An Approved status that takes effect only this many days (1–360) after the patch's release
   * (N-able's "approve N days after release"): until then the patch is Pending Approval, deferred.
   * Stamped from the default that gave the status, or set with an explicit approval.
   */
  approveAfterDays?: number;
}

export interface ApprovalPolicy {
  id: string;
  name: string;
  /** Kaseya's switches: override the *default* status with Denied for these kinds of updates */
  denyManualInstallOnly: boolean;
  denyWindowsUpdateWebSite: boolean;
  denySuperseded: boolean;
  /** the policy's status per update id (stamped or explicit); absent = not yet stamped */
  approvals: ReadonlyMap<string, PolicyApproval>;
  /** defaults used for a patch the policy has no row for yet */
  classificationDefaults: ReadonlyMap<string, ApprovalStatus>;
  /** keyed by Kaseya's classification name (domain/kaseya-classification.ts) */
  kaseyaClassificationDefaults: ReadonlyMap<string, ApprovalStatus>;
  productDefaults: ReadonlyMap<string, ApprovalStatus>;
  /** the default when no product, Kaseya classification or classification default exists (Pending Approval) */
  fallbackDefault: ApprovalStatus;
  /**
   * Deferrals of Approved defaults, in days after release, keyed `${kind}:${key}` with kind
   * classification, kaseya_classification or product ("classification:Security Updates" → 7).
   * Absent: no default is deferred.
   */
  defaultDeferrals?: ReadonlyMap<string, number>;
}

/** A device with where it sits in the scope tree and the policies it is in (directly or through a scope). */
export interface ApprovalDevice {
  id: string;
  name: string;
  siteId: string;
  clientId: string;
  deviceType: 'server' | 'workstation';
  policyIds: readonly string[];
}

/** The device's scope id at a level: its own id, its site's, its client's, or its type ("server"). */
export const scopeIdOf = (d: ApprovalDevice, level: ScopeLevel): string =>
  (level === 'device' ? d.id : level === 'site' ? d.siteId : level === 'client' ? d.clientId : d.deviceType);

/** Names for reasons ("Ignored at site 'HQ'"). */
export interface ScopeNames {
  sites: ReadonlyMap<string, string>;
  clients: ReadonlyMap<string, string>;
}

/** What the device reports and Patchflow tracks for a patch on it (only what approval needs). */
export interface DevicePatchState {
  /** a PatchStatus value: 'missing', 'installed', 'failed', ... */
  status: string;
  failedAttempts: number;
}

export interface ApprovalModel {
  patches: readonly ApprovalPatch[];
  devices: readonly ApprovalDevice[];
  policies: readonly ApprovalPolicy[];
  /** KB Override: a status for every present and future patch of a KB, in all policies */
  kbOverrides: ReadonlyMap<string, ApprovalStatus>;
  /** actions by scope: key `${level}:${scopeId}` (device type scope id "server"/"workstation") → update id → action */
  actions: ReadonlyMap<string, ReadonlyMap<string, PatchAction>>;
  names: ScopeNames;
  /**
   * The instant the decisions are for (ISO): a deferred approval ("N days after release") is Approved
   * only from release + N days on. It comes in with the model so that the resolver stays pure (db/
   * loads the current time; what-if may ask for the next run's). Absent: every deferred approval is
   * still deferred (nothing approves early for want of a clock).
   */
  now?: string;
}

/** The effective decision for one (device, patch). */
export const Decision = {
  /** policy (or an Approve action) approves: Automatic and Initial Update install it */
  Approved: 'approved',
  /** pending approval: shown as such, installs only by explicit request */
  PendingApproval: 'pending_approval',
  /** denied by policy: installs only by explicit request */
  Denied: 'denied',
  /** an Ignore action: no install path installs it */
  Ignored: 'ignored',
  /** an Uninstall action on an installed, uninstallable patch: removed on the next run */
  Uninstall: 'uninstall',
} as const;
export type Decision = (typeof Decision)[keyof typeof Decision];

export interface ApprovalDecision {
  decision: Decision;
  /** a Reprocess failed action applies: Failed attempts are reset and the patch is eligible again */
  reprocessFailed: boolean;
  /** one line an operator can read: "Denied by policy 'D - Production - Server': classification 'Service Packs' default" */
  reason: string;
}

/** May Automatic or Initial Update install the patch? Only an approved one (Pending counts as Denied). */
export function installsAutomatically(d: Decision): boolean {
  return d === Decision.Approved;
}

/** May an explicit install (these KBs on this device) install it? Anything but an Ignore. */
export function installsOnRequest(d: Decision): boolean {
  return d !== Decision.Ignored && d !== Decision.Uninstall;
}
