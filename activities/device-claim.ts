import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { claimDevice, takeOverClaim } from '../db/operation-repository';
import { DeviceBusyError } from '../domain/errors';

/** Is the workflow that holds a device claim still running? A workflow that cannot be found is not. */
export async function isRunning(client: Client, workflowId: string): Promise<boolean> {
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    return d.status.name === 'RUNNING';
  } catch {
    return false;
  }
}

/**
 * Claims a device for one install operation: at most one per device, whoever starts it (API, Initial
 * Update, Automatic Update). A claim whose workflow no longer runs (terminated, timed out) is taken
 * over; one held by a running workflow throws DeviceBusyError naming it.
 */
export async function claimDeviceForOperation(
  deps: { db: Db; client: Client; log: Logger },
  args: { deviceId: string; workflowId: string; operation: string },
): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const holder = await claimDevice(deps.db, args);
    if (holder.workflowId === args.workflowId) return;
    if (await isRunning(deps.client, holder.workflowId)) throw new DeviceBusyError(args.deviceId, holder.workflowId);
    deps.log.warn({ deviceId: args.deviceId, staleWorkflowId: holder.workflowId }, 'taking over a stale device claim');
    if (await takeOverClaim(deps.db, args, holder.workflowId)) return;
  }
  throw new DeviceBusyError(args.deviceId, 'a concurrent claim');
}
