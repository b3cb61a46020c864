import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { appendAudit, type AuditEntry } from '../db/audit-repository';
import type { CommandKeyring } from '../config/command-keys';
import { queueCleanupForCheckIn } from '../db/cleanup-repository';
import { cancelOpenCommands } from '../db/command-repository';
import { withTransaction, type Db } from '../db/database';
import { releaseDevice } from '../db/operation-repository';
import { applyPatchStates, catalogFiles, type PatchStateChange } from '../db/patch-repository';
import { PatchStateWriter } from '../db/patch-state-writer';
import { processScan } from '../db/scan-repository';
import { signCommand } from '../domain/command-envelope';
import type { PatchFile, ScanResult } from '../domain/device-protocol';
import { DeviceBusyError } from '../domain/errors';
import { claimDeviceForOperation } from './device-claim';
import { PatchStatus } from '../domain/patch-status';
import { Decision, installsAutomatically, installsOnRequest } from '../domain/approval-model';
import { explainDecision } from '../domain/approval-resolver';
import { loadApprovalModel, loadDeviceStates } from '../db/approval-model-loader';
import type { RefusedPatch } from '../workflows/install.contract';
import { UPDATE_LOOP_LIMIT } from '../domain/wua-update-loop';

const AUDITED: Partial<Record<PatchStatus, string>> = {
  [PatchStatus.Installed]: 'patch.installed',
  [PatchStatus.RebootRequired]: 'patch.installed_pending_reboot',
  [PatchStatus.Failed]: 'patch.failed',
};

/** How long a cleanup queued for a device's next check-in stays valid (signed expiry). */
export const QUEUED_CLEANUP_LIFETIME_MS = 14 * 86_400_000;

/**
 * The identity of the running activity, the same on every retry of it: workflow id, run id, activity
 * id. Writes keyed by it happen once however often the activity is retried.
 */
export function activityKey(): string {
  const info = Context.current().info;
  const run = info.workflowExecution;
  if (!run) throw ApplicationFailure.nonRetryable('bookkeeping runs only inside a workflow', 'Misuse');
  return `${run.workflowId}/${run.runId}/${info.activityId}`;
}

export interface ApprovalSelection {
  /** failed attempts so far of each candidate (Automatic Update retries up to a cap) */
  attempts: Record<string, number>;
  allowed: string[];
  refused: RefusedPatch[];
  uninstall: string[];
  reprocessed: string[];
  /**
   * When the earliest allowed patch was first offered to this device by an install (ISO): a
   * deadline counts from it (domain/install-deadline.ts). Absent when nothing is allowed.
   */
  availableAt?: string;
}

/** What selectByApproval is asked: the plan's candidates and the scan's installed updates. */
export interface ApprovalQuestion {
  deviceId: string;
  candidates: string[];
  installed: string[];
  explicit: boolean;
  failureCap?: number;
}

/** A batch of patch status changes of one install. */
export interface PatchStatesBatch {
  deviceId: string;
  workflowId: string;
  changes: (PatchStateChange & { kb: string })[];
}

/**
 * The approval selection of one device's candidates (see selectByApproval below). `dryRun` (the Patch
 * Test) asks the same question but re-arms nothing: a Reprocess failed action stays for a real install.
 */
export async function selectPatchesByApproval(db: Db, args: ApprovalQuestion, options: { dryRun?: boolean } = {}): Promise<ApprovalSelection> {
  const model = await loadApprovalModel(db, { deviceIds: [args.deviceId] });
  const states = await loadDeviceStates(db, [args.deviceId]);
  const kbOf = new Map(model.patches.map((p) => [p.updateId, p.kb]));
  const selection: ApprovalSelection = { attempts: {}, allowed: [], refused: [], uninstall: [], reprocessed: [] };
  const deviceStates = states.get(args.deviceId);
  // Update loops (db/patch-repository.ts watchUpdateLoops): stopped for every install path.
  const { rows: loopRows } = await db.query(
    `SELECT update_id, last_error, loop_comebacks >= $3::int AS looping FROM device_patches
     WHERE device_id = $1::uuid AND update_id = ANY($2::text[])
       AND (loop_comebacks >= $3::int OR (rolled_back_at IS NOT NULL AND status = 'failed'))`,
    [args.deviceId, args.candidates, UPDATE_LOOP_LIMIT],
  );
  const looping = new Map(loopRows.filter((r) => r.looping).map((r) => [r.update_id as string, r.last_error as string | null]));
  // A patch a failed health check rolled back is not installed again by an automatic run (Intune's
  // Uninstall pauses the update): an explicit install, or Reprocess failed, may try it again.
  const rolledBack = new Map(loopRows.filter((r) => !r.looping).map((r) => [r.update_id as string, r.last_error as string | null]));
  for (const updateId of args.candidates) {
    const d = explainDecision(model, args.deviceId, updateId, states);
    const attempts = d.reprocessFailed ? 0 : deviceStates?.get(updateId)?.failedAttempts ?? 0;
    selection.attempts[updateId] = attempts;
    const may = args.explicit ? installsOnRequest(d.decision) : installsAutomatically(d.decision);
    const kb = kbOf.get(updateId) ?? updateId;
    if (!may) selection.refused.push({ updateId, kb, decision: d.decision, reason: d.reason });
    else if (looping.has(updateId) && !d.reprocessFailed) {
      const reason = looping.get(updateId);
      selection.refused.push({ updateId, kb, decision: 'failed', reason: reason?.startsWith('update loop detected') ? reason : `update loop detected: ${kb}; Reprocess failed to try again` });
    } else if (rolledBack.has(updateId) && !args.explicit && !d.reprocessFailed) {
      selection.refused.push({ updateId, kb, decision: 'failed', reason: `${rolledBack.get(updateId) ?? 'rolled back: health check failed'}; Reprocess failed to try again` });
    } else if (args.failureCap !== undefined && attempts >= args.failureCap) {
      selection.refused.push({ updateId, kb, decision: 'failed', reason: `failed ${attempts} times (the cap is ${args.failureCap}): Reprocess failed to try again` });
    } else selection.allowed.push(updateId);
    if (d.reprocessFailed) selection.reprocessed.push(updateId);
  }
  for (const updateId of args.installed) {
    if (explainDecision(model, args.deviceId, updateId, states).decision === Decision.Uninstall) selection.uninstall.push(updateId);
  }
  if (selection.allowed.length > 0 && !options.dryRun) {
    // First offer of each patch to this device, kept across runs: a deadline must not move with every
    // retry. A dry run (the Patch Test) offers nothing, so it starts no deadline.
    const { rows } = await db.query(
      `UPDATE device_patches SET offered_at = COALESCE(offered_at, now())
       WHERE device_id = $1::uuid AND update_id = ANY($2::text[]) RETURNING offered_at`,
      [args.deviceId, selection.allowed],
    );
    const earliest = rows.reduce<Date | undefined>((min, r) => (!min || r.offered_at < min ? r.offered_at : min), undefined);
    if (earliest) selection.availableAt = earliest.toISOString();
  }
  if (selection.reprocessed.length > 0 && !options.dryRun) {
    await db.query(
      `UPDATE device_patches SET failed_attempts = 0, loop_comebacks = 0, loop_successes = 0, loop_awaiting_scan = false, rolled_back_at = NULL WHERE device_id = $1::uuid AND update_id = ANY($2::text[]) AND status = 'failed'`,
      [args.deviceId, selection.reprocessed],
    );
  }
  return selection;
}

/** Short bookkeeping steps of an install, run as local activities (cheap in history events). */
export function createInstallBookkeepingActivities(deps: { db: Db; client: Client; log: Logger; commandKeys: CommandKeyring; patchStates?: PatchStateWriter }) {
  const { db } = deps;
  // Concurrent installs' status writes share transactions (group commit): one per batch, not per write.
  const patchStates = deps.patchStates ?? new PatchStateWriter(db);

  /**
   * Writes patch status changes in one batch, with an audit row per install outcome. Exact under
   * retry: a failure is counted, and an audit row written, once per (workflow run, activity id).
   */
  async function writePatchStates(args: PatchStatesBatch): Promise<void> {
    if (args.changes.length === 0) return;
    const key = activityKey();
    const audit: AuditEntry[] = args.changes
      .filter((c) => AUDITED[c.status])
      .map((c) => ({
        actor: `workflow:${args.workflowId}`,
        action: AUDITED[c.status]!,
        deviceId: args.deviceId,
        subject: c.kb,
        details: { updateId: c.updateId, exitCode: c.exitCode ?? null, error: c.error ?? null },
        idempotencyKey: `${key}/${c.updateId}`,
      }));
    await patchStates.write({ deviceId: args.deviceId, operationId: args.workflowId, changes: args.changes, changeKey: key, audit });
  }

  /** The same processing as a scheduled scan; returns the catalog's file facts for the scanned updates. */
  async function storeScan(deviceId: string, scan: ScanResult, installVerification = false): Promise<Record<string, PatchFile>> {
    await processScan(db, deviceId, scan, { installVerification });
    return catalogFiles(db, scan.updates.map((u) => u.updateId));
  }

  const selectByApproval = (args: ApprovalQuestion) => selectPatchesByApproval(db, args);

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
     * Stores a scan: reconciles the device's statuses and its unverified updates in one transaction.
     * Returns the catalog's file facts for the updates the catalog confirms, because the catalog (not
     * the device) says where each file is and what it must hash to.
     */
    async recordScan(deviceId: string, scan: ScanResult): Promise<Record<string, PatchFile>> {
      return storeScan(deviceId, scan);
    },

    /**
     * Writes patch status changes in one batch, with an audit row per install outcome. Exact under
     * retry: a failure is counted, and an audit row written, once per (workflow run, activity id).
     */
    async recordPatchStates(args: PatchStatesBatch): Promise<void> {
      await writePatchStates(args);
    },

    /**
     * Which candidate patches this install may install, by the approval resolver (the one source of
     * truth for every install path): Approved ones for a plain install; anything but Ignored for an
     * explicit request (these KBs on this device). Also: installed patches an Uninstall action asks to
     * remove, and Failed patches a Reprocess failed action re-arms (their attempts reset here).
     */
    async selectByApproval(args: ApprovalQuestion): Promise<ApprovalSelection> {
      return selectByApproval(args);
    },

    /**
     * The pre-scan's bookkeeping in one step (one history event instead of two): stores the scan as
     * recordScan does, then selects by approval as selectByApproval does. Both are exact under retry.
     */
    async recordPreScan(args: {
      scan: ScanResult;
      question: ApprovalQuestion;
      /**
       * installs since the batched execute, inside their maintenance window: the selected patches are
       * Installing from this write on (the download follows at once), one local activity fewer
       */
      installing?: { workflowId: string };
    }): Promise<{ catalog: Record<string, PatchFile>; selection: ApprovalSelection }> {
      const catalog = await storeScan(args.question.deviceId, args.scan);
      const selection = await selectByApproval(args.question);
      if (args.installing) {
        const allowed = new Set(selection.allowed);
        const kbOf = new Map(args.scan.updates.map((u) => [u.updateId, u.kb]));
        await writePatchStates({
          deviceId: args.question.deviceId, workflowId: args.installing.workflowId,
          changes: args.question.candidates.filter((id) => allowed.has(id)).map((updateId) => ({ updateId, kb: kbOf.get(updateId) ?? updateId, status: PatchStatus.Installing })),
        });
      }
      return { catalog, selection };
    },

    /** The post-scan's bookkeeping in one step: stores the scan, then the statuses it verified. */
    async recordPostScan(args: PatchStatesBatch & { scan: ScanResult }): Promise<void> {
      await storeScan(args.deviceId, args.scan, true);
      await writePatchStates(args);
    },

    /**
     * The end of an install in one step: patches it never reached go back to Missing, then the device's
     * claim is released (unless the install ran under another workflow's claim).
     */
    async finishInstall(args: PatchStatesBatch & { release: boolean }): Promise<void> {
      await writePatchStates(args);
      if (args.release) await releaseDevice(db, args.deviceId, args.workflowId);
    },

    /**
     * A rollback after a failed health check, in one step: the rolled-back patches (Failed, "rolled
     * back: health check failed: ..."), and, when the rollback could not leave the device healthy, the
     * device marked "needs attention" with why. Audited once (patch.rolled_back, device.needs_attention).
     */
    async recordRollback(args: PatchStatesBatch & { needsAttention?: string }): Promise<void> {
      const key = activityKey();
      await withTransaction(db, async (tx) => {
        await applyPatchStates(tx, args.deviceId, args.workflowId, args.changes, key);
        if (args.needsAttention !== undefined) {
          await tx.query(
            `UPDATE devices SET needs_attention = $2::text, needs_attention_at = COALESCE(CASE WHEN needs_attention = $2::text THEN needs_attention_at END, now())
             WHERE id = $1::uuid`,
            [args.deviceId, args.needsAttention],
          );
        }
        await appendAudit(tx, [
          ...args.changes.map((c) => ({
            actor: `workflow:${args.workflowId}`, action: 'patch.rolled_back', deviceId: args.deviceId, subject: c.kb,
            details: { updateId: c.updateId, error: c.error ?? null }, idempotencyKey: `${key}/${c.updateId}`,
          })),
          ...(args.needsAttention === undefined ? [] : [{
            actor: `workflow:${args.workflowId}`, action: 'device.needs_attention', deviceId: args.deviceId, subject: args.workflowId,
            details: { reason: args.needsAttention }, idempotencyKey: `${key}/needs-attention`,
          }]),
        ]);
      });
    },

    /** Withdraws commands the device has not answered (an install that stops early); returns how many. */
    async withdrawOpenCommands(args: { workflowId: string }): Promise<number> {
      return cancelOpenCommands(db, args.workflowId);
    },

    /**
     * Cleanup did not reach the device before its deadline: its command stays queued for the
     * device's next check-in (the install then releases the device). Audited once.
     */
    async queueCleanupForCheckIn(args: { deviceId: string; workflowId: string }): Promise<string[]> {
      return withTransaction(db, async (tx) => {
        const key = deps.commandKeys.current;
        if (!key.privateKey) throw ApplicationFailure.nonRetryable(`command key ${key.keyId} has no private key: the worker cannot sign`, 'Misconfigured');
        const issuedAtMs = Date.now();
        // A device that missed its cleanup may be away for days; the command only empties Patchflow's
        // two folders (checked again by the agent), so a long life costs little.
        const queued = await queueCleanupForCheckIn(tx, args.workflowId, (c) => signCommand(key.privateKey!, key.keyId,
          { id: c.id, type: c.type, payload: c.payload as never },
          { deviceId: c.deviceId, sequence: c.sequence, issuedAtMs, expiresAtMs: issuedAtMs + QUEUED_CLEANUP_LIFETIME_MS }));
        await appendAudit(tx, [{
          actor: `workflow:${args.workflowId}`, action: 'install.cleanup_pending', deviceId: args.deviceId,
          subject: args.workflowId, details: { commands: queued }, idempotencyKey: activityKey(),
        }]);
        return queued;
      });
    },

    /** One audit row, written once however often this activity is retried. */
    async audit(entry: AuditEntry): Promise<void> {
      await appendAudit(db, [{ ...entry, idempotencyKey: activityKey() }]);
    },
  };
}
