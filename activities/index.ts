import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { stampNewPatches } from '../db/approval-repository';
import type { Db } from '../db/database';
import { createCatalogActivities, type CatalogFeedSources } from './catalog-activities';
import { createDeviceCommandActivities } from './device-command';
import { createInstallBookkeepingActivities } from './install-bookkeeping';
import { createScanActivities } from './scan-activities';
import { createRolloutActivities } from './rollout-activities';

/** Every activity the worker registers, built over real dependencies. */
export function createActivities(deps: { db: Db; client: Client; log: Logger; catalogFeeds?: CatalogFeedSources }) {
  return {
    ...createDeviceCommandActivities(deps),
    ...createInstallBookkeepingActivities(deps),
    ...createScanActivities(deps),
    ...createRolloutActivities(deps),
    ...createCatalogActivities({ ...deps, catalogFeeds: deps.catalogFeeds ?? new Map(), stampNewPatches }),
  };
}

export type DeviceCommandActivities = ReturnType<typeof createDeviceCommandActivities>;
export type InstallBookkeepingActivities = ReturnType<typeof createInstallBookkeepingActivities>;
export type ScanActivities = ReturnType<typeof createScanActivities>;
export type RolloutActivities = ReturnType<typeof createRolloutActivities>;
export type CatalogActivities = ReturnType<typeof createCatalogActivities>;
