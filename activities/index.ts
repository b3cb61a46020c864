import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { stampNewPatches } from '../db/approval-repository';
import type { Db } from '../db/database';
import { createDeviceCommandActivities } from './device-command';
import { createInstallBookkeepingActivities } from './install-bookkeeping';
import { createScanActivities } from './scan-activities';
import { createRolloutActivities } from './rollout-activities';
import { createReportActivities } from './report-activities';

/** Every activity the worker registers, built over real dependencies. */
export function createActivities(deps: { db: Db; client: Client; log: Logger; reportsDir: string }) {
  return {
    ...createDeviceCommandActivities(deps),
    ...createInstallBookkeepingActivities(deps),
    ...createScanActivities({ ...deps, stampNewPatches }),
    ...createRolloutActivities(deps),
    ...createReportActivities(deps),
  };
}

export type DeviceCommandActivities = ReturnType<typeof createDeviceCommandActivities>;
export type InstallBookkeepingActivities = ReturnType<typeof createInstallBookkeepingActivities>;
export type ScanActivities = ReturnType<typeof createScanActivities>;
export type RolloutActivities = ReturnType<typeof createRolloutActivities>;
export type ReportActivities = ReturnType<typeof createReportActivities>;
