import fs from 'node:fs';
import path from 'node:path';
import { catalogFor } from '../../agent/catalog';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import type { InitialUpdateResult } from '../../workflows/initial-update.contract';
import { maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(240_000);

const HISTORY_LIMIT = 150;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    // A low continue-as-new threshold so the runs below split their history, as weeks of cycles would.
    app: { initialUpdateRetry: { maxAttempts: 3, busySeconds: 1, failedSeconds: 1, maxSeconds: 2 }, initialUpdateHistoryLimit: HISTORY_LIMIT },
  });
});
afterAll(async () => { await h.stop(); });

async function newMachine(name: string, options: Partial<SimulatedDeviceOptions>) {
  const { deviceId, enrollmentToken } = await h.createDevice(name, { deviceType: 'workstation' });
  const device = new SimulatedWindowsDevice({
    id: name.toLowerCase(), name, os: 'win10', sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)),
    rebootDurationMs: 800, executeDurationMs: 10, downloadDurationMs: 5, ...options,
  });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  return { deviceId, device };
}

async function runInitialUpdate(deviceId: string): Promise<{ workflowId: string; result: InitialUpdateResult }> {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/initial-update`, {});
  expect(r.status).toBe(202);
  return { workflowId: r.body.workflowId, result: (await h.client.workflow.getHandle(r.body.workflowId).result()) as InitialUpdateResult };
}

/** Total events over every run of the workflow (continue-as-new splits it). */
async function eventsPerRun(workflowId: string): Promise<number[]> {
  const counts: number[] = [];
  for await (const w of h.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) counts.push(w.historyLength);
  return counts;
}

test('a never-patched Windows 10 machine ends with nothing approved missing', async () => {
  const all = catalogFor('win10').map((u) => u.kb);
  const { deviceId, device } = await newMachine('WS-NEW-01', {
    missingKbs: all,
    // The .NET cumulative update fails twice with 0x80070643, then installs.
    exitCodes: { KB5033909: [0x80070643, 0x80070643] },
    // March's cumulative update is offered only once the servicing stack update is in.
    prerequisites: { KB5035845: 'KB5031539' },
  });
  expect(device.missingKbs().length).toBeGreaterThanOrEqual(25);
  const started = Date.now();
  const { workflowId, result } = await runInitialUpdate(deviceId);

  expect(result.outcome).toBe('completed');
  expect(device.missingKbs()).toEqual([]);
  expect(device.isInstalled('KB5035845')).toBe(true);
  expect(device.isInstalled('KB5033909')).toBe(true);
  expect(device.executionCount('KB5033909')).toBe(3);
  // Superseded cumulative updates were never run: March's replaced them.
  for (const kb of ['KB5031356', 'KB5032189', 'KB5033372', 'KB5034122', 'KB5034763']) expect(device.executionCount(kb)).toBe(0);
  // No patch ran twice because of a retry: only the deliberately failing one ran more than once.
  for (const kb of all.filter((k) => k !== 'KB5033909')) expect(device.executionCount(kb)).toBeLessThanOrEqual(1);
  expect(result.reboots).toBeGreaterThanOrEqual(2);
  expect(result.runs).toBeGreaterThan(1);
  const runs = await eventsPerRun(workflowId);
  expect(Math.max(...runs)).toBeLessThan(HISTORY_LIMIT + 60);
  const patches = (await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[];
  expect(patches.filter((p) => p.status === 'missing' && !['KB5031356', 'KB5032189', 'KB5033372', 'KB5034122', 'KB5034763', 'KB5032339'].includes(p.kb)))
    .toEqual([]);
  console.log(`initial update (30-patch Windows 10): ${result.cycles} cycles, ${result.reboots} reboots, ${result.installed.length} installed, `
    + `${runs.length} runs of ${runs.join('/')} events, ${((Date.now() - started) / 1000).toFixed(1)} s`);
  await maybeRecordHistory(h.client, workflowId, 'initialUpdateWorkflow-new-machine');
});

test('the machine goes offline mid-cycle for a long spell and the Initial Update completes afterwards', async () => {
  const { deviceId, device } = await newMachine('WS-NEW-02', {
    missingKbs: ['KB5034441', 'KB4023057', 'KB5001716'],
    offline: [{ afterCommand: 'execute_patches', durationMs: 15_000 }],
  });
  const { result } = await runInitialUpdate(deviceId);
  expect(result.outcome).toBe('completed');
  expect(device.events.some((e) => e.type === 'offline')).toBe(true);
  expect(device.missingKbs()).toEqual([]);
});

test('a patch that always fails needs attention after the configured attempts; the rest still install; Reprocess failed re-arms it', async () => {
  const { deviceId, device } = await newMachine('WS-NEW-03', {
    missingKbs: ['KB5034441', 'KB4023057', 'KB5001716'],
    exitCodes: { KB4023057: [0x80070643, 0x80070643, 0x80070643] },
  });
  const first = await runInitialUpdate(deviceId);
  expect(first.result.outcome).toBe('completed_needs_attention');
  expect(first.result.needsAttention).toEqual([expect.objectContaining({ kb: 'KB4023057', attempts: 3, lastExitCode: 0x80070643 })]);
  expect(device.isInstalled('KB5034441')).toBe(true);
  expect(device.isInstalled('KB5001716')).toBe(true);
  const failed = ((await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[]).find((p) => p.kb === 'KB4023057');
  expect(failed).toMatchObject({ status: 'failed', failedAttempts: 3 });

  // The operator re-arms it; the installer has stopped failing, and the next Initial Update installs it.
  const rearm = await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'device', scopeId: deviceId, kbs: ['KB4023057'], action: 'reprocess_failed' });
  expect(rearm.status).toBeLessThan(300);
  const second = await runInitialUpdate(deviceId);
  expect(second.result.outcome).toBe('completed');
  expect(device.isInstalled('KB4023057')).toBe(true);
  await maybeRecordHistory(h.client, first.workflowId, 'initialUpdateWorkflow-needs-attention');
});

test('one operation per device: a manual install is refused while the Initial Update runs; a second start returns the running one', async () => {
  const { deviceId } = await newMachine('WS-NEW-04', { missingKbs: ['KB5034441', 'KB4023057'], executeDurationMs: 1_500 });
  const first = await h.api('POST', `/api/v1/devices/${deviceId}/initial-update`, {});
  expect(first.status).toBe(202);
  const again = await h.api('POST', `/api/v1/devices/${deviceId}/initial-update`, {});
  expect(again.status).toBe(200);
  expect(again.body).toMatchObject({ workflowId: first.body.workflowId, existing: true });
  const install = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
  expect(install.status).toBe(409);
  expect(install.body.error).toContain(first.body.workflowId);
  const view = await h.api('GET', `/api/v1/devices/${deviceId}/initial-update`);
  expect(view.body.status).toBe('RUNNING');
  expect(view.body.progress.cycle).toBeGreaterThanOrEqual(1);

  const cancel = await h.api('POST', `/api/v1/devices/${deviceId}/initial-update/cancel`, { reason: 'test' });
  expect(cancel.status).toBe(202);
  const result = (await h.client.workflow.getHandle(first.body.workflowId).result()) as InitialUpdateResult;
  expect(result.outcome).toBe('cancelled');
  // Released: the device takes installs again.
  const after = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
  expect(after.status).toBe(202);
  await h.client.workflow.getHandle(after.body.workflowId).result();
});
