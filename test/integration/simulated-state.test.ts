/**
 * Issue 10.4: a simulated device keeps its state in its sandbox folder, so the machines a restarted
 * `npm start` or `patchflow agent --simulate` brings back are the machines as they were: what an install
 * put on them is still installed, and a scan says so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { InstallResult } from '../../workflows/install.contract';
import { startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

const SECURITY = 'KB5034439';
const SSU = 'KB5031988';

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

test('installed updates, journal and boot id survive a restart of the simulating process', async () => {
  const { deviceId, enrollmentToken } = await h.createDevice('SRV-KEEP');
  const sandboxDir = fs.mkdtempSync(path.join(h.scratch, 'keep-'));
  const stateFile = path.join(sandboxDir, 'device-state.json');
  const build = () => new SimulatedWindowsDevice({ id: 'srv-keep', name: 'SRV-KEEP', sandboxDir, stateFile, os: 'server2022', seed: 42, missingKbs: [SECURITY, SSU], rebootDurationMs: 500 });

  const first = build();
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device: first, enrollmentToken }], pollWaitSeconds: 2 });
  await fleet.ready;
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, { kbs: [SSU] });
  expect(r.status).toBe(202);
  const result = (await h.client.workflow.getHandle(r.body.workflowId).result()) as InstallResult;
  expect(result.patches).toEqual([expect.objectContaining({ kb: SSU, status: 'installed' })]);
  const { credential, commandKeys } = fleet.agents[0]!;
  const bootId = first.bootId;
  await fleet.stop();

  // The process starts again: a new device object on the same sandbox, the saved credential.
  const again = build();
  expect(again.isInstalled(SSU)).toBe(true);
  expect(again.missingKbs()).toEqual([SECURITY]);
  expect(again.bootId).toBe(bootId);
  const second = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device: again, credential, commandKeys }], pollWaitSeconds: 2 });
  try {
    await second.ready;
    const scan = await h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
    expect(scan.status).toBe(202);
    await h.client.workflow.getHandle(scan.body.workflowId).result();
    const patches = Object.fromEntries(((await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[]).map((p) => [p.kb, p.status]));
    expect(patches[SSU]).toBe('installed');
    expect(patches[SECURITY]).toBe('missing');
    expect(again.executionCount(SSU)).toBe(1);
  } finally {
    await second.stop();
  }
});
