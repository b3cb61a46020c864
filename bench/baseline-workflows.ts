/**
 * The AU benchmark's baseline (bundled on its own by bench/au-bench.ts, never part of the Patchflow
 * worker): a workflow that does nothing but run `activityCount` no-op activities one after another,
 * then `localActivityCount` no-op local activities, i.e. the same Temporal work per device as a
 * Patchflow device install, with none of its logic and no device to wait for.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface BaselineActivities {
  noop(step: number): Promise<number>;
}

const { noop } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });
const local = proxyLocalActivities<BaselineActivities>({ startToCloseTimeout: '1 minute' });

export async function baselineDeviceWorkflow(activityCount: number, localActivityCount = 0): Promise<number> {
  let sum = 0;
  for (let i = 0; i < activityCount; i++) sum += await noop(i);
  for (let i = 0; i < localActivityCount; i++) sum += await local.noop(i);
  return sum;
}
