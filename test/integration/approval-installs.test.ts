import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { InstallResult } from '../../workflows/install.contract';
import { maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

// Windows Server 2022 updates and what the new-policy defaults make of them.
const SECURITY = 'KB5034439'; // Security Updates → Approved
const CRITICAL = 'KB5033118'; // Critical Updates → Approved
const ROLLUP = 'KB890830'; // Update Rollups (MSRT) → Pending Approval
const SSU = 'KB5031988'; // Updates → Pending Approval
const MISSING = [SECURITY, CRITICAL, ROLLUP, SSU];

let h: Harness;
let fleet: SimulatedFleet;
const ids = { client: '', site1: '', site2: '', d1: '', d2: '' };
const devices: Record<string, SimulatedWindowsDevice> = {};

/**
 * One client with two sites, one server on each, under one approval policy that holds only this
 * client (policies are global: a test never puts every device of the run into its policy).
 */
beforeAll(async () => {
  h = await startHarness();
  const suffix = randomUUID().slice(0, 8);
  ids.client = (await h.api('POST', '/api/v1/clients', { name: `Policy Co ${suffix}` })).body.id;
  ids.site1 = (await h.api('POST', `/api/v1/clients/${ids.client}/sites`, { name: 'Site One' })).body.id;
  ids.site2 = (await h.api('POST', `/api/v1/clients/${ids.client}/sites`, { name: 'Site Two' })).body.id;
  const members = [];
  for (const [key, site, name] of [['d1', ids.site1, 'POL-SRV-1'], ['d2', ids.site2, 'POL-SRV-2']] as const) {
    const created = await h.api('POST', '/api/v1/devices', { siteId: site, name, deviceType: 'server' });
    ids[key] = created.body.device.id;
    devices[key] = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)),
      missingKbs: MISSING, rebootDurationMs: 1000,
    });
    members.push({ device: devices[key], enrollmentToken: created.body.enrollmentToken });
  }
  fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: members, pollWaitSeconds: 2 });
  await fleet.ready;
  const policy = await h.api('POST', '/api/v1/policies', { name: `D - Production - Server ${suffix}` });
  expect(policy.status).toBe(201);
  expect((await h.api('POST', `/api/v1/policies/${policy.body.id}/members`, { scopeType: 'client', scopeId: ids.client })).status).toBeLessThan(300);
  const scans = await h.api('POST', '/api/v1/scans', { scopeType: 'client', scopeId: ids.client });
  // The scope scan starts the device scans; once it is done, every one of them exists.
  await h.client.workflow.getHandle(scans.body.workflowId).result();
  for (const s of scans.body.scans) await h.client.workflow.getHandle(s.workflowId).result();
});

afterAll(async () => {
  await fleet?.stop();
  await h.stop();
});

async function install(deviceId: string, body: Record<string, unknown> = {}): Promise<{ workflowId: string; result: InstallResult }> {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, body);
  expect(r.status).toBe(202);
  return { workflowId: r.body.workflowId, result: (await h.client.workflow.getHandle(r.body.workflowId).result()) as InstallResult };
}

const kbsOf = (patches: { kb: string }[]) => patches.map((p) => p.kb).sort();

test('an install installs what the policy approves and reports the rest with the reason', async () => {
  const { workflowId, result } = await install(ids.d1);
  expect(kbsOf(result.patches)).toEqual([CRITICAL, SECURITY].sort());
  expect(kbsOf(result.refused!)).toEqual([ROLLUP, SSU].sort());
  for (const r of result.refused!) {
    expect(r.decision).toBe('pending_approval');
    expect(r.reason).toMatch(/Pending Approval by policy 'D - Production - Server/);
  }
  expect(devices.d1.isInstalled(ROLLUP)).toBe(false);
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-policy-selection');
});

test("approving a patch at a site makes the next install on that site's devices install it, and no other device's", async () => {
  const set = await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'site', scopeId: ids.site1, kbs: [ROLLUP], action: 'approve' });
  expect(set.status).toBeLessThan(300);

  const one = await install(ids.d1);
  expect(kbsOf(one.result.patches)).toEqual([ROLLUP]);
  expect(devices.d1.isInstalled(ROLLUP)).toBe(true);

  const two = await install(ids.d2);
  expect(kbsOf(two.result.patches)).toEqual([CRITICAL, SECURITY].sort());
  expect(two.result.refused!.find((r) => r.kb === ROLLUP)?.reason).toMatch(/Pending Approval/);
  expect(devices.d2.isInstalled(ROLLUP)).toBe(false);

  const view = await h.api('GET', `/api/v1/devices/${ids.d1}/approvals`);
  expect(view.status).toBe(200);
  const rollup = (view.body.patches as any[]).find((p) => p.kb === ROLLUP);
  expect(rollup.reason).toMatch(/site 'Site One'/);
});

const statusOn = async (deviceId: string, kb: string) =>
  ((await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[]).find((p) => p.kb === kb)?.status;

test('an Ignore shows in the device\'s statuses at once, survives a rescan, and clearing it makes the patch Missing again', async () => {
  const set = await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'site', scopeId: ids.site2, kbs: [ROLLUP], action: 'ignore' });
  expect(set.status).toBe(200);
  expect(set.body.statuses).toEqual({ ignored: 1, restored: 0 });
  expect(await statusOn(ids.d2, ROLLUP)).toBe('ignored');
  expect(await statusOn(ids.d1, ROLLUP)).not.toBe('ignored'); // the other site's device
  const listed = await h.api('GET', `/api/v1/devices/${ids.d2}/patches?status=ignored`);
  expect((listed.body.patches as any[]).map((p) => p.kb)).toEqual([ROLLUP]);

  // As if the patch were first reported now: the next scan is processed in full and finds it Ignored from the start.
  await h.db.query('DELETE FROM device_patches WHERE device_id = $1 AND update_id = (SELECT update_id FROM patches WHERE kb = $2)', [ids.d2, ROLLUP]);
  await h.db.query('UPDATE device_scans SET digest = $2 WHERE device_id = $1', [ids.d2, 'forget']);
  const rescan = await h.api('POST', `/api/v1/devices/${ids.d2}/scans`, {});
  await h.client.workflow.getHandle(rescan.body.workflowId).result();
  expect(await statusOn(ids.d2, ROLLUP)).toBe('ignored');

  const cleared = await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'site', scopeId: ids.site2, kbs: [ROLLUP], action: 'inherit' });
  expect(cleared.body.statuses).toEqual({ ignored: 0, restored: 1 });
  expect(await statusOn(ids.d2, ROLLUP)).toBe('missing');
});

test('an explicit install overrides Pending Approval but never an Ignore: refused up front, naming the Ignore and its scope', async () => {
  await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'device', scopeId: ids.d2, kbs: [SSU], action: 'ignore' });
  const before = Number((await h.db.query('SELECT count(*) FROM device_operations WHERE device_id = $1', [ids.d2])).rows[0].count);
  const refused = await h.api('POST', `/api/v1/devices/${ids.d2}/installs`, { kbs: [SSU] });
  expect(refused.status).toBe(409);
  expect(refused.body.error).toMatch(new RegExp(`${SSU}: Ignored on device POL-SRV-2.*clear it`));
  expect(Number((await h.db.query('SELECT count(*) FROM device_operations WHERE device_id = $1', [ids.d2])).rows[0].count)).toBe(before);
  expect(devices.d2.executionCount(SSU)).toBe(0);
  expect(await statusOn(ids.d2, SSU)).toBe('ignored');

  const explicit = await install(ids.d2, { kbs: [ROLLUP] });
  expect(kbsOf(explicit.result.patches)).toEqual([ROLLUP]);
  expect(devices.d2.isInstalled(ROLLUP)).toBe(true);
});

test('Uninstall removes an installed, uninstallable patch; the post-scan finds it Missing again', async () => {
  expect(devices.d1.isInstalled(SECURITY)).toBe(true);
  const set = await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'device', scopeId: ids.d1, kbs: [SECURITY], action: 'uninstall' });
  expect(set.status).toBeLessThan(300);

  const { workflowId, result } = await install(ids.d1);
  expect(result.removals).toEqual([expect.objectContaining({ kb: SECURITY, status: 'missing' })]);
  expect(devices.d1.isInstalled(SECURITY)).toBe(false);
  expect(devices.d1.uninstallCount(SECURITY)).toBe(1);
  const patches = (await h.api('GET', `/api/v1/devices/${ids.d1}/patches`)).body.patches as any[];
  expect(patches.find((p) => p.kb === SECURITY).status).toBe('missing');
  await maybeRecordHistory(h.client, workflowId, 'deviceInstallWorkflow-uninstall');

  // A servicing stack update cannot be uninstalled: the API refuses the action, naming the KB.
  const refused = await h.api('PUT', '/api/v1/patch-actions', { scopeType: 'device', scopeId: ids.d1, kbs: [SSU], action: 'uninstall' });
  expect(refused.status).toBe(422);
  expect(refused.body.error).toContain(SSU);
});
