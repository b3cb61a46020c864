import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { createDeviceCommandActivities } from './device-command';
import { createInstallBookkeepingActivities } from './install-bookkeeping';

/** Every activity the worker registers, built over real dependencies. */
export function createActivities(deps: { db: Db; client: Client; log: Logger }) {
  return {
    ...createDeviceCommandActivities(deps),
    ...createInstallBookkeepingActivities(deps),
  };
}

export type DeviceCommandActivities = ReturnType<typeof createDeviceCommandActivities>;
export type InstallBookkeepingActivities = ReturnType<typeof createInstallBookkeepingActivities>;
