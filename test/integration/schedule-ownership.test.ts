import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createSchedule, reconcileSchedules, type ScheduleDeps } from '../../api/schedule-service';
import { createPool, type Db } from '../../db/database';
import { findSchedule, deleteSchedule } from '../../db/schedule-repository';
import { temporalScheduleId } from '../../workflows/automatic-update.contract';
import { createMigratedDatabase, startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

/**
 * Two Patchflow databases on one Temporal namespace (a staging API started against production's
 * Temporal, say): each reconciles only the schedules it made, never the other's.
 */
let h: Harness;
let other: Db;
beforeAll(async () => {
  h = await startHarness({ startWorker: false });
  other = createPool(await createMigratedDatabase('patchflow_second'), { max: 2 });
});
afterAll(async () => {
  await other.end();
  await h.stop();
});

const exists = (scheduleId: string) => h.client.schedule.getHandle(temporalScheduleId(scheduleId)).describe().then(() => true, () => false);

test('a second database neither deletes nor is deleted by the first; each removes only its own orphans', async () => {
  const client = await h.api('POST', '/api/v1/clients', { name: `Owner Co ${randomUUID().slice(0, 6)}` });
  const mine = await h.api('POST', '/api/v1/schedules', {
    name: `Mine ${randomUUID().slice(0, 6)}`, kind: 'scan', scope: { scopeType: 'client', scopeId: client.body.id },
    timing: { kind: 'daily', time: '04:00', timezone: 'UTC' },
  });
  expect(mine.status).toBe(201);
  const row = (await findSchedule(h.db, mine.body.id))!;

  const log = pino({ level: 'silent' });
  const otherDeps: ScheduleDeps = { db: other, client: h.client, log, taskQueue: h.taskQueue };
  const { id: _id, createdAt: _c, updatedAt: _u, ...fields } = row;
  const theirs = await createSchedule(otherDeps, { ...fields, name: 'Theirs' }, 'test');

  // The second deployment starts: it has no row for the first one's schedule, and leaves it alone.
  const fromOther = await reconcileSchedules(otherDeps);
  expect(fromOther.deleted).toBe(0);
  expect(fromOther.foreign).toBeGreaterThanOrEqual(1);
  expect(await exists(mine.body.id)).toBe(true);

  // And the first leaves the second's alone.
  const firstDeps: ScheduleDeps = { db: h.db, client: h.client, log, taskQueue: h.taskQueue };
  expect((await reconcileSchedules(firstDeps)).deleted).toBe(0);
  expect(await exists(theirs.id)).toBe(true);

  // A row lost in the second database: its own reconcile removes the orphan it made.
  await deleteSchedule(other, theirs.id);
  expect((await reconcileSchedules(otherDeps)).deleted).toBe(1);
  expect(await exists(theirs.id)).toBe(false);
  expect(await exists(mine.body.id)).toBe(true);

  await h.api('DELETE', `/api/v1/schedules/${mine.body.id}`);
});
