/**
 * The approval resolver: for a device and a patch, the effective decision (Approved, Pending Approval,
 * Denied, Ignored, Uninstall) and why. N-able's actions by scope first (device → site → client →
 * device type, the nearest action other than Inherit wins), then Kaseya's approval policies (most
 * restrictive across the device's policies). DOMAIN-RULES §1.1, §1.2, §2.8, §2.9, rules 1–10, 32–35, 42.
 *
 * explainDecision answers one pair with a reason, for views; resolveFleet answers every pair of the
 * model at once into typed arrays, for installs and reports. Both use policyVerdict, and a test holds
 * them to the same answers on a random model.
 */
import {
  type ApprovalDecision, type ApprovalDevice, type ApprovalModel, type ApprovalPatch, type ApprovalPolicy,
  type ApprovalStatus, Decision, type DevicePatchState, PatchAction, type ScopeLevel, SCOPE_WALK, scopeIdOf,
  installsAutomatically, installsOnRequest,
} from './approval-model';
import {
  type PolicyVerdict, describeBasis, kbOverrideIndex, policyVerdict, statusLabel,
} from './approval-policy-status';
import { NotFoundError } from './errors';
import { PatchStatus } from './patch-status';

/**
 * What the device reports for a patch, looked up only for Uninstall actions (an Uninstall applies to
 * an installed, uninstallable patch): a lookup function, or a map device id → update id → state (what
 * db/ loads for a set of devices). Without it no Uninstall applies: the state is unknown.
 */
export type DeviceStates =
  | ((deviceId: string, updateId: string) => DevicePatchState | undefined)
  | ReadonlyMap<string, ReadonlyMap<string, DevicePatchState>>;

type StateLookup = (deviceId: string, updateId: string) => DevicePatchState | undefined;

const lookupOf = (states: DeviceStates | undefined): StateLookup | undefined =>
  (states === undefined || typeof states === 'function' ? states : (deviceId, updateId) => states.get(deviceId)?.get(updateId));

/** Indexes by id, built once per model array (first wins on a duplicate id, as in resolveFleet). */
const indexes = new WeakMap<readonly { id?: string; updateId?: string }[], Map<string, unknown>>();
function byId<T extends { id: string } | { updateId: string }>(list: readonly T[], id: string): T | undefined {
  let index = indexes.get(list) as Map<string, T> | undefined;
  if (!index) {
    index = new Map();
    for (const x of list) {
      const key = 'updateId' in x ? x.updateId : x.id;
      if (!index.has(key)) index.set(key, x);
    }
    indexes.set(list, index);
  }
  return index.get(id);
}

// ---------------------------------------------------------------------------------------------------
// One decision, with its reason

/** "on device SRV-01", "at site 'HQ'", "at client 'Acme'", "for all servers". */
function scopePhrase(model: ApprovalModel, d: ApprovalDevice, level: ScopeLevel): string {
  switch (level) {
    case 'device': return `on device ${d.name}`;
    case 'site': return `at site '${model.names.sites.get(d.siteId) ?? d.siteId}'`;
    case 'client': return `at client '${model.names.clients.get(d.clientId) ?? d.clientId}'`;
    case 'device_type': return `for all ${d.deviceType}s`;
  }
}

/** The nearest action other than Inherit, walking device → site → client → device type. */
function nearestAction(model: ApprovalModel, d: ApprovalDevice, updateId: string) {
  for (const level of SCOPE_WALK) {
    const action = model.actions.get(`${level}:${scopeIdOf(d, level)}`)?.get(updateId);
    if (action && action !== PatchAction.Inherit) return { action, level };
  }
  return undefined;
}

/** A policy id the model does not hold: nothing is approved through it until it is loaded. */
const unknownPolicy = (id: string): ApprovalPolicy => ({
  id, name: id, denyManualInstallOnly: false, denyWindowsUpdateWebSite: false, denySuperseded: false,
  approvals: new Map(), classificationDefaults: new Map(), kaseyaClassificationDefaults: new Map(), productDefaults: new Map(),
  fallbackDefault: 'pending_approval',
});

/** The model's instant in ms, NaN when it has none (deferred approvals then stay deferred). */
const nowOf = (model: ApprovalModel): number => (model.now === undefined ? Number.NaN : Date.parse(model.now));

const RANK: Record<ApprovalStatus, number> = { approved: 0, pending_approval: 1, denied: 2 };

/** The policies' decision: most restrictive across the device's policies, naming the first that gives it. */
function policyDecision(model: ApprovalModel, d: ApprovalDevice, patch: ApprovalPatch): { status: ApprovalStatus; reason: string } {
  if (d.policyIds.length === 0) {
    return { status: 'approved', reason: 'Approved: device is in no approval policy: every missing patch installs' };
  }
  const overrides = kbOverrideIndex(model.kbOverrides);
  let worst: { policy: ApprovalPolicy; verdict: PolicyVerdict; loaded: boolean } | undefined;
  for (const id of d.policyIds) {
    const loaded = byId(model.policies, id);
    const policy = loaded ?? unknownPolicy(id);
    const verdict = policyVerdict(policy, patch, loaded ? overrides : new Map(), nowOf(model));
    if (!worst || RANK[verdict.status] > RANK[worst.verdict.status]) worst = { policy, verdict, loaded: !!loaded };
  }
  const { policy, verdict, loaded } = worst!;
  const basis = loaded ? describeBasis(verdict) : 'the policy is not loaded, so nothing is approved through it';
  return { status: verdict.status, reason: `${statusLabel(verdict.status)} by policy '${policy.name}': ${basis}` };
}

function findDevice(model: ApprovalModel, deviceId: string): ApprovalDevice {
  const d = byId(model.devices, deviceId);
  if (!d) throw new NotFoundError('device', deviceId);
  return d;
}

function findPatch(model: ApprovalModel, updateId: string): ApprovalPatch {
  const p = byId(model.patches, updateId);
  if (!p) throw new NotFoundError('patch', updateId);
  return p;
}

/**
 * One (device, patch) decision and the line an operator reads, e.g. "Ignored at site 'HQ'" or
 * "Denied by policy 'D - Production - Server': classification 'Service Packs' default".
 * Walks the model directly: meant for views, one pair at a time. Throws NotFoundError for an
 * unknown device or patch.
 */
export function explainDecision(
  model: ApprovalModel, deviceId: string, updateId: string, deviceStates?: DeviceStates,
): ApprovalDecision {
  const d = findDevice(model, deviceId);
  const patch = findPatch(model, updateId);
  const nearest = nearestAction(model, d, updateId);
  const where = nearest ? scopePhrase(model, d, nearest.level) : '';
  const byPolicy = (suffix = '', reprocessFailed = false): ApprovalDecision => {
    const { status, reason } = policyDecision(model, d, patch);
    return { decision: status, reprocessFailed, reason: reason + suffix };
  };
  switch (nearest?.action) {
    case undefined:
    case PatchAction.DoNothing:
      return byPolicy();
    case PatchAction.Ignore:
      return { decision: Decision.Ignored, reprocessFailed: false, reason: `Ignored ${where}` };
    case PatchAction.Approve:
      return { decision: Decision.Approved, reprocessFailed: false, reason: `Approved ${where}` };
    case PatchAction.ReprocessFailed:
      return byPolicy(`; failed attempts reset by Reprocess failed ${where}`, true);
    case PatchAction.Uninstall: {
      const state = lookupOf(deviceStates)?.(d.id, updateId);
      if (state?.status === PatchStatus.Installed && patch.uninstallable) {
        return { decision: Decision.Uninstall, reprocessFailed: false, reason: `Uninstall ${where}` };
      }
      const why = !patch.uninstallable ? 'the patch is not uninstallable'
        : !state ? "the patch's state on this device is unknown" : `the patch is ${state.status}, not installed`;
      return byPolicy(`; Uninstall ${where} not applied: ${why}`);
    }
    default:
      // Inherit never comes back from nearestAction
      return byPolicy();
  }
}

// ---------------------------------------------------------------------------------------------------
// Every decision of the fleet, in one pass

/** A decision as a byte in FleetDecisions: the low 3 bits; REPROCESS_FAILED_BIT on top. */
export const DecisionCode = { Approved: 0, PendingApproval: 1, Denied: 2, Ignored: 3, Uninstall: 4 } as const;
export type DecisionCode = (typeof DecisionCode)[keyof typeof DecisionCode];
export const REPROCESS_FAILED_BIT = 8;
const CODE_MASK = 7;
export const DECISION_OF_CODE: readonly Decision[] = ['approved', 'pending_approval', 'denied', 'ignored', 'uninstall'];
const STATUS_CODE: Record<ApprovalStatus, DecisionCode> = { approved: 0, pending_approval: 1, denied: 2 };

// action bytes in the per-scope index (0 = none / Inherit, which the index drops)
const A_APPROVE = 1;
const A_IGNORE = 2;
const A_DO_NOTHING = 3;
const A_REPROCESS = 4;
const A_UNINSTALL = 5;
const ACTION_BYTE: Record<PatchAction, number> = {
  inherit: 0, approve: A_APPROVE, ignore: A_IGNORE, do_nothing: A_DO_NOTHING, reprocess_failed: A_REPROCESS, uninstall: A_UNINSTALL,
};

/** One scope's actions as parallel arrays: patch index → action byte. */
interface ScopeActions { index: Int32Array; action: Uint8Array }

/**
 * Every (device, patch) decision of a model: one byte each, device-major. A byte is a DecisionCode
 * in its low bits, with REPROCESS_FAILED_BIT set where a Reprocess failed action applies. Reasons are
 * not stored: explain() asks explainDecision for the one pair a view shows.
 */
export class FleetDecisions {
  /** patch index → update id (the model's patch order) */
  readonly updateIds: readonly string[];
  readonly deviceIds: readonly string[];
  private readonly patchIndexOf = new Map<string, number>();
  private readonly deviceIndexOf = new Map<string, number>();

  constructor(
    private readonly model: ApprovalModel,
    private readonly deviceStates: DeviceStates | undefined,
    /** codes[deviceIndex * updateIds.length + patchIndex] */
    readonly codes: Uint8Array,
  ) {
    this.updateIds = model.patches.map((p) => p.updateId);
    this.deviceIds = model.devices.map((d) => d.id);
    this.updateIds.forEach((id, i) => { if (!this.patchIndexOf.has(id)) this.patchIndexOf.set(id, i); });
    this.deviceIds.forEach((id, i) => { if (!this.deviceIndexOf.has(id)) this.deviceIndexOf.set(id, i); });
  }

  get size(): number {
    return this.codes.length;
  }

  patchIndex(updateId: string): number {
    return this.patchIndexOf.get(updateId) ?? -1;
  }

  /** The device's bytes, indexed by patch index (a view, not a copy). Throws NotFoundError. */
  decisionsFor(deviceId: string): Uint8Array {
    const i = this.deviceIndexOf.get(deviceId);
    if (i === undefined) throw new NotFoundError('device', deviceId);
    const n = this.updateIds.length;
    return this.codes.subarray(i * n, (i + 1) * n);
  }

  /** One pair's decision without its reason. Throws NotFoundError. */
  decisionOf(deviceId: string, updateId: string): { decision: Decision; reprocessFailed: boolean } {
    const i = this.patchIndex(updateId);
    if (i < 0) throw new NotFoundError('patch', updateId);
    const byte = this.decisionsFor(deviceId)[i];
    return { decision: DECISION_OF_CODE[byte & CODE_MASK], reprocessFailed: (byte & REPROCESS_FAILED_BIT) !== 0 };
  }

  /** One pair's decision with its reason (explainDecision on the same model and device states). */
  explain(deviceId: string, updateId: string): ApprovalDecision {
    return explainDecision(this.model, deviceId, updateId, this.deviceStates);
  }

  /** How many pairs got each decision, and how many carry Reprocess failed. */
  counts(): Record<Decision, number> & { reprocessFailed: number } {
    const perCode = new Float64Array(16);
    for (let i = 0; i < this.codes.length; i++) perCode[this.codes[i]]++;
    const out = { approved: 0, pending_approval: 0, denied: 0, ignored: 0, uninstall: 0, reprocessFailed: 0 };
    perCode.forEach((n, byte) => {
      if (n === 0) return;
      out[DECISION_OF_CODE[byte & CODE_MASK]] += n;
      if (byte & REPROCESS_FAILED_BIT) out.reprocessFailed += n;
    });
    return out;
  }

  /** Update ids of the device whose byte passes `keep`, in patch order. */
  updateIdsWhere(deviceId: string, keep: (d: Decision) => boolean): string[] {
    const row = this.decisionsFor(deviceId);
    const keepCode = DECISION_OF_CODE.map(keep);
    const out: string[] = [];
    for (let i = 0; i < row.length; i++) if (keepCode[row[i] & CODE_MASK]) out.push(this.updateIds[i]);
    return out;
  }
}

/** Per policy, a status code per patch index (KB overrides, rows, stamps, defaults and switches folded in). */
function policyCodes(model: ApprovalModel): Map<string, Uint8Array> {
  const overrides = kbOverrideIndex(model.kbOverrides);
  const nowMs = nowOf(model);
  const out = new Map<string, Uint8Array>();
  for (const policy of model.policies) {
    if (out.has(policy.id)) continue;
    const codes = new Uint8Array(model.patches.length);
    model.patches.forEach((p, i) => { codes[i] = STATUS_CODE[policyVerdict(policy, p, overrides, nowMs).status]; });
    out.set(policy.id, codes);
  }
  return out;
}

/** Per scope key, its actions other than Inherit on patches of the model. */
function scopeActions(model: ApprovalModel, patchIndexOf: (updateId: string) => number): Map<string, ScopeActions> {
  const out = new Map<string, ScopeActions>();
  for (const [key, byPatch] of model.actions) {
    const index: number[] = [];
    const action: number[] = [];
    for (const [updateId, a] of byPatch) {
      const i = patchIndexOf(updateId);
      if (i >= 0 && ACTION_BYTE[a]) { index.push(i); action.push(ACTION_BYTE[a]); }
    }
    if (index.length > 0) out.set(key, { index: Int32Array.from(index), action: Uint8Array.from(action) });
  }
  return out;
}

/**
 * Every (device, patch) decision of the model in one pass. Policies are folded once into a status
 * byte per patch; devices sharing a set of policies share its most-restrictive row, copied per device;
 * then the sparse actions of the device's four scopes are applied (the nearest non-Inherit one wins).
 * Cost: policies × patches + policy sets × patches + devices × patches (a copy) + actions.
 */
export function resolveFleet(model: ApprovalModel, deviceStates?: DeviceStates): FleetDecisions {
  const patchCount = model.patches.length;
  const codes = new Uint8Array(model.devices.length * patchCount);
  const fleet = new FleetDecisions(model, deviceStates, codes);
  const stateOf = lookupOf(deviceStates);
  const byPolicy = policyCodes(model);
  const byScope = scopeActions(model, (id) => fleet.patchIndex(id));
  const bySet = new Map<string, Uint8Array>();
  const pending = new Uint8Array(patchCount).fill(DecisionCode.PendingApproval);

  const combined = (policyIds: readonly string[]): Uint8Array => {
    const key = policyIds.length === 1 ? policyIds[0] : [...new Set(policyIds)].sort().join('\n');
    let row = bySet.get(key);
    if (!row) {
      // no policy: all approved (zeros); otherwise the most restrictive (largest) code per patch
      row = new Uint8Array(patchCount);
      for (const id of policyIds) {
        const p = byPolicy.get(id) ?? pending;
        for (let i = 0; i < patchCount; i++) if (p[i] > row[i]) row[i] = p[i];
      }
      bySet.set(key, row);
    }
    return row;
  };

  // scratch: the nearest action per patch index while one device is resolved, and which were touched
  const nearest = new Uint8Array(patchCount);
  const touched = new Int32Array(patchCount);
  const levels: (ScopeActions | undefined)[] = new Array(SCOPE_WALK.length);
  model.devices.forEach((d, di) => {
    const offset = di * patchCount;
    codes.set(combined(d.policyIds), offset);
    for (let l = 0; l < SCOPE_WALK.length; l++) levels[l] = byScope.get(`${SCOPE_WALK[l]}:${scopeIdOf(d, SCOPE_WALK[l])}`);
    let n = 0;
    // farthest level first, so that a nearer action overwrites it
    for (let l = SCOPE_WALK.length - 1; l >= 0; l--) {
      const s = levels[l];
      if (!s) continue;
      for (let k = 0; k < s.index.length; k++) {
        const i = s.index[k];
        if (nearest[i] === 0) touched[n++] = i;
        nearest[i] = s.action[k];
      }
    }
    for (let k = 0; k < n; k++) {
      const i = touched[k];
      const a = nearest[i];
      nearest[i] = 0;
      const at = offset + i;
      if (a === A_IGNORE) codes[at] = DecisionCode.Ignored;
      else if (a === A_APPROVE) codes[at] = DecisionCode.Approved;
      else if (a === A_REPROCESS) codes[at] |= REPROCESS_FAILED_BIT;
      else if (a === A_UNINSTALL) {
        const p = model.patches[i];
        if (p.uninstallable && stateOf?.(d.id, p.updateId)?.status === PatchStatus.Installed) codes[at] = DecisionCode.Uninstall;
      }
      // A_DO_NOTHING: the policy's code stands
    }
  });
  return fleet;
}

/** Resolves one device (e.g. before an install): the same answers as resolveFleet, for its row only. */
export function resolveDevice(model: ApprovalModel, deviceId: string, deviceStates?: DeviceStates): FleetDecisions {
  return resolveFleet({ ...model, devices: [findDevice(model, deviceId)] }, deviceStates);
}

/**
 * Update ids Automatic and Initial Update may install on the device: Approved only (Pending Approval
 * counts as Denied, DOMAIN-RULES rule 9).
 */
export function automaticInstalls(fleet: FleetDecisions, deviceId: string): string[] {
  return fleet.updateIdsWhere(deviceId, installsAutomatically);
}

/**
 * Update ids an explicit install (Patch/Machine Update) may install on the device: it overrides
 * Pending Approval and Denied, never an Ignore (rules 7, 10); an Uninstall is a removal, not an install.
 */
export function requestableInstalls(fleet: FleetDecisions, deviceId: string): string[] {
  return fleet.updateIdsWhere(deviceId, installsOnRequest);
}
