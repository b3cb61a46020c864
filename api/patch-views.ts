import { loadApprovalModel, loadDeviceStates } from '../db/approval-model-loader';
import type { Db } from '../db/database';
import { findDevice } from '../db/fleet-repository';
import { listDevicePatches, type DevicePatchRow } from '../db/patch-repository';
import type { ApprovalDecision } from '../domain/approval-model';
import { explainDecision } from '../domain/approval-resolver';
import { NotFoundError } from '../domain/errors';

export interface DeviceApprovalRow extends ApprovalDecision {
  updateId: string;
  kb: string;
  title: string;
  classification: string;
  product: string;
  status: DevicePatchRow['status'];
  installedAt: string | null;
  failedAttempts: number;
}

/**
 * A device's patches with what approval decides for each: the device's status, and the resolver's
 * decision with its one-line reason (policies, KB overrides and actions by scope).
 */
export async function deviceApprovals(db: Db, deviceId: string): Promise<{ deviceId: string; policyIds: readonly string[]; patches: DeviceApprovalRow[] }> {
  if (!(await findDevice(db, deviceId))) throw new NotFoundError('device', deviceId);
  const patches = await listDevicePatches(db, deviceId);
  const model = await loadApprovalModel(db, { deviceIds: [deviceId] });
  const states = await loadDeviceStates(db, [deviceId]);
  return {
    deviceId,
    policyIds: model.devices[0]?.policyIds ?? [],
    patches: patches.map((p) => {
      const { decision, reason, reprocessFailed } = explainDecision(model, deviceId, p.updateId, states);
      return {
        updateId: p.updateId, kb: p.kb, title: p.title, classification: p.classification, product: p.product,
        status: p.status, installedAt: p.installedAt, failedAttempts: p.failedAttempts, decision, reason, reprocessFailed,
      };
    }),
  };
}
