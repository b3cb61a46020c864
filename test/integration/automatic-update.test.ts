import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { reconcileSchedules } from '../../api/schedule-service';
import { nextRunTimes } from '../../domain/schedule-spec';
import { temporalScheduleId, type RolloutResult } from '../../workflows/automatic-update.contract';
import { eventually, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(240_000);

let h: Harness;
beforeAll(async () => { h = await startHarness({ app: { rolloutOfflineAfterSeconds: 8 } }); });
afterAll(async () => { await h.stop(); });

const deps = () => ({ db: h.db, client: h.client, log: pino({ level: 'silent' }), taskQueue: h.taskQueue });
const weekly = { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'Europe/London' };

test('schedules in Postgres and in Temporal agree after create, update, pause, delete and a restart', async () => {
  const created = await h.api('POST', '/api/v1/schedules', {
    name: `Weekly AU ${randomUUID().slice(0, 6)}`, kind: 'automatic_update', scope: { scopeType: 'device_type', scopeId: 'server' },
    timing: weekly, distributionWindowMinutes: 60,
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  const expected = nextRunTimes(created.body.timing, new Date(), 3).map((d) => d.toISOString());
  expect(created.body.nextRunTimes.slice(0, 3)).toEqual(expected);
  expect(created.body.description).toBe('Every Wednesday at 02:00 Europe/London');
  expect(created.body.rebootActionText).toMatch(/user/i);

  const temporal = () => h.client.schedule.getHandle(temporalScheduleId(id)).describe();
  const patchTuesday = { kind: 'monthly_patch_tuesday', offsetDays: 1, time: '03:00', timezone: 'America/New_York' };
  const updated = await h.api('PATCH', `/api/v1/schedules/${id}`, { timing: patchTuesday });
  expect(updated.status).toBe(200);
  expect((await temporal()).info.nextActionTimes.slice(0, 2).map((d) => d.toISOString()))
    .toEqual(nextRunTimes(updated.body.timing, new Date(), 2).map((d) => d.toISOString()));

  expect((await h.api('POST', `/api/v1/schedules/${id}/pause`)).body.paused).toBe(true);
  expect((await temporal()).state.paused).toBe(true);
  expect((await h.api('POST', `/api/v1/schedules/${id}/resume`)).body.paused).toBe(false);
  expect((await temporal()).state.paused).toBe(false);

  // Drift, as after a lost write or a Temporal restore: the Schedule disappears; a restart reconciles it back.
  await h.client.schedule.getHandle(temporalScheduleId(id)).delete();
  const healed = await reconcileSchedules(deps());
  expect(healed.created).toBeGreaterThanOrEqual(1);
  expect((await temporal()).info.nextActionTimes.length).toBeGreaterThan(0);

  const bad = await h.api('POST', '/api/v1/schedules', { name: 'x', kind: 'automatic_update', scope: { scopeType: 'all' }, timing: { ...weekly, timezone: 'Mars/Base' } });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/body\.timing\.timezone: unknown time zone/);

  expect((await h.api('DELETE', `/api/v1/schedules/${id}`)).status).toBe(204);
  await expect(temporal()).rejects.toThrow();
  expect((await h.api('GET', `/api/v1/schedules/${id}`)).status).toBe(404);
});

test('a rollout over a client fleet with offline, busy and failing devices reports the right counts and statuses', async () => {
  const suffix = randomUUID().slice(0, 6);
  const client = (await h.api('POST', '/api/v1/clients', { name: `Rollout Co ${suffix}` })).body;
  const site = (await h.api('POST', `/api/v1/clients/${client.id}/sites`, { name: 'HQ' })).body;
  const make = async (name: string, options: Record<string, unknown>) => {
    const d = await h.api('POST', '/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
    const device = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)),
      missingKbs: ['KB5034439', 'KB5033118'], rebootDurationMs: 300, executeDurationMs: 5, downloadDurationMs: 1, ...options,
    });
    return { deviceId: d.body.device.id as string, device, enrollmentToken: d.body.enrollmentToken as string };
  };
  const healthy = await Promise.all(Array.from({ length: 40 }, (_, i) => make(`RO-OK-${i}`, {})));
  const failing = await Promise.all(Array.from({ length: 4 }, (_, i) => make(`RO-FAIL-${i}`, { exitCodes: { KB5034439: [0x80070643] } })));
  const offline = await Promise.all(Array.from({ length: 5 }, (_, i) => make(`RO-OFF-${i}`, {})));
  const busy = await make('RO-BUSY', { missingKbs: ['KB5034439'], executeDurationMs: 60_000 });

  const online = startSimulatedFleet({ baseUrl: h.server.url, devices: [...healthy, ...failing, busy], pollWaitSeconds: 2 });
  h.fleets.push(online);
  const gone = startSimulatedFleet({ baseUrl: h.server.url, devices: offline, pollWaitSeconds: 2 });
  await Promise.all([online.ready, gone.ready]);
  await gone.stop(); // enrolled, then off the network

  // The busy device is in the middle of its Initial Update.
  const iu = await h.api('POST', `/api/v1/devices/${busy.deviceId}/initial-update`, {});
  expect(iu.status).toBe(202);
  await eventually(async () => {
    const view = await h.api('GET', `/api/v1/devices/${busy.deviceId}/initial-update`);
    return view.body.progress?.step === 'install' ? true : undefined;
  }, 30_000, 'the Initial Update to be installing');

  const schedule = await h.api('POST', '/api/v1/schedules', {
    name: `Rollout ${suffix}`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: client.id },
    timing: weekly, distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' }, maxConcurrentDevices: 20,
    missedRun: 'run_on_check_in',
  });
  expect(schedule.status).toBe(201);
  expect((await h.api('POST', `/api/v1/schedules/${schedule.body.id}/trigger`)).status).toBe(202);
  const workflowId = await eventually(async () => {
    const d = await h.client.schedule.getHandle(temporalScheduleId(schedule.body.id)).describe();
    return d.info.recentActions[0]?.action.workflow.workflowId;
  }, 20_000, 'the rollout to start');
  const result = (await h.client.workflow.getHandle(workflowId).result()) as RolloutResult;

  expect(result.outcome).toBe('completed');
  expect(result.counts).toMatchObject({ devices: 50, done: 40, failed: 4, offline: 5, busy: 1, rebootPending: 0, patchesInstalled: 40 * 2 + 4, patchesFailed: 4 });
  // A failure with retries left shows Pending with its error, not Failed, until the 5th scheduled run.
  const patches = (await h.api('GET', `/api/v1/devices/${failing[0].deviceId}/patches`)).body.patches as any[];
  expect(patches.find((p) => p.kb === 'KB5034439')).toMatchObject({ status: 'pending', failedAttempts: 1 });
  expect(patches.find((p) => p.kb === 'KB5034439').lastError).toMatch(/will retry at the next scheduled run \(1 of 5\)/);
  for (const { device } of healthy.slice(0, 5)) expect(device.isInstalled('KB5034439')).toBe(true);
  const rollouts = (await h.api('GET', `/api/v1/schedules/${schedule.body.id}/rollouts`)).body.rollouts as any[];
  expect(rollouts[0]).toMatchObject({ workflowId, counts: result.counts });
  // The rollout as schedules start it now (defaults written into its input), and an install that
  // found its device offline (the pre-scan deadline passed: nothing staged, no cleanup).
  await maybeRecordHistory(h.client, workflowId, 'automaticUpdateWorkflow-mixed-fleet.defaults-in-input');
  const offlineInstall = await h.db.query(`SELECT DISTINCT workflow_id FROM agent_commands WHERE device_id = $1 AND workflow_id LIKE 'install/%'`, [offline[0].deviceId]);
  expect(offlineInstall.rows).toHaveLength(1);
  await maybeRecordHistory(h.client, offlineInstall.rows[0].workflow_id, 'deviceInstallWorkflow-au-offline');

  // "Run as soon as it checks in": an offline device that comes back gets the run it missed.
  const back = offline[0];
  expect(back.device.isInstalled('KB5034439')).toBe(false);
  const returned = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device: back.device, credential: gone.agents[0].credential, commandKeys: gone.agents[0].commandKeys }], pollWaitSeconds: 2 });
  h.fleets.push(returned);
  await eventually(async () => (back.device.isInstalled('KB5034439') ? true : undefined), 60_000, 'the missed run to install on check-in');
  const missed = await h.db.query('SELECT count(*) FROM missed_runs WHERE device_id = $1', [back.deviceId]);
  expect(Number(missed.rows[0].count)).toBe(0);

  await h.api('POST', `/api/v1/devices/${busy.deviceId}/initial-update/cancel`, {});
  await h.api('DELETE', `/api/v1/schedules/${schedule.body.id}`);
});

test('a scheduled scan rollout scans every device of its scope', async () => {
  const suffix = randomUUID().slice(0, 6);
  const client = (await h.api('POST', '/api/v1/clients', { name: `Scan Co ${suffix}` })).body;
  const site = (await h.api('POST', `/api/v1/clients/${client.id}/sites`, { name: 'HQ' })).body;
  const members = await Promise.all(Array.from({ length: 3 }, async (_, i) => {
    const d = await h.api('POST', '/api/v1/devices', { siteId: site.id, name: `SCAN-${i}`, deviceType: 'workstation' });
    return {
      deviceId: d.body.device.id as string, enrollmentToken: d.body.enrollmentToken as string,
      device: new SimulatedWindowsDevice({ id: `scan-${suffix}-${i}`, name: `SCAN-${i}`, os: 'win11', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'scan-')) }),
    };
  }));
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: members, pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  const schedule = await h.api('POST', '/api/v1/schedules', {
    name: `Daily scan ${suffix}`, kind: 'scan', scope: { scopeType: 'client', scopeId: client.id },
    timing: { kind: 'daily', time: '12:00', timezone: 'Europe/London' },
  });
  expect(schedule.status).toBe(201);
  await h.api('POST', `/api/v1/schedules/${schedule.body.id}/trigger`);
  const workflowId = await eventually(async () => {
    const d = await h.client.schedule.getHandle(temporalScheduleId(schedule.body.id)).describe();
    return d.info.recentActions[0]?.action.workflow.workflowId;
  }, 20_000, 'the scan rollout to start');
  const result = (await h.client.workflow.getHandle(workflowId).result()) as RolloutResult;
  expect(result.counts).toMatchObject({ devices: 3, done: 3, failed: 0, offline: 0 });
  for (const m of members) {
    const last = await h.api('GET', `/api/v1/devices/${m.deviceId}/last-scan`);
    expect(last.status).toBe(200);
  }
  await h.api('DELETE', `/api/v1/schedules/${schedule.body.id}`);
});
