import { loadApprovalModel, loadDeviceStates } from '../db/approval-model-loader';
import type { Db } from '../db/database';
import { findDevice } from '../db/fleet-repository';
import { listDevicePatches, type DevicePatchRow } from '../db/patch-repository';
import { listUnverified, type UnverifiedRow } from '../db/scan-repository';
import type { ApprovalDecision } from '../domain/approval-model';
import { explainDecision } from '../domain/approval-resolver';
import { NotFoundError } from '../domain/errors';
import type { PatchStatus } from '../domain/patch-status';

/** "unverified": the device reports the update, the catalog does not confirm it; it never installs. */
export const UNVERIFIED = 'unverified';

export interface DevicePatchView extends Omit<DevicePatchRow, 'status'> {
  status: PatchStatus | typeof UNVERIFIED;
  /** false: the device's last scan reported this update at a revision the catalog does not confirm */
  verified: boolean;
  /** why it is unverified ("unverified: not in the catalog"), else null */
  unverifiedReason: string | null;
}

function unverifiedView(u: UnverifiedRow): DevicePatchView {
  return {
    updateId: u.updateId, kb: u.kbHint ?? u.updateId, title: u.titleHint ?? '(unknown update)', product: '', classification: '', severity: '',
    status: UNVERIFIED, statusChangedAt: u.lastReportedAt, installedAt: null, lastExitCode: null, lastError: null, failedAttempts: 0,
    lastOperationId: null, rolledBackAt: null, loopComebacks: 0, verified: false, unverifiedReason: u.reason,
  };
}

/**
 * A device's patches as operators see them: its statuses for catalog updates, each flagged verified or
 * not, and the updates only the device knows (status "unverified", with the reason).
 */
export async function devicePatches(db: Db, deviceId: string, filter: { status?: PatchStatus | typeof UNVERIFIED } = {}): Promise<DevicePatchView[]> {
  const unverified = await listUnverified(db, deviceId);
  const byId = new Map(unverified.map((u) => [u.updateId, u]));
  const rows = filter.status === UNVERIFIED ? await listDevicePatches(db, deviceId) : await listDevicePatches(db, deviceId, { status: filter.status });
  const known = rows.map((r): DevicePatchView => ({ ...r, verified: !byId.has(r.updateId), unverifiedReason: byId.get(r.updateId)?.reason ?? null }));
  const listed = new Set(rows.map((r) => r.updateId));
  const onlyDevice = filter.status === undefined || filter.status === UNVERIFIED ? unverified.filter((u) => !listed.has(u.updateId)).map(unverifiedView) : [];
  const all = [...known, ...onlyDevice];
  return filter.status === UNVERIFIED ? all.filter((p) => !p.verified) : all;
}

/** "superseded": its successor is installed on the device, so nothing installs it, whatever approval says. */
export const SUPERSEDED = 'superseded';

export interface DeviceApprovalRow extends Omit<ApprovalDecision, 'decision'> {
  decision: ApprovalDecision['decision'] | typeof UNVERIFIED | typeof SUPERSEDED;
  updateId: string;
  kb: string;
  title: string;
  classification: string;
  product: string;
  status: DevicePatchView['status'];
  installedAt: string | null;
  failedAttempts: number;
}

/**
 * A device's patches with what approval decides for each: the device's status, and the resolver's
 * decision with its one-line reason (policies, KB overrides and actions by scope). An update the
 * catalog does not confirm for this device is "unverified", whatever its approval: it installs by no path.
 */
export async function deviceApprovals(db: Db, deviceId: string): Promise<{ deviceId: string; policyIds: readonly string[]; patches: DeviceApprovalRow[] }> {
  if (!(await findDevice(db, deviceId))) throw new NotFoundError('device', deviceId);
  const patches = await devicePatches(db, deviceId);
  const model = await loadApprovalModel(db, { deviceIds: [deviceId] });
  const states = await loadDeviceStates(db, [deviceId]);
  return {
    deviceId,
    policyIds: model.devices[0]?.policyIds ?? [],
    patches: patches.map((p) => {
      const row = {
        updateId: p.updateId, kb: p.kb, title: p.title, classification: p.classification, product: p.product,
        status: p.status, installedAt: p.installedAt, failedAttempts: p.failedAttempts,
      };
      if (!p.verified) return { ...row, decision: UNVERIFIED, reason: p.unverifiedReason!, reprocessFailed: false };
      if (p.status === 'superseded') {
        return { ...row, decision: SUPERSEDED, reason: `superseded by ${p.supersededBy}, which is installed on this device: nothing to install`, reprocessFailed: false };
      }
      const { decision, reason, reprocessFailed } = explainDecision(model, deviceId, p.updateId, states);
      return { ...row, decision, reason, reprocessFailed };
    }),
  };
}
