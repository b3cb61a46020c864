import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { stampNewPatches } from '../db/approval-repository';
import type { Db } from '../db/database';
import type { CommandKeyring } from '../config/command-keys';
import { createCatalogActivities, type CatalogFeedSources } from './catalog-activities';
import { createCommandKeyActivities, createDeviceCommandActivities } from './device-command';
import { createInstallBookkeepingActivities } from './install-bookkeeping';
import { createScanActivities } from './scan-activities';
import { createRolloutActivities } from './rollout-activities';
import { createReportActivities } from './report-activities';
import { createReleaseActivities } from './release-activities';
import { createAlertActivities } from './alert-activities';
import { createPatchTestActivities } from './patch-test-activities';
import { createApprovalRequestActivities, type ApprovedActionRunner } from './approval-request-activities';

/** Every activity the worker registers, built over real dependencies. */
export function createActivities(deps: { db: Db; client: Client; log: Logger; commandKeys: CommandKeyring; catalogFeeds?: CatalogFeedSources; reportsDir: string; runApprovedAction?: ApprovedActionRunner }) {
  return {
    ...createDeviceCommandActivities(deps),
    ...createCommandKeyActivities(deps),
    ...createInstallBookkeepingActivities(deps),
    ...createScanActivities(deps),
    ...createRolloutActivities(deps),
    ...createCatalogActivities({ ...deps, catalogFeeds: deps.catalogFeeds ?? new Map(), stampNewPatches }),
    ...createReportActivities(deps),
    ...createAlertActivities(deps),
    ...createApprovalRequestActivities(deps),
    ...createReleaseActivities(deps),
    ...createPatchTestActivities(deps),
  };
}

export type DeviceCommandActivities = ReturnType<typeof createDeviceCommandActivities>;
export type CommandKeyActivities = ReturnType<typeof createCommandKeyActivities>;
export type InstallBookkeepingActivities = ReturnType<typeof createInstallBookkeepingActivities>;
export type ScanActivities = ReturnType<typeof createScanActivities>;
export type RolloutActivities = ReturnType<typeof createRolloutActivities>;
export type CatalogActivities = ReturnType<typeof createCatalogActivities>;
export type ReportActivities = ReturnType<typeof createReportActivities>;
export type AlertActivities = ReturnType<typeof createAlertActivities>;
export type ReleaseActivities = ReturnType<typeof createReleaseActivities>;
export type PatchTestActivities = ReturnType<typeof createPatchTestActivities>;
export type ApprovalRequestActivities = ReturnType<typeof createApprovalRequestActivities>;
