import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { appendAudit, type AuditEntry } from '../db/audit-repository';
import { cancelOpenCommands } from '../db/command-repository';
import { withTransaction, type Db } from '../db/database';
import { releaseDevice } from '../db/operation-repository';
import { applyPatchStates, catalogFiles, reconcileScan, upsertCatalog, type PatchStateChange } from '../db/patch-repository';
import type { PatchFile, ScanResult } from '../domain/device-protocol';
import { DeviceBusyError } from '../domain/errors';
import { claimDeviceForOperation } from './device-claim';
import { PatchStatus } from '../domain/patch-status';

const AUDITED: Partial<Record<PatchStatus, string>> = {
  [PatchStatus.Installed]: 'patch.installed',
  [PatchStatus.RebootRequired]: 'patch.installed_pending_reboot',
  [PatchStatus.Failed]: 'patch.failed',
};

/** Short bookkeeping steps of an install, run as local activities (cheap in history events). */
export function createInstallBookkeepingActivities(deps: { db: Db; client: Client; log: Logger }) {
  const { db } = deps;
  return {
    /**
     * Claims the device for this workflow: at most one install operation per device. A claim held by
     * a workflow that no longer runs is taken over; one held by a running workflow fails for good.
     */
    async claimDeviceOperation(args: { deviceId: string; workflowId: string; operation: string }): Promise<void> {
      try {
        await claimDeviceForOperation(deps, args);
      } catch (err) {
        if (err instanceof DeviceBusyError) {
          throw ApplicationFailure.create({ type: err.type, message: err.message, nonRetryable: true });
        }
        throw err;
      }
    },

    async releaseDeviceOperation(args: { deviceId: string; workflowId: string }): Promise<void> {
      await releaseDevice(db, args.deviceId, args.workflowId);
    },

    /**
     * Stores a scan: upserts the catalog and reconciles the device's statuses in one transaction.
     * Returns the catalog's file facts for the updates the device reported, because the catalog (not
     * the device) says what each file must hash to.
     */
    async recordScan(deviceId: string, scan: ScanResult): Promise<Record<string, PatchFile>> {
      return withTransaction(db, async (tx) => {
        await upsertCatalog(tx, scan.updates);
        await reconcileScan(tx, deviceId, scan.updates);
        return catalogFiles(tx, scan.updates.map((u) => u.updateId));
      });
    },

    /** Writes patch status changes in one batch, with an audit row per install outcome. */
    async recordPatchStates(args: { deviceId: string; workflowId: string; changes: (PatchStateChange & { kb: string })[] }): Promise<void> {
      const audit: AuditEntry[] = args.changes
        .filter((c) => AUDITED[c.status])
        .map((c) => ({
          actor: `workflow:${args.workflowId}`,
          action: AUDITED[c.status]!,
          deviceId: args.deviceId,
          subject: c.kb,
          details: { updateId: c.updateId, exitCode: c.exitCode ?? null, error: c.error ?? null },
        }));
      await withTransaction(db, async (tx) => {
        await applyPatchStates(tx, args.deviceId, args.workflowId, args.changes);
        await appendAudit(tx, audit);
      });
    },

    /** Withdraws commands the device has not answered (an install that stops early); returns how many. */
    async withdrawOpenCommands(args: { workflowId: string }): Promise<number> {
      return cancelOpenCommands(db, args.workflowId);
    },

    async audit(entry: AuditEntry): Promise<void> {
      await appendAudit(db, [entry]);
    },
  };
}
