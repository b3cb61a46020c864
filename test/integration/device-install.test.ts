import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import { findDevice } from '../../db/fleet-repository';
import { INSTALL_WORKFLOW_TYPE, installWorkflowId, type DeviceInstallInput, type InstallResult } from '../../workflows/install.contract';
import { eventually, FAST_TIMING, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

// Windows Server 2022 updates from the simulator's catalog.
const CU = 'KB5035857'; // 2024-03 cumulative update: always asks for a restart (3010)
const SECURITY = 'KB5034439';
const SSU = 'KB5031988'; // servicing stack: no restart
const MSRT = 'KB890830';

let h: Harness;

beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

/** A device registered through the API and its simulated agent, running. */
async function simulatedDevice(name: string, options: Partial<SimulatedDeviceOptions> = {}) {
  const { deviceId, enrollmentToken } = await h.createDevice(name);
  const device = new SimulatedWindowsDevice({
    id: name.toLowerCase(),
    name,
    sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)),
    os: 'server2022',
    seed: 42,
    rebootDurationMs: 1500,
    ...options,
  });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  return { deviceId, device };
}

async function install(deviceId: string, body: Record<string, unknown> = {}) {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, body);
  expect(r.status).toBe(202);
  expect(r.headers.get('location')).toBe(r.body.location);
  return r.body as { workflowId: string; key: string; location: string };
}

const resultOf = (workflowId: string) => h.client.workflow.getHandle(workflowId).result() as Promise<InstallResult>;

async function patchesByKb(deviceId: string) {
  const r = await h.api('GET', `/api/v1/devices/${deviceId}/patches`);
  return Object.fromEntries((r.body.patches as any[]).map((p) => [p.kb, p]));
}

/** The device steps in the order the workflow scheduled them, consecutive repeats folded. */
async function stepsInHistory(workflowId: string): Promise<string[]> {
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const steps: string[] = [];
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a || a.activityType?.name !== 'deviceCommand') continue;
    const payload = a.input?.payloads?.[1];
    const type = JSON.parse(Buffer.from(payload!.data!).toString());
    if (steps[steps.length - 1] !== type) steps.push(type);
  }
  return steps;
}

async function expectFoldersEmpty(device: SimulatedWindowsDevice) {
  expect(await device.folderContents()).toEqual({ working: [], install: [] });
}

test('happy path: seven steps in order, patches Installed with a date, both folders empty', async () => {
  const { deviceId, device } = await simulatedDevice('SRV-HAPPY', { missingKbs: [CU, SECURITY, SSU] });
  const { workflowId } = await install(deviceId);
  const result = await resultOf(workflowId);

  expect(result.outcome).toBe('succeeded');
  expect(result.rebooted).toBe(true);
  expect(await stepsInHistory(workflowId)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'reboot', 'scan', 'cleanup']);
  // One download command for all three patches, as copy is (patched('one-download-command')).
  const downloads = await h.db.query(`SELECT payload FROM agent_commands WHERE workflow_id = $1 AND type = 'download'`, [workflowId]);
  expect(downloads.rows.map((r) => r.payload.patches.map((p: { kb: string }) => p.kb).sort())).toEqual([[CU, SECURITY, SSU].sort()]);
  // One execute command for all three (patched('batched-execute')), each patch started on the install's go-ahead.
  const executes = await h.db.query(`SELECT payload, last_progress FROM agent_commands WHERE workflow_id = $1 AND type = 'execute_patches'`, [workflowId]);
  expect(executes.rows).toHaveLength(1);
  const order = executes.rows[0].payload.patches.map((p: { kb: string }) => p.kb);
  expect([...order].sort()).toEqual([CU, SECURITY, SSU].sort());
  expect(executes.rows[0].last_progress).toMatchObject({ message: `starting ${order[2]} (3 of 3)`, starting: { kb: order[2] } });
  for (const kb of [CU, SECURITY, SSU]) expect(device.executionCount(kb)).toBe(1);
  // The Web UI reads the step as the runbook does, and the install stays within its history budget (issue 15).
  const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
  const summaries = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deviceCommand')
    .map((e) => JSON.parse(Buffer.from(e.userMetadata!.summary!.data!).toString()) as string);
  expect(summaries).toContain(`execute 3 patches: ${order.join(', ')}`);
  expect(history.events!.length).toBeLessThanOrEqual(60);
  const patches = await patchesByKb(deviceId);
  for (const kb of [CU, SECURITY, SSU]) {
    expect(patches[kb].status).toBe('installed');
    expect(new Date(patches[kb].installedAt).getTime()).toBeGreaterThan(Date.now() - 120_000);
  }
  // Updates that were already on the device are Installed without an install date: Patchflow did not install them.
  const preinstalled = Object.values(patches).filter((p: any) => ![CU, SECURITY, SSU].includes(p.kb));
  expect(preinstalled.length).toBeGreaterThan(0);
  for (const p of preinstalled as any[]) expect(p).toMatchObject({ status: 'installed', installedAt: null });
  expect(result.cleanup).toMatchObject({ workingFolderEmpty: true, installFolderEmpty: true });
  await expectFoldersEmpty(device);
  // The progress view answers through the API once the install is done.
  const view = await h.api('GET', `/api/v1/devices/${deviceId}/installs/${workflowId.split('/')[2]}`);
  expect(view.body).toMatchObject({ status: 'COMPLETED', result: { outcome: 'succeeded' } });
  // The Web UI can find the device's workflows by DeviceId.
  const found = await eventually(async () => {
    const ids: string[] = [];
    for await (const w of h.client.workflow.list({ query: `DeviceId = "${deviceId}"` })) ids.push(w.workflowId);
    return ids.length > 0 ? ids : undefined;
  }, 15_000, 'visibility');
  expect(found).toEqual([workflowId]);
  const audit = await h.api('GET', `/api/v1/audit?deviceId=${deviceId}`);
  expect((audit.body.entries as any[]).filter((e) => e.action === 'patch.installed').map((e) => e.subject).sort()).toEqual([CU, SECURITY, SSU].sort());
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-happy-path');
});

test('one patch fails with 0x80070643: it is Failed with that code, the others Installed, cleanup ran', async () => {
  const { deviceId, device } = await simulatedDevice('SRV-FAIL', { missingKbs: [SECURITY, SSU, MSRT], exitCodes: { [SECURITY]: [0x80070643] } });
  const { workflowId } = await install(deviceId);
  const result = await resultOf(workflowId);

  expect(result.outcome).toBe('partially_failed');
  const patches = await patchesByKb(deviceId);
  expect(patches[SECURITY]).toMatchObject({ status: 'failed', lastExitCode: 0x80070643, failedAttempts: 1 });
  expect(patches[SECURITY].lastError).toContain('0x80070643');
  expect(patches[SECURITY].installedAt).toBeNull();
  expect(patches[SSU].status).toBe('installed');
  expect(patches[MSRT].status).toBe('installed');
  expect(await stepsInHistory(workflowId)).toContain('cleanup');
  await expectFoldersEmpty(device);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-one-failure');
});

test('3010 leads to a reboot, and post-scan marks the patch Installed', async () => {
  const { deviceId, device } = await simulatedDevice('SRV-REBOOT', { missingKbs: [CU] });
  const bootBefore = device.bootId;
  const { workflowId } = await install(deviceId);
  const result = await resultOf(workflowId);

  expect(result.rebooted).toBe(true);
  expect(result.patches).toEqual([expect.objectContaining({ kb: CU, status: 'installed', exitCode: 3010 })]);
  expect(device.bootId).not.toBe(bootBefore);
  const patches = await patchesByKb(deviceId);
  expect(patches[CU].status).toBe('installed');
  expect(patches[CU].installedAt).not.toBeNull();
  const deviceView = await h.api('GET', `/api/v1/devices/${deviceId}`);
  expect(deviceView.body.bootId).toBe(device.bootId);
});

test('with reboots not allowed, a 3010 patch stays Reboot Required', async () => {
  const { deviceId } = await simulatedDevice('SRV-NOREBOOT', { missingKbs: [CU] });
  const { workflowId } = await install(deviceId, { rebootAllowed: false });
  const result = await resultOf(workflowId);
  expect(result.rebooted).toBe(false);
  expect(await stepsInHistory(workflowId)).not.toContain('reboot');
  expect((await patchesByKb(deviceId))[CU]).toMatchObject({ status: 'reboot_required', installedAt: null });
});

test('a hash mismatch executes nothing and says why', async () => {
  const { deviceId, device } = await simulatedDevice('SRV-HASH', { missingKbs: [SECURITY, SSU], corruptDownloads: [SECURITY] });
  const { workflowId } = await install(deviceId);
  const result = await resultOf(workflowId);

  expect(device.executionCount(SECURITY)).toBe(0);
  const failed = result.patches.find((p) => p.kb === SECURITY)!;
  expect(failed.status).toBe('failed');
  expect(failed.error).toMatch(/^download refused: SHA-256/);
  // Both patches went in one download command; the device answered for each.
  const downloads = await h.db.query(`SELECT count(*)::int AS n FROM agent_commands WHERE workflow_id = $1 AND type = 'download'`, [workflowId]);
  expect(downloads.rows[0].n).toBe(1);
  const patches = await patchesByKb(deviceId);
  expect(patches[SECURITY].lastError).toMatch(/SHA-256/);
  expect(patches[SSU].status).toBe('installed');
  const executed = await h.db.query(
    `SELECT p->>'kb' AS kb FROM agent_commands, jsonb_array_elements(payload->'patches') AS p WHERE workflow_id = $1 AND type = 'execute_patches'`, [workflowId]);
  expect(executed.rows.map((r) => r.kb)).toEqual([SSU]);
  await expectFoldersEmpty(device);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-hash-mismatch');
});

test('the device goes offline during download and the workflow completes once it is back', async () => {
  const { deviceId, device } = await simulatedDevice('SRV-OFFLINE', {
    missingKbs: [SECURITY, SSU],
    // Longer than one attempt of the download of both patches (4 s per patch).
    offline: [{ afterCommand: 'download', durationMs: 10_000 }],
  });
  const { workflowId } = await install(deviceId);
  const result = await resultOf(workflowId);

  expect(result.outcome).toBe('succeeded');
  const attempts = await h.db.query(`SELECT max(attempt) AS attempts FROM agent_commands WHERE workflow_id = $1 AND type = 'download'`, [workflowId]);
  // The first attempt (8 s) timed out while the device was away; a later one finished the download.
  expect(attempts.rows[0].attempts).toBeGreaterThan(1);
  expect(device.events.some((e) => e.type === 'offline')).toBe(true);
  for (const kb of [SECURITY, SSU]) expect(device.executionCount(kb)).toBe(1);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-offline-download');
});

test('a second install on a busy device is refused', async () => {
  const { deviceId } = await simulatedDevice('SRV-BUSY', { missingKbs: [SECURITY], executeDurationMs: 3_000 });
  const first = await install(deviceId);
  const second = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
  expect(second.status).toBe(409);
  expect(second.body.error).toContain(first.workflowId);
  expect((await resultOf(first.workflowId)).outcome).toBe('succeeded');
  // Once the first is done, the device takes installs again.
  const third = await install(deviceId, { kbs: [SECURITY] });
  expect((await resultOf(third.workflowId)).outcome).toBe('nothing_to_install');
});

test('cancel: steps not yet run are skipped, cleanup still runs, unreached patches are Missing again', async () => {
  const { deviceId, device } = await simulatedDevice('SRV-CANCEL', { missingKbs: [SECURITY, SSU, MSRT], executeDurationMs: 2_000 });
  const { workflowId, key } = await install(deviceId);
  await eventually(async () => (device.executionCount(SSU) > 0 ? true : undefined), 30_000, 'first execution');
  const cancel = await h.api('POST', `/api/v1/devices/${deviceId}/installs/${key}/cancel`, { reason: 'change freeze' });
  expect(cancel.status).toBe(202);
  expect(cancel.body.accepted).toBe(true);
  const result = await resultOf(workflowId);

  expect(result.outcome).toBe('cancelled');
  expect(result.cleanup).toMatchObject({ workingFolderEmpty: true, installFolderEmpty: true });
  await expectFoldersEmpty(device);
  const patches = await patchesByKb(deviceId);
  const statuses = [SECURITY, SSU, MSRT].map((kb) => patches[kb].status);
  expect(statuses).not.toContain('pending');
  expect(statuses).not.toContain('installing');
  expect(statuses.filter((s) => s === 'missing').length).toBeGreaterThan(0);
  // The patch that was executing when the cancel landed: the verifying scan decides, so its status
  // is what the device really has, never Missing on a guess.
  expect(device.executionCount(SSU)).toBe(1);
  expect(patches[SSU].status).toBe(device.isInstalled(SSU) ? 'installed' : 'missing');
  expect(device.isInstalled(SSU)).toBe(true);
  const late = await h.api('POST', `/api/v1/devices/${deviceId}/installs/${key}/cancel`, {});
  expect(late.status).toBe(409);
  expect(JSON.stringify(late.body)).toMatch(/cannot cancel: the install has already finished/);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-cancelled-during-execute-verified');
});

test('cleanup on a device that went away ends "cleanup pending": the claim is released, the cleanup waits for its next check-in', async () => {
  // The device runs the cleanup, then drops off the network before it can say so, for longer than the deadline.
  const { deviceId, device } = await simulatedDevice('SRV-GONE', { missingKbs: [SSU], offline: [{ afterCommand: 'cleanup', durationMs: 15_000 }] });
  const d = (await findDevice(h.db, deviceId))!;
  const workflowId = installWorkflowId(deviceId, `cleanup-${Date.now().toString(36)}`);
  const input: DeviceInstallInput = {
    deviceId, deviceName: d.name, clientId: d.clientId, clientName: d.clientName, siteId: d.siteId, siteName: d.siteName,
    rebootAllowed: true, workingFolder: d.workingFolder, installFolder: d.installFolder, requestedBy: 'test',
    timing: { ...FAST_TIMING, cleanupDeadlineSeconds: 6 },
  };
  const started = Date.now();
  const result = (await h.client.workflow.execute(INSTALL_WORKFLOW_TYPE, { workflowId, taskQueue: h.taskQueue, args: [input] })) as InstallResult;

  expect(result.outcome).toBe('cleanup_pending');
  expect(result.cleanupPending).toMatch(/did not answer cleanup within 6 s; it runs at the device's next check-in/);
  expect(result.patches.map((p) => p.status)).toEqual(['installed']);
  expect(Date.now() - started).toBeLessThan(15_000); // did not wait for the device to come back
  // The device is free for the next install, and its cleanup command is queued for its next check-in.
  expect((await h.db.query('SELECT count(*) FROM device_operations WHERE device_id = $1', [deviceId])).rows[0].count).toBe('0');
  const queued = await h.db.query(`SELECT status, signature FROM agent_commands WHERE workflow_id = $1 AND type = 'cleanup'`, [workflowId]);
  expect(queued.rows.map((r) => r.status)).toEqual(['pending']);
  // Signed again for the wait: the given-up attempt's envelope would have expired before a device away for hours returns.
  expect(Date.parse(queued.rows[0].signature.expiresAt) - Date.now()).toBeGreaterThan(13 * 86_400_000);
  const audit = await h.api('GET', `/api/v1/audit?deviceId=${deviceId}`);
  expect((audit.body.entries as any[]).filter((e) => e.action === 'install.cleanup_pending' && e.subject === workflowId)).toHaveLength(1);
  // Back on the network, the device delivers its cleanup: the command ends succeeded, the folders are empty.
  await eventually(async () => {
    const r = await h.db.query(`SELECT status FROM agent_commands WHERE workflow_id = $1 AND type = 'cleanup'`, [workflowId]);
    return r.rows[0].status === 'succeeded' ? true : undefined;
  }, 40_000, 'the queued cleanup to finish at check-in');
  await expectFoldersEmpty(device);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-cleanup-pending');
});

test('the worker is killed mid-install and a new one finishes it, with no patch executed twice', async () => {
  await h.stopWorker();
  // The worker runs in its own Node process (tsx as a loader, so the PID is the worker itself and
  // SIGKILL really kills it: no wrapper process left running).
  const spawnWorker = (): ChildProcess => spawn(
    process.execPath,
    ['--import', 'tsx', path.resolve(__dirname, '../../worker/main.ts')],
    {
      cwd: path.resolve(__dirname, '../..'),
      env: {
        ...process.env,
        DATABASE_URL: process.env.PATCHFLOW_TEST_DATABASE_URL,
        TEMPORAL_ADDRESS: process.env.PATCHFLOW_TEST_TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: h.taskQueue,
        PATCHFLOW_WORKFLOW_BUNDLE: process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE,
        COMMAND_SIGNING_KEY_PATH: h.commandKeyPath,
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    },
  );
  const child = spawnWorker();
  try {
    const { deviceId, device } = await simulatedDevice('SRV-KILL', { missingKbs: [SECURITY, SSU, MSRT], executeDurationMs: 1_500 });
    const { workflowId } = await install(deviceId);
    await eventually(async () => (device.executionCount(SSU) > 0 ? true : undefined), 60_000, 'first execution');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // Nothing answers for this task queue now: the killed worker is really gone.
    expect(child.signalCode).toBe('SIGKILL');
    await h.startWorker();
    const result = await resultOf(workflowId);

    expect(result.outcome).toBe('succeeded');
    // Workflow tasks were run by the killed worker process and then by the new worker.
    const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
    const identities = new Set((history.events ?? []).map((e) => e.workflowTaskStartedEventAttributes?.identity).filter(Boolean));
    expect([...identities].some((id) => id!.startsWith(`${child.pid}@`))).toBe(true);
    expect(identities.size).toBeGreaterThan(1);
    for (const kb of [SECURITY, SSU, MSRT]) expect(device.executionCount(kb)).toBe(1);
    expect(Object.values(await patchesByKb(deviceId)).filter((p: any) => [SECURITY, SSU, MSRT].includes(p.kb)).map((p: any) => p.status))
      .toEqual(['installed', 'installed', 'installed']);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    if (!h.worker) await h.startWorker();
  }
});
