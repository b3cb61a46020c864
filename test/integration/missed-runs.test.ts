/**
 * "If schedule missed" (N-able; DOMAIN-RULES §2.3, rule 18): a device offline at an Automatic Update
 * gets the run when it next checks in (`run_on_check_in`, or `run_asap`, which also catches up a run
 * the Schedule itself missed for 7 days), with or without a reboot ("Include Reboot").
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { runMissedRunsOnCheckIn } from '../../api/missed-run-service';
import { temporalScheduleId } from '../../workflows/automatic-update.contract';
import { startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

let h: Harness;
const started: string[] = [];
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => {
  for (const id of started) await h.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await h.stop();
});

const weekly = { kind: 'monthly_weekday', week: 'last', weekday: 'fri', time: '02:00', timezone: 'Europe/London' };

async function schedule(clientId: string, extra: Record<string, unknown>) {
  const created = await h.api('POST', '/api/v1/schedules', {
    name: `Missed ${randomUUID().slice(0, 8)}`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: clientId },
    timing: weekly, rebootAction: { action: 'reboot_immediately' }, ...extra,
  });
  expect(created.status).toBe(201);
  return created.body as { id: string; missedRun: string; missedRunReboot: boolean; description: string; nextRunTimes: string[] };
}

const deps = () => ({ db: h.db, client: h.client, log: pino({ level: 'silent' }), taskQueue: h.taskQueue });

test('run ASAP without a reboot: the late run starts on check-in, may not restart the device, and the Schedule catches up for 7 days', async () => {
  const { deviceId, clientId } = await h.createDevice();
  const s = await schedule(clientId, { missedRun: 'run_asap', missedRunReboot: false });
  expect(s).toMatchObject({ missedRun: 'run_asap', missedRunReboot: false, description: 'Last Friday of every month at 02:00 Europe/London' });
  expect(s.nextRunTimes.length).toBeGreaterThan(0);
  for (const t of s.nextRunTimes) expect(new Date(t).getUTCDay()).toBe(5);

  const described = await h.client.schedule.getHandle(temporalScheduleId(s.id)).describe();
  expect(described.policies.catchupWindow).toBe(7 * 24 * 3600_000);

  // The rollout found the device offline and noted it; then the device checks in.
  await h.db.query('INSERT INTO missed_runs (device_id, schedule_id) VALUES ($1, $2)', [deviceId, s.id]);
  expect(await runMissedRunsOnCheckIn(deps(), deviceId)).toBe(1);
  const workflowId = await latestInstallOf(deviceId);
  started.push(workflowId);
  const input = await firstInputOf(workflowId);
  expect(input).toMatchObject({ deviceId, rebootAllowed: false, requestedBy: `schedule:${s.id} (missed run, on check-in)` });
  // Taken once: a second check-in starts nothing.
  expect(await runMissedRunsOnCheckIn(deps(), deviceId)).toBe(0);
});

test('run on check-in keeps the reboot and a 1-day catch-up; a schedule switched to skip runs nothing it noted before', async () => {
  const { deviceId, clientId } = await h.createDevice();
  const s = await schedule(clientId, { missedRun: 'run_on_check_in' });
  expect(s).toMatchObject({ missedRun: 'run_on_check_in', missedRunReboot: true });
  expect((await h.client.schedule.getHandle(temporalScheduleId(s.id)).describe()).policies.catchupWindow).toBe(24 * 3600_000);

  await h.db.query('INSERT INTO missed_runs (device_id, schedule_id) VALUES ($1, $2)', [deviceId, s.id]);
  const changed = await h.api('PATCH', `/api/v1/schedules/${s.id}`, { missedRun: 'skip' });
  expect(changed.status).toBe(200);
  expect(await runMissedRunsOnCheckIn(deps(), deviceId)).toBe(0);

  const back = await h.api('PATCH', `/api/v1/schedules/${s.id}`, { missedRun: 'run_asap' });
  expect(back.body).toMatchObject({ missedRun: 'run_asap', missedRunReboot: true });
  expect((await h.client.schedule.getHandle(temporalScheduleId(s.id)).describe()).policies.catchupWindow).toBe(7 * 24 * 3600_000);
  await h.db.query('INSERT INTO missed_runs (device_id, schedule_id) VALUES ($1, $2)', [deviceId, s.id]);
  expect(await runMissedRunsOnCheckIn(deps(), deviceId)).toBe(1);
  const workflowId = await latestInstallOf(deviceId);
  started.push(workflowId);
  expect(await firstInputOf(workflowId)).toMatchObject({ rebootAllowed: true });
});

test('a bad missed-run choice is a 400 naming the field, and nothing is written', async () => {
  const { clientId } = await h.createDevice();
  const name = `Bad ${randomUUID().slice(0, 8)}`;
  const bad = await h.api('POST', '/api/v1/schedules', {
    name, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: clientId }, timing: weekly, missedRun: 'asap', missedRunReboot: 'no',
  });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toMatch(/missedRun/);
  const { rows } = await h.db.query('SELECT 1 FROM update_schedules WHERE name = $1', [name]);
  expect(rows).toHaveLength(0);
});

/** The install the catch-up started: the device's claim names it (visibility lags a start a little). */
async function latestInstallOf(deviceId: string): Promise<string> {
  const { rows } = await h.db.query('SELECT workflow_id FROM device_operations WHERE device_id = $1', [deviceId]);
  expect(rows[0]?.workflow_id).toMatch(new RegExp(`^install/${deviceId}/au-`));
  return rows[0].workflow_id;
}

async function firstInputOf(workflowId: string): Promise<Record<string, unknown>> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const payload = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads![0]!;
  return JSON.parse(Buffer.from(payload.data!).toString('utf8'));
}
