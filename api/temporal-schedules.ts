import { ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';

/**
 * Makes a Temporal Schedule that Patchflow's configuration owns (catalog sync, alerts) say what the
 * configuration says: created when missing, else its spec, action and policies replaced (its pause
 * state and history kept).
 */
export async function upsertSchedule(client: Client, options: ScheduleOptions): Promise<'created' | 'updated'> {
  const handle = client.schedule.getHandle(options.scheduleId);
  try {
    await handle.describe();
    await handle.update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: options.policies }) as never);
    return 'updated';
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await client.schedule.create(options);
    return 'created';
  }
}
