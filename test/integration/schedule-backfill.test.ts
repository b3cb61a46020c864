import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

/** Backfill is bounded: a range cap, never on a paused schedule, and never runs side by side. */
let h: Harness;
let scheduleId: string;
beforeAll(async () => {
  h = await startHarness({ startWorker: false });
  const client = await h.api('POST', '/api/v1/clients', { name: `Backfill Co ${randomUUID().slice(0, 6)}` });
  const created = await h.api('POST', '/api/v1/schedules', {
    name: `Daily scan ${randomUUID().slice(0, 6)}`, kind: 'scan', scope: { scopeType: 'client', scopeId: client.body.id },
    timing: { kind: 'daily', time: '03:00', timezone: 'UTC' },
  });
  expect(created.status).toBe(201);
  scheduleId = created.body.id;
});
afterAll(async () => {
  await h.api('DELETE', `/api/v1/schedules/${scheduleId}`);
  await h.stop();
});

const backfillAudits = async () => Number((await h.db.query(
  `SELECT count(*) FROM audit_log WHERE action = 'schedule.backfilled' AND subject = $1`, [scheduleId])).rows[0].count);

test('a century is refused, naming the cap; nothing is started or audited', async () => {
  const r = await h.api('POST', `/api/v1/schedules/${scheduleId}/backfill`, { start: '1970-01-01T00:00:00Z', end: '2070-01-01T00:00:00Z' });
  expect(r.status).toBe(422);
  expect(r.body.error).toMatch(/body\.end: a backfill covers at most 31 days/);
  expect(await backfillAudits()).toBe(0);
  const desc = await h.client.schedule.getHandle(`patchflow-schedule-${scheduleId}`).describe();
  expect(desc.info.recentActions).toHaveLength(0);
});

test('a paused schedule is not backfilled; resumed, a week is, one run at a time', async () => {
  expect((await h.api('POST', `/api/v1/schedules/${scheduleId}/pause`)).status).toBe(200);
  const week = { start: '2026-01-01T00:00:00Z', end: '2026-01-08T00:00:00Z' };
  const paused = await h.api('POST', `/api/v1/schedules/${scheduleId}/backfill`, week);
  expect(paused.status).toBe(409);
  expect(paused.body.error).toMatch(/paused; resume it before backfilling/);
  expect(await backfillAudits()).toBe(0);

  expect((await h.api('POST', `/api/v1/schedules/${scheduleId}/resume`)).status).toBe(200);
  const ok = await h.api('POST', `/api/v1/schedules/${scheduleId}/backfill`, week);
  expect(ok.status).toBe(202);
  expect(await backfillAudits()).toBe(1);
  // With no worker, the first backfilled run stays open: BUFFER_ONE keeps at most one more waiting
  // and drops the rest, where ALLOW_ALL started all seven at once.
  let running = 0;
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 250));
    running = (await h.client.schedule.getHandle(`patchflow-schedule-${scheduleId}`).describe()).info.runningActions.length;
    if (running > 0) break;
  }
  expect(running).toBe(1);
  await new Promise((r) => setTimeout(r, 1000));
  expect((await h.client.schedule.getHandle(`patchflow-schedule-${scheduleId}`).describe()).info.runningActions).toHaveLength(1);
});
