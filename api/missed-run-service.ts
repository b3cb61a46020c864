import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { findDevice } from '../db/fleet-repository';
import { takeMissedRuns } from '../db/rollout-repository';
import { findSchedule } from '../db/schedule-repository';
import { DeviceBusyError } from '../domain/errors';
import { checkDeviceFolders, folderPlatformOf } from '../domain/folders';
import { ROLLOUT_DEFAULTS } from '../workflows/automatic-update.contract';
import { INSTALL_WORKFLOW_TYPE, installWorkflowId, resolveTiming, type DeviceInstallInput, type InstallTimingInput } from '../workflows/install.contract';
import { deviceWorkflowStart, startClaimed } from './workflow-starts';

/**
 * "Run as soon as it checks in": a device an Automatic Update found offline gets that run when it
 * next talks to the gateway. The missed-run rows are taken at once (takeMissedRuns), so two
 * gateway replicas never start the same catch-up twice.
 */
export async function runMissedRunsOnCheckIn(
  deps: { db: Db; client: Client; log: Logger; taskQueue: string; installTiming?: InstallTimingInput },
  deviceId: string,
): Promise<number> {
  const scheduleIds = await takeMissedRuns(deps.db, deviceId);
  if (scheduleIds.length === 0) return 0;
  const device = await findDevice(deps.db, deviceId);
  if (!device) return 0;
  const folders = checkDeviceFolders(device, folderPlatformOf(device.os));
  if (!folders.ok) {
    // Nothing starts on a device whose folder breaks a rule; the operator sees it on the next manual start.
    deps.log.warn({ deviceId, field: folders.field, rule: folders.problem.rule }, `missed runs skipped: ${folders.problem.message}`);
    return 0;
  }
  let started = 0;
  for (const scheduleId of scheduleIds) {
    const schedule = await findSchedule(deps.db, scheduleId);
    if (!schedule || schedule.kind !== 'automatic_update' || schedule.missedRun === 'skip') continue;
    const workflowId = installWorkflowId(device.id, `au-${scheduleId.slice(0, 8)}-checkin-${Date.now().toString(36)}`);
    const input: DeviceInstallInput = {
      deviceId: device.id, deviceName: device.name, clientId: device.clientId, clientName: device.clientName,
      // "Include Reboot" off: the late run installs, and leaves the device Reboot Required.
      siteId: device.siteId, siteName: device.siteName, rebootAllowed: schedule.missedRunReboot,
      workingFolder: folders.workingFolder, installFolder: folders.installFolder,
      // Timing written out in full: the install runs on the values it started with (busy retries shape its history).
      requestedBy: `schedule:${scheduleId} (missed run, on check-in)`, timing: resolveTiming(deps.installTiming),
      ...(schedule.healthCheck ? { healthCheck: schedule.healthCheck } : {}),
      automatic: {
        timezone: schedule.timing.timezone, rebootAction: schedule.rebootAction,
        maintenanceWindow: schedule.maintenanceWindow ?? undefined, offlineAfterSeconds: 3600, failureCap: ROLLOUT_DEFAULTS.failureCap,
      },
    };
    try {
      await startClaimed(deps, INSTALL_WORKFLOW_TYPE, deviceWorkflowStart({
        device, operation: 'automatic-update', workflowId, taskQueue: deps.taskQueue, args: [input],
        summary: `Automatic Update (${schedule.name}, missed run) of`,
      }), { deviceId: device.id, operation: 'install' });
    } catch (err) {
      if (err instanceof DeviceBusyError) { deps.log.info({ deviceId, scheduleId }, 'missed run skipped: device busy'); continue; }
      throw err;
    }
    started += 1;
    deps.log.info({ deviceId, scheduleId, workflowId }, 'missed Automatic Update started on check-in');
  }
  return started;
}
