import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { InstallResult } from '../../workflows/install.contract';
import { startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

// Windows Server 2022: January's cumulative update, superseded by March's (the catalog says so).
const JANUARY = 'KB5034129';
const MARCH = 'KB5035857';

let h: Harness;
let fleet: SimulatedFleet;
let deviceId: string;
let device: SimulatedWindowsDevice;

beforeAll(async () => {
  h = await startHarness();
  const created = await h.createDevice('SUP-SRV-01');
  deviceId = created.deviceId;
  device = new SimulatedWindowsDevice({
    id: 'sup-srv-01', name: 'SUP-SRV-01', os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'sup-')),
    missingKbs: [JANUARY, MARCH], rebootDurationMs: 300,
  });
  fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken: created.enrollmentToken }], pollWaitSeconds: 2 });
  await fleet.ready;
});
afterAll(async () => {
  await fleet?.stop();
  await h.stop();
});

test('a patch skipped as superseded leaves the missing count once its successor installs, and says by which', async () => {
  const started = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
  expect(started.status).toBe(202);
  const result = (await h.client.workflow.getHandle(started.body.workflowId).result()) as InstallResult;
  expect(result.supersededKbs).toEqual([JANUARY]);
  expect(result.patches.map((p) => p.kb)).toContain(MARCH);
  expect(device.executionCount(JANUARY)).toBe(0);

  const patches = (await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[];
  const january = patches.find((p) => p.kb === JANUARY);
  expect(january).toMatchObject({ status: 'superseded', supersededBy: MARCH });
  expect(patches.filter((p) => p.status === 'missing').map((p) => p.kb)).not.toContain(JANUARY);
  const listed = (await h.api('GET', `/api/v1/devices/${deviceId}/patches?status=superseded`)).body.patches as any[];
  expect(listed.map((p) => p.kb)).toEqual([JANUARY]);

  const approvals = (await h.api('GET', `/api/v1/devices/${deviceId}/approvals`)).body.patches as any[];
  expect(approvals.find((p) => p.kb === JANUARY)).toMatchObject({
    decision: 'superseded', reason: `superseded by ${MARCH}, which is installed on this device: nothing to install`,
  });
  // A device in no policy: Kaseya's rule, and the resolver says so.
  expect(approvals.find((p) => p.kb === MARCH)?.reason).toMatch(/no approval policy: every missing patch installs/);
});
