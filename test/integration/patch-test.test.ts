/**
 * Issue 17 part 2, the Patch Test, against real Temporal and PostgreSQL with simulated agents: a device
 * whose working folder resolves to a protected folder fails with that reason (and is not emptied); one
 * with a Disabled Windows Update service fails with that reason and Automatic Update leaves it out,
 * saying why; once the machine is fixed a new Patch Test passes and the next Automatic Update patches it.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedPatchTestState } from '../../agent/simulated-device';
import { temporalScheduleId, type RolloutResult } from '../../workflows/automatic-update.contract';
import type { PatchTestWorkflowResult } from '../../workflows/patch-test.contract';
import { chromiumPath, launchBrowser, screenshot } from './dashboard-browser';
import { API_KEY, eventually, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(240_000);

let h: Harness;
let fleet: SimulatedFleet;
const suffix = randomUUID().slice(0, 6);
const KB = 'KB5034439';
let clientId: string;
const devices: Record<'junction' | 'disabled' | 'healthy', { deviceId: string; device: SimulatedWindowsDevice }> = {} as never;

beforeAll(async () => {
  h = await startHarness({ app: { rolloutOfflineAfterSeconds: 8 } });
  clientId = (await h.api('POST', '/api/v1/clients', { name: `Patch Test Co ${suffix}` })).body.id;
  const site = (await h.api('POST', `/api/v1/clients/${clientId}/sites`, { name: 'HQ' })).body;
  const make = async (key: keyof typeof devices, patchTest: SimulatedPatchTestState) => {
    const name = `PT-${key.toUpperCase()}-${suffix}`;
    const d = await h.api('POST', '/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
    const device = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${key}-`)),
      missingKbs: [KB], rebootDurationMs: 300, executeDurationMs: 5, downloadDurationMs: 1, patchTest,
    });
    devices[key] = { deviceId: d.body.device.id, device };
    return { device, enrollmentToken: d.body.enrollmentToken as string };
  };
  const members = [
    // The configured working folder is a junction into C:\Windows: files would land in a protected folder.
    await make('junction', { workingFolderTarget: 'C:\\Windows\\SoftwareDistribution\\Download' }),
    await make('disabled', { services: { wuauserv: 'Disabled' } }),
    await make('healthy', {}),
  ];
  fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: members, pollWaitSeconds: 2 });
  await fleet.ready;
});
afterAll(async () => {
  await fleet?.stop();
  await h?.stop();
});

/** Runs a Patch Test through the API and returns the workflow's result and the stored one. */
async function patchTest(deviceId: string) {
  const started = await h.api('POST', `/api/v1/devices/${deviceId}/patch-test`, {});
  expect(started.status).toBe(202);
  expect(started.body.workflowId).toMatch(new RegExp(`^patch-test/${deviceId}/`));
  const result = (await h.client.workflow.getHandle(started.body.workflowId).result()) as PatchTestWorkflowResult;
  const stored = await h.api('GET', `/api/v1/devices/${deviceId}/patch-test`);
  expect(stored.status).toBe(200);
  expect(stored.body.workflowId).toBe(started.body.workflowId);
  return { workflowId: started.body.workflowId as string, result, stored: stored.body };
}

const failedChecks = (checks: { check: string; passed: boolean }[]) => checks.filter((c) => !c.passed).map((c) => c.check);

async function runAutomaticUpdate(name: string): Promise<{ result: RolloutResult; scheduleId: string; workflowId: string }> {
  const schedule = await h.api('POST', '/api/v1/schedules', {
    name: `${name} ${suffix}`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: clientId },
    timing: { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'Europe/London' }, distributionWindowMinutes: 0,
    rebootAction: { action: 'reboot_immediately' },
  });
  expect(schedule.status).toBe(201);
  expect((await h.api('POST', `/api/v1/schedules/${schedule.body.id}/trigger`)).status).toBe(202);
  const workflowId = await eventually(async () => {
    const d = await h.client.schedule.getHandle(temporalScheduleId(schedule.body.id)).describe();
    return d.info.recentActions[0]?.action.workflow.workflowId;
  }, 20_000, 'the rollout to start');
  const result = (await h.client.workflow.getHandle(workflowId).result()) as RolloutResult;
  // Paused, not deleted: its rollouts stay listed under it.
  await h.api('POST', `/api/v1/schedules/${schedule.body.id}/pause`);
  return { result, scheduleId: schedule.body.id, workflowId };
}

test('unknown device: 404; a device with a protected working folder fails with that reason and is not emptied', async () => {
  expect((await h.api('POST', `/api/v1/devices/${randomUUID()}/patch-test`, {})).status).toBe(404);
  expect((await h.api('GET', `/api/v1/devices/${devices.junction.deviceId}/patch-test`)).status).toBe(404);
  const viewer = await h.mintKey({ role: 'viewer' });
  expect((await h.apiAs(viewer.key, 'POST', `/api/v1/devices/${devices.junction.deviceId}/patch-test`, {})).status).toBe(403);

  const { workflowId, result, stored } = await patchTest(devices.junction.deviceId);
  expect(result.passed).toBe(false);
  expect(failedChecks(result.checks)).toEqual(['working-folder-protected']);
  expect(stored.checks.find((c: { check: string }) => c.check === 'working-folder-protected').reason)
    .toMatch(/^C:\\Windows\\SoftwareDistribution\\Download: .*protected/i);
  expect(stored.kbs).toEqual([KB]);
  expect(result.cleanupSkipped).toMatch(/not emptied/);
  expect(stored.automaticUpdateBlocked).toMatch(/working-folder-protected/);
  // Nothing ran: the patch is still missing, and the device is free again.
  expect(devices.junction.device.isInstalled(KB)).toBe(false);
  expect((await h.db.query('SELECT 1 FROM device_operations WHERE device_id = $1', [devices.junction.deviceId])).rows).toHaveLength(0);
  const audit = await h.db.query(`SELECT action FROM audit_log WHERE device_id = $1 AND action LIKE '%patch_test%' ORDER BY id`, [devices.junction.deviceId]);
  expect(audit.rows.map((r) => r.action)).toEqual(['patch_test.started', 'device.patch_test_failed']);
  await maybeRecordHistory(h.client, workflowId, 'patchTestWorkflow-protected-folder');
});

test('a Disabled Windows Update service fails the test and blocks Automatic Update; fixed, the next test passes and AU patches it', async () => {
  const failed = await patchTest(devices.disabled.deviceId);
  expect(failed.result.passed).toBe(false);
  expect(failedChecks(failed.result.checks)).toEqual(['windows-update-services']);
  expect(failed.stored.checks.find((c: { check: string }) => c.check === 'windows-update-services').reason).toBe('wuauserv is Disabled');
  await maybeRecordHistory(h.client, failed.workflowId, 'patchTestWorkflow-service-disabled');
  const healthy = await patchTest(devices.healthy.deviceId);
  expect(healthy.result.passed).toBe(true);
  expect(healthy.result.cleanup).toMatchObject({ workingFolderEmpty: true, installFolderEmpty: true });

  // The device status and the fleet page say so.
  const device = await h.api('GET', `/api/v1/devices/${devices.disabled.deviceId}`);
  expect(device.body.automaticUpdateBlocked).toMatch(/windows-update-services: wuauserv is Disabled; Automatic Update is blocked until a Patch Test passes/);
  const fleetView = (await h.api('GET', `/api/v1/fleet/summary?clientId=${clientId}`)).body;
  expect(fleetView.totals.patchTestFailed).toBe(2);
  expect(fleetView.devices.find((d: { deviceId: string }) => d.deviceId === devices.healthy.deviceId).automaticUpdateBlocked).toBeNull();

  // Automatic Update over the client: the two failed devices are left out, with the reason on the rollout.
  const first = await runAutomaticUpdate('AU blocked');
  expect(first.result.counts).toMatchObject({ devices: 1, done: 1, failed: 0 });
  expect(devices.healthy.device.isInstalled(KB)).toBe(true);
  expect(devices.disabled.device.isInstalled(KB)).toBe(false);
  expect(devices.disabled.device.executionCount(KB)).toBe(0);
  const rollouts = (await h.api('GET', `/api/v1/schedules/${first.scheduleId}/rollouts`)).body.rollouts;
  expect(rollouts[0].blockedDevices).toEqual(expect.arrayContaining([
    { deviceId: devices.disabled.deviceId, deviceName: devices.disabled.device.name, reason: expect.stringMatching(/wuauserv is Disabled/) },
    { deviceId: devices.junction.deviceId, deviceName: devices.junction.device.name, reason: expect.stringMatching(/working-folder-protected/) },
  ]));
  expect(rollouts[0].blockedDevices).toHaveLength(2);

  // A technician sets wuauserv back to Manual: the next Patch Test passes, and the block is lifted.
  devices.disabled.device.setPatchTestState({});
  const passed = await patchTest(devices.disabled.deviceId);
  expect(passed.result.passed).toBe(true);
  expect(passed.stored.checks.every((c: { passed: boolean; reason: string }) => c.passed && c.reason.length > 0)).toBe(true);
  expect(passed.stored.automaticUpdateBlocked).toBeNull();
  expect((await h.api('GET', `/api/v1/devices/${devices.disabled.deviceId}`)).body.automaticUpdateBlocked).toBeNull();
  await maybeRecordHistory(h.client, passed.workflowId, 'patchTestWorkflow-passed');

  const second = await runAutomaticUpdate('AU unblocked');
  // The healthy device has nothing left to install; the unblocked one gets its patch.
  expect(second.result.counts).toMatchObject({ devices: 2, done: 2, failed: 0 });
  expect(devices.disabled.device.isInstalled(KB)).toBe(true);
  const rollouts2 = (await h.api('GET', `/api/v1/schedules/${second.scheduleId}/rollouts`)).body.rollouts;
  expect(rollouts2[0].blockedDevices.map((b: { deviceId: string }) => b.deviceId)).toEqual([devices.junction.deviceId]);
});

const executablePath = chromiumPath();
(executablePath ? test : test.skip)('the device page shows the latest Patch Test with each reason; the fleet page lists the blocked device', async () => {
  const browser = await launchBrowser(executablePath!);
  try {
    const page = await (await browser.newContext({ baseURL: h.server.url, viewport: { width: 1440, height: 900 } })).newPage();
    await page.goto('/fleet');
    await page.fill('#api-key', API_KEY);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await page.goto(`/devices/${devices.junction.deviceId}`);
    await page.getByTestId('patch-test-verdict').waitFor();
    expect(await page.getByTestId('patch-test-verdict').textContent()).toMatch(/^Failed/);
    expect(await page.getByTestId('check-working-folder-protected').textContent()).toMatch(/fail.*C:\\Windows\\SoftwareDistribution\\Download/);
    expect(await page.getByTestId('check-windows-update-services').textContent()).toMatch(/pass/);
    expect(await page.getByTestId('device-au-blocked').textContent()).toMatch(/Automatic Update is blocked until a Patch Test passes/);
    await screenshot(page, 'patch-test-device');
    await page.goto(`/fleet/list?kind=patch-test-failed&clientId=${clientId}`);
    await page.getByTestId('device-row').first().waitFor();
    expect(await page.getByTestId('list-count').textContent()).toBe('1');
    expect(await page.getByTestId('device-row').textContent()).toContain(devices.junction.device.name);
    await screenshot(page, 'patch-test-fleet-list');
  } finally {
    await browser.close();
  }
});
