import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import type { AgentCommand, CommandOutcome, GoAhead } from '../../domain/device-protocol';
import { haltInstallSignal, progressQuery, type InstallResult } from '../../workflows/install.contract';
import { eventually, maybeRecordHistory, startHarness, type Harness } from './harness';

/**
 * The kill switch's install part (issue 14 part 2): the halt signal on a real install, real Temporal,
 * real PostgreSQL and a simulated agent over HTTP.
 */
jest.setTimeout(120_000);

const SECURITY = 'KB5034439';
const SSU = 'KB5031988';
const MSRT = 'KB890830';

let h: Harness;

beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function simulatedDevice(name: string, options: Partial<SimulatedDeviceOptions>) {
  const { deviceId, enrollmentToken } = await h.createDevice(name);
  const device = new SimulatedWindowsDevice({
    id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)),
    os: 'server2022', seed: 42, rebootDurationMs: 1500, ...options,
  });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  return { deviceId, device };
}

async function install(deviceId: string) {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
  expect(r.status).toBe(202);
  return r.body as { workflowId: string };
}

async function statusesByKb(deviceId: string): Promise<Record<string, string>> {
  const r = await h.api('GET', `/api/v1/devices/${deviceId}/patches`);
  return Object.fromEntries((r.body.patches as any[]).map((p) => [p.kb, p.status]));
}

/** The install's execute_patches commands, in order, with the device's answers. */
async function executePatchesCommands(workflowId: string): Promise<{ payload: any; result: any }[]> {
  const r = await h.db.query(`SELECT payload, result FROM agent_commands WHERE workflow_id = $1 AND type = 'execute_patches' ORDER BY created_at, id`, [workflowId]);
  return r.rows;
}

const claims = async (deviceId: string) =>
  Number((await h.db.query('SELECT count(*) FROM device_operations WHERE device_id = $1', [deviceId])).rows[0].count);

test('a halt before execute: nothing executes, cleanup runs, the install ends halted and frees the device', async () => {
  const kbs = [SECURITY, SSU, MSRT];
  const { deviceId, device } = await simulatedDevice('SRV-HALT-EARLY', { missingKbs: kbs, downloadDurationMs: 1_500 });
  const { workflowId } = await install(deviceId);
  const handle = h.client.workflow.getHandle(workflowId);
  await eventually(async () => ((await handle.query(progressQuery)).step === 'download' ? true : undefined), 30_000, 'download');
  await handle.signal(haltInstallSignal, { reason: 'bad cumulative update reported', by: 'user:ops-lead' });
  const result = (await handle.result()) as InstallResult;

  expect(result.outcome).toBe('halted');
  expect(result.halted).toEqual({ reason: 'bad cumulative update reported', by: 'user:ops-lead', step: 'download' });
  for (const kb of kbs) expect(device.executionCount(kb)).toBe(0);
  expect(result.cleanup).toMatchObject({ workingFolderEmpty: true, installFolderEmpty: true });
  expect(await device.folderContents()).toEqual({ working: [], install: [] });
  const statuses = await statusesByKb(deviceId);
  for (const kb of kbs) expect(statuses[kb]).toBe('missing');
  expect(await claims(deviceId)).toBe(0);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-halted-before-execute');
});

test('a halt during execute: the patch in hand finishes, no further patch runs, post-scan and cleanup still run', async () => {
  const kbs = [SECURITY, SSU, MSRT];
  const { deviceId, device } = await simulatedDevice('SRV-HALT-EXEC', { missingKbs: kbs, executeDurationMs: 2_000 });
  const { workflowId } = await install(deviceId);
  const handle = h.client.workflow.getHandle(workflowId);
  const first = await eventually(async () => kbs.find((kb) => device.executionCount(kb) > 0), 30_000, 'first execution');
  await handle.signal(haltInstallSignal, { reason: 'change freeze', by: 'user:ops-lead' });
  const result = (await handle.result()) as InstallResult;

  expect(result.outcome).toBe('halted');
  expect(result.halted).toMatchObject({ step: 'execute', by: 'user:ops-lead' });
  // Exactly the patch that was running when the halt landed ran, to its end, and was verified.
  expect(kbs.map((kb) => device.executionCount(kb)).reduce((a, b) => a + b, 0)).toBe(1);
  expect(device.isInstalled(first)).toBe(true);
  const statuses = await statusesByKb(deviceId);
  expect(statuses[first]).toBe('installed');
  for (const kb of kbs.filter((k) => k !== first)) expect(statuses[kb]).toBe('missing');
  expect(result.cleanup).toMatchObject({ workingFolderEmpty: true, installFolderEmpty: true });
  expect(await claims(deviceId)).toBe(0);
  // One command for the three; before the second patch the agent asked, and the install said halted.
  const batch = await executePatchesCommands(workflowId);
  expect(batch).toHaveLength(1);
  expect(batch[0]!.result.patches.map((p: any) => [p.kb, p.reason ?? p.status])).toEqual([
    [first, 'executed'], ...kbs.filter((k) => k !== first).map(() => [expect.any(String), 'halted']),
  ]);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-halted-during-execute');
});

test('a halt of one KB skips only that patch; the install goes on with the others', async () => {
  const kbs = [SECURITY, SSU, MSRT];
  const { deviceId, device } = await simulatedDevice('SRV-HALT-KB', { missingKbs: kbs, executeDurationMs: 1_500 });
  const { workflowId } = await install(deviceId);
  const handle = h.client.workflow.getHandle(workflowId);
  const first = await eventually(async () => kbs.find((kb) => device.executionCount(kb) > 0), 30_000, 'first execution');
  // The last patch in the install's order: it cannot be running yet.
  const order = (await handle.query(progressQuery)).patches.map((p) => p.kb);
  const halted = order[order.length - 1];
  expect(halted).not.toBe(first);
  await handle.signal(haltInstallSignal, { reason: 'vendor pulled it', by: 'user:ops-lead', kb: halted.toLowerCase() });
  const result = (await handle.result()) as InstallResult;

  expect(result.outcome).toBe('succeeded');
  expect(result.halted).toBeUndefined();
  expect(result.haltedKbs).toEqual([{ kb: halted, reason: 'vendor pulled it', by: 'user:ops-lead' }]);
  expect(device.executionCount(halted)).toBe(0);
  for (const kb of kbs.filter((k) => k !== halted)) expect(device.executionCount(kb)).toBe(1);
  const statuses = await statusesByKb(deviceId);
  expect(statuses[halted]).toBe('missing');
  for (const kb of kbs.filter((k) => k !== halted)) expect(statuses[kb]).toBe('installed');
  expect(result.patches.find((p) => p.kb === halted)).toMatchObject({ status: 'missing', error: 'halted by user:ops-lead: vendor pulled it' });
  // One command: the halted KB (the last) was answered "not started", the others ran.
  const batch = await executePatchesCommands(workflowId);
  expect(batch).toHaveLength(1);
  expect(batch[0]!.result.patches.map((p: any) => [p.kb, p.reason ?? p.status])).toEqual(order.map((kb) => [kb, kb === halted ? 'kb_halted' : 'executed']));
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-halted-one-kb');
});

test('a busy installer: only the busy patch goes again, in a new command after the backoff, and installs', async () => {
  const kbs = [SECURITY, SSU, MSRT];
  const { deviceId, device } = await simulatedDevice('SRV-BUSY', { missingKbs: kbs, exitCodes: { [SSU]: [0x80240016] } });
  const { workflowId } = await install(deviceId);
  const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;

  expect(result.outcome).toBe('succeeded');
  const batches = await executePatchesCommands(workflowId);
  expect(batches.map((b) => b.payload.patches.map((p: any) => p.kb))).toEqual([expect.arrayContaining(kbs), [SSU]]);
  expect(batches[0]!.result.patches.find((p: any) => p.kb === SSU)).toMatchObject({ status: 'executed', exitCode: 0x80240016 });
  for (const kb of kbs) expect(device.executionCount(kb)).toBe(1);
  const statuses = await statusesByKb(deviceId);
  for (const kb of kbs) expect(statuses[kb]).toBe('installed');
  // A busy answer counts no failure.
  const r = await h.api('GET', `/api/v1/devices/${deviceId}/patches`);
  expect((r.body.patches as any[]).find((p) => p.kb === SSU).failedAttempts).toBe(0);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-busy-retry');
});

/** An agent from before execute_patches: it answers the unknown type as every agent does. */
class OldAgentDevice extends SimulatedWindowsDevice {
  override handle(command: AgentCommand, options?: Parameters<SimulatedWindowsDevice['handle']>[1]): Promise<CommandOutcome> {
    if (command.type === 'execute_patches') {
      return Promise.resolve({ status: 'failed', error: { code: 'UnknownCommand', message: 'this agent does not know the command type "execute_patches"', retryable: false } });
    }
    return super.handle(command, options);
  }
}

test('an agent that predates execute_patches refuses it before running anything; the install runs one execute per patch', async () => {
  const kbs = [SECURITY, SSU];
  const { deviceId, enrollmentToken } = await h.createDevice('SRV-OLD-AGENT');
  const device = new OldAgentDevice({ id: 'srv-old-agent', name: 'SRV-OLD-AGENT', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'old-')), os: 'server2022', seed: 42, rebootDurationMs: 1500, missingKbs: kbs });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  const { workflowId } = await install(deviceId);
  const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;

  expect(result.outcome).toBe('succeeded');
  const types = (await h.db.query(`SELECT type FROM agent_commands WHERE workflow_id = $1 AND type LIKE 'execute%' ORDER BY created_at, id`, [workflowId])).rows.map((r) => r.type);
  expect(types).toEqual(['execute_patches', 'execute', 'execute']);
  for (const kb of kbs) expect(device.executionCount(kb)).toBe(1);
  const statuses = await statusesByKb(deviceId);
  for (const kb of kbs) expect(statuses[kb]).toBe('installed');
});

/** An agent that, before its batch, asks the gateway about a patch the command does not hold. */
class CuriousDevice extends SimulatedWindowsDevice {
  probe: GoAhead | undefined;
  override async handle(command: AgentCommand, options?: Parameters<SimulatedWindowsDevice['handle']>[1]): Promise<CommandOutcome> {
    if (command.type === 'execute_patches' && !this.probe) {
      this.probe = await options!.askToStart!({ updateId: '00000000-0000-4000-8000-00000000dead', kb: 'KB1234567', index: 1, of: 1 });
    }
    return super.handle(command, options);
  }
}

test('the gateway gives a go-ahead only for a patch of the command in flight: another is a 400, which the agent takes as a no', async () => {
  const { deviceId, enrollmentToken } = await h.createDevice('SRV-CURIOUS');
  const device = new CuriousDevice({ id: 'srv-curious', name: 'SRV-CURIOUS', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'curious-')), os: 'server2022', seed: 42, rebootDurationMs: 1500, missingKbs: [SSU] });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  const { workflowId } = await install(deviceId);
  const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;

  expect(device.probe).toMatchObject({ proceed: false, reason: 'withdrawn', message: expect.stringMatching(/is not a patch of command/) });
  // The question it was entitled to ask got its go-ahead: the patch installed.
  expect(result.outcome).toBe('succeeded');
  expect(device.executionCount(SSU)).toBe(1);
});
