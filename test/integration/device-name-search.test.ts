/**
 * The DeviceName search attribute: operators know "NORT-WS-09", not its id, so every device
 * workflow is started with it and `DeviceName = "NORT-WS-09"` lists that device's workflows in the
 * Temporal Web UI (here through the same visibility query the UI runs).
 */
import { randomUUID } from 'node:crypto';
import { eventually, startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

let h: Harness;
const started: string[] = [];
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => {
  // No agent answers these: end them so they do not outlive the test.
  for (const id of started) await h.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await h.stop();
});

async function listIds(query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of h.client.workflow.list({ query })) ids.push(w.workflowId);
  return ids.sort();
}

test('DeviceName = "<name>" lists that device\'s scan, install and Initial Update, and no other device\'s', async () => {
  const name = `NORT-WS-${randomUUID().slice(0, 6).toUpperCase()}`;
  const { deviceId, siteId } = await h.createDevice(name);
  const other = await h.api('POST', '/api/v1/devices', { siteId, name: `${name}-B`, deviceType: 'workstation' });
  const otherId = other.body.device.id as string;

  const scan = await h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
  const install = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
  const iu = await h.api('POST', `/api/v1/devices/${otherId}/initial-update`, {});
  const otherScan = await h.api('POST', `/api/v1/devices/${otherId}/scans`, {});
  for (const r of [scan, install, iu, otherScan]) expect(r.status).toBe(202);
  started.push(scan.body.workflowId, install.body.workflowId, iu.body.workflowId, otherScan.body.workflowId);

  // Visibility on the dev server lags a little behind a start: poll.
  const mine = [scan.body.workflowId, install.body.workflowId].sort();
  const listed = await eventually(async () => {
    const ids = await listIds(`DeviceName = "${name}"`);
    return ids.length >= mine.length ? ids : undefined;
  }, 30_000, `workflows of ${name} in visibility`);
  expect(listed).toEqual(mine);
  const theirs = await eventually(async () => {
    const ids = await listIds(`DeviceName = "${name}-B"`);
    return ids.length >= 2 ? ids : undefined;
  }, 30_000, `workflows of ${name}-B in visibility`);
  expect(theirs).toEqual([iu.body.workflowId, otherScan.body.workflowId].sort());
  // Combined with the other attributes, as an operator would filter.
  expect(await listIds(`DeviceName = "${name}" AND Operation = "install"`)).toEqual([install.body.workflowId]);
});
