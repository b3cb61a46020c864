import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db } from '../db/database';
import { failedPatchTests, recordRolloutBlocked, rolloutKind } from '../db/patch-test-repository';
import { beginRollout, dropRolloutDeviceList, finishRollout, recordMissedRun, resolveScopeDevices, rolloutDevicePage, storeRolloutDeviceList } from '../db/rollout-repository';
import { autoHaltActor, endAutoHalt, insertAutoHalt, readFleetHaltState } from '../db/halt-repository';
import { checkDeviceFolders, folderPlatformOf } from '../domain/folders';
import type { AutoHaltRecord, FleetHaltState, RolloutCounts, RolloutDevice, RolloutScope } from '../workflows/automatic-update.contract';

/** The workflow this activity runs for; undefined when called directly (tests, tools): no rollout then. */
function runningWorkflowId(): string | undefined {
  try {
    return Context.current().info.workflowExecution?.workflowId;
  } catch {
    return undefined;
  }
}

/**
 * The scope's devices, each with its folders in canonical spelling. A device whose folder breaks a
 * rule is left out of the rollout (and logged with the rule), so no install workflow starts on it.
 * An Automatic Update also leaves out every device whose latest Patch Test failed (Kaseya: blocked
 * until a Patch Test passes) and writes them, with the reason, on the rollout's row: the selection
 * happens here, so the rollout workflow's commands are the same whether a device is blocked or not.
 */
async function resolveDevices(deps: { db: Db; log: Logger }, scope: RolloutScope, workflowId: string | undefined): Promise<RolloutDevice[]> {
  const devices: RolloutDevice[] = [];
  for (const { os, ...d } of await resolveScopeDevices(deps.db, scope)) {
    const folders = checkDeviceFolders(d, folderPlatformOf(os));
    if (folders.ok) devices.push({ ...d, workingFolder: folders.workingFolder, installFolder: folders.installFolder });
    else deps.log.warn({ deviceId: d.deviceId, field: folders.field, rule: folders.problem.rule, scope }, `left out of the rollout: ${folders.problem.message}`);
  }
  // Only an Automatic Update is blocked (a scan is harmless); its row exists since beginRollout.
  if (!workflowId || (await rolloutKind(deps.db, workflowId)) !== 'automatic_update') return devices;
  const failed = await failedPatchTests(deps.db, devices.map((d) => d.deviceId));
  if (failed.size === 0) return devices;
  const blocked = devices.filter((d) => failed.has(d.deviceId)).map((d) => ({ deviceId: d.deviceId, deviceName: d.deviceName, reason: failed.get(d.deviceId)! }));
  await recordRolloutBlocked(deps.db, workflowId, blocked);
  for (const b of blocked) deps.log.info({ ...b, workflowId }, 'left out of the Automatic Update: its Patch Test failed');
  return devices.filter((d) => !failed.has(d.deviceId));
}

/** Bookkeeping of a rollout: its row, its devices, its counts. Each is idempotent. */
export function createRolloutActivities(deps: { db: Db; log: Logger }) {
  return {
    /** false: this schedule already ran in this local slot (a DST repeat); the rollout ends at once */
    async beginRollout(r: { workflowId: string; scheduleId: string; kind: string; localSlot: string; scheduledAt: string }): Promise<boolean> {
      const fresh = await beginRollout(deps.db, r);
      if (!fresh) deps.log.info(r, 'rollout already ran in this local slot; skipping');
      return fresh;
    },
    /** The scope's devices (resolveDevices), returned whole: rollouts started before device lists were stored. */
    async resolveRolloutDevices(scope: RolloutScope): Promise<RolloutDevice[]> {
      return resolveDevices(deps, scope, runningWorkflowId());
    },
    /**
     * Resolves the rollout's devices once and stores the list (db rollout_device_lists), returning only
     * its length: the rollout reads it a page at a time (rolloutDevicePage), so no payload of the
     * workflow holds the whole list, whatever the fleet's size. A retry finds the stored list.
     */
    async listRolloutDevices(args: { workflowId: string; scope: RolloutScope }): Promise<{ total: number }> {
      return { total: await storeRolloutDeviceList(deps.db, args.workflowId, () => resolveDevices(deps, args.scope, args.workflowId)) };
    },
    async rolloutDevicePage(args: { workflowId: string; offset: number; limit: number }): Promise<RolloutDevice[]> {
      return rolloutDevicePage(deps.db, args.workflowId, args.offset, args.limit);
    },
    async finishRollout(args: { workflowId: string; counts: RolloutCounts }): Promise<void> {
      await finishRollout(deps.db, args.workflowId, args.counts);
      await dropRolloutDeviceList(deps.db, args.workflowId);
      // Closed: an automatic halt it ended with holds nothing back any more (GET /halt shows it as ended).
      await endAutoHalt(deps.db, args.workflowId);
    },
    /**
     * The rollout halted itself at its failure threshold: recorded (GET /api/v1/halt lists it apart
     * from operators' halts) and audited as "system: rollout <id> auto-halt", once however often retried.
     */
    async recordAutoHalt(args: AutoHaltRecord): Promise<void> {
      await withTransaction(deps.db, async (tx) => {
        const fresh = await insertAutoHalt(tx, args);
        if (!fresh) return;
        await appendAudit(tx, [{
          actor: autoHaltActor(args.workflowId), action: 'rollout.auto_halted', subject: args.workflowId,
          details: {
            by: 'automatic', reason: args.reason, scheduleId: args.scheduleId, scheduleName: args.scheduleName,
            failed: args.failed, finished: args.finished, failureRate: args.failureRate,
          },
          idempotencyKey: `rollout-auto-halt:${args.workflowId}`,
        }]);
      });
      deps.log.warn(args, 'rollout halted itself at its failure threshold');
    },
    /** The kill switch's state (read-only, so any retry is exact). */
    async readFleetHalt(): Promise<FleetHaltState> {
      return readFleetHaltState(deps.db);
    },
    async recordMissedRun(args: { deviceId: string; scheduleId: string }): Promise<void> {
      await recordMissedRun(deps.db, args.deviceId, args.scheduleId);
    },
  };
}
