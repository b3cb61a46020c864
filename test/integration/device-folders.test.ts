import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { createRolloutActivities } from '../../activities/rollout-activities';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { DEFAULT_INSTALL_FOLDER, DEFAULT_WORKING_FOLDER } from '../../domain/folders';
import { INSTALL_WORKFLOW_TYPE, installWorkflowId, type DeviceInstallInput } from '../../workflows/install.contract';
import { FAST_TIMING, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

const count = async (sql: string, params: unknown[] = []) => Number((await h.db.query(sql, params)).rows[0].count);
const writes = async () => ({
  devices: await count('SELECT count(*) FROM devices'),
  audit: await count('SELECT count(*) FROM audit_log'),
});

/** Every bypass issue 9 lists, as the field it was tried on, with the rule that refuses it. */
const BYPASSES: [field: 'workingFolder' | 'installFolder', folder: string, rule: string][] = [
  ['workingFolder', 'C:\\ProgramData\\..\\Windows\\System32', 'parent-segment'],
  ['workingFolder', 'C:\\Users\\Public\\..\\..', 'parent-segment'],
  ['workingFolder', 'C:\\PROGRA~1', 'short-name'],
  ['installFolder', 'C:\\Windows.\\System32', 'protected'],
  ['installFolder', 'C:\\Windows \\System32', 'protected'],
  ['installFolder', 'C:\\Windows\\System32\\config', 'protected'],
  ['installFolder', 'C:\\Windows\\System32::$INDEX_ALLOCATION', 'stream'],
  ['workingFolder', `C:\\${'A'.repeat(1_000_000)}`, 'too-long'],
];

describe('POST /api/v1/devices refuses every folder bypass with a 400 naming the rule, writing nothing', () => {
  let siteId: string;
  beforeAll(async () => { ({ siteId } = await h.createDevice()); });

  test.each(BYPASSES.map(([field, folder, rule]) => [field, rule, folder]))('%s breaking %s', async (field, rule, folder) => {
    const before = await writes();
    const r = await h.api('POST', '/api/v1/devices', { siteId, name: 'SRV-BYPASS', deviceType: 'server', [field]: folder });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(new RegExp(`^body\\.${field}: .*\\(rule: ${rule}\\)$`));
    // The answer never echoes a huge input back.
    expect(r.body.error.length).toBeLessThan(400);
    expect(await writes()).toEqual(before);
  });

  test('a folder is stored in its canonical spelling, and the defaults apply', async () => {
    const r = await h.api('POST', '/api/v1/devices', { siteId, name: 'SRV-CANON', deviceType: 'server', workingFolder: 'd:/kworking//patchflow/./' });
    expect(r.status).toBe(201);
    expect(r.body.device).toMatchObject({ workingFolder: 'D:\\kworking\\patchflow', installFolder: DEFAULT_INSTALL_FOLDER });
  });

  test('a Linux device gets the POSIX rules and defaults', async () => {
    const r = await h.api('POST', '/api/v1/devices', { siteId, name: 'LNX-01', deviceType: 'server', os: 'ubuntu-22.04' });
    expect(r.status).toBe(201);
    expect(r.body.device).toMatchObject({ workingFolder: '/var/lib/patchflow/working', installFolder: '/var/lib/patchflow/install' });
    const before = await writes();
    const bad = await h.api('POST', '/api/v1/devices', { siteId, name: 'LNX-02', deviceType: 'server', os: 'debian 12', installFolder: '/usr/lib' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^body\.installFolder: install folder "\/usr\/lib" is a system folder \(\/usr\) or inside it; .*\(rule: protected\)$/);
    const windowsPath = await h.api('POST', '/api/v1/devices', { siteId, name: 'LNX-02', deviceType: 'server', os: 'debian 12', workingFolder: DEFAULT_WORKING_FOLDER });
    expect(windowsPath.status).toBe(400);
    expect(windowsPath.body.error).toMatch(/\(rule: not-absolute\)$/);
    expect(await writes()).toEqual(before);
  });
});

describe('PATCH /api/v1/devices/:id changes folders under the same rules, audited', () => {
  test('each bypass is a 400 naming the rule, and the device is unchanged', async () => {
    const { deviceId } = await h.createDevice();
    const before = await writes();
    for (const [field, folder, rule] of BYPASSES) {
      const r = await h.api('PATCH', `/api/v1/devices/${deviceId}`, { [field]: folder });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatch(new RegExp(`^body\\.${field}: .*\\(rule: ${rule}\\)$`));
    }
    expect(await writes()).toEqual(before);
    const device = await h.api('GET', `/api/v1/devices/${deviceId}`);
    expect(device.body).toMatchObject({ workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER });
  });

  test('a good change is stored canonical and audited with before and after', async () => {
    const { deviceId } = await h.createDevice();
    const r = await h.api('PATCH', `/api/v1/devices/${deviceId}`, { installFolder: 'C:/Windows/Patchflow.' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: deviceId, workingFolder: DEFAULT_WORKING_FOLDER, installFolder: 'C:\\Windows\\Patchflow' });
    const audit = await h.api('GET', `/api/v1/audit?deviceId=${deviceId}`);
    expect(audit.body.entries[0]).toMatchObject({
      action: 'device.folders_changed',
      actor: expect.any(String),
      details: {
        before: { workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER },
        after: { workingFolder: DEFAULT_WORKING_FOLDER, installFolder: 'C:\\Windows\\Patchflow' },
      },
    });
  });

  test('an empty body, an unknown field, a malformed id and an unknown id', async () => {
    const { deviceId } = await h.createDevice();
    const empty = await h.api('PATCH', `/api/v1/devices/${deviceId}`, {});
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatch(/give workingFolder, installFolder or both/);
    const unknown = await h.api('PATCH', `/api/v1/devices/${deviceId}`, { name: 'X' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toMatch(/^body/);
    const malformed = await h.api('PATCH', '/api/v1/devices/not-a-uuid', { workingFolder: 'C:\\Patchflow' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/params\.deviceId/);
    const missing = await h.api('PATCH', '/api/v1/devices/00000000-0000-4000-8000-000000000000', { workingFolder: 'C:\\Patchflow' });
    expect(missing.status).toBe(404);
  });
});

describe('a bad stored folder never reaches a workflow', () => {
  test('install and Initial Update answer 422 naming the field and rule; no claim, no workflow, no command', async () => {
    const { deviceId } = await h.createDevice();
    // A row written before these rules existed (or edited by hand): the services check again.
    await h.db.query(`UPDATE devices SET install_folder = $2 WHERE id = $1::uuid`, [deviceId, 'C:\\Windows\\System32\\config']);
    const install = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
    expect(install.status).toBe(422);
    expect(install.body).toMatchObject({ type: 'UnsafeFolder' });
    expect(install.body.error).toMatch(/installFolder: install folder "C:\\Windows\\System32\\config" is an OS folder \(Windows\\system32\) or inside it.*\(rule: protected\)/);
    const iu = await h.api('POST', `/api/v1/devices/${deviceId}/initial-update`, {});
    expect(iu.status).toBe(422);
    expect(iu.body.error).toMatch(/\(rule: protected\)/);
    expect(await count('SELECT count(*) FROM device_operations WHERE device_id = $1::uuid', [deviceId])).toBe(0);
    expect(await count('SELECT count(*) FROM agent_commands WHERE device_id = $1::uuid', [deviceId])).toBe(0);
    const workflows: string[] = [];
    for await (const w of h.client.workflow.list({ query: `DeviceId = "${deviceId}"` })) workflows.push(w.workflowId);
    expect(workflows).toEqual([]);
  });
});

test('a rollout leaves out a device whose stored folder breaks a rule, and canonicalises the others', async () => {
  const { siteId, deviceId: good } = await h.createDevice();
  const bad = await h.api('POST', '/api/v1/devices', { siteId, name: 'SRV-BAD-ROW', deviceType: 'server' });
  await h.db.query(`UPDATE devices SET credential_hash = 'x' WHERE site_id = $1::uuid`, [siteId]);
  await h.db.query(`UPDATE devices SET working_folder = 'C:\\PROGRA~1' WHERE id = $1::uuid`, [bad.body.device.id]);
  await h.db.query(`UPDATE devices SET working_folder = 'c:/ProgramData/Patchflow/Working/' WHERE id = $1::uuid`, [good]);
  const activities = createRolloutActivities({ db: h.db, log: pino({ level: 'silent' }) });
  const devices = await activities.resolveRolloutDevices({ scopeType: 'site', scopeId: siteId });
  expect(devices).toEqual([expect.objectContaining({ deviceId: good, workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER })]);
});

describe('the agent refuses a bad folder even when the server sends one', () => {
  test('download and cleanup are refused as UnsafeFolder, nothing in System32 is touched, and the install says why', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice('SRV-SENT-BAD');
    const device = new SimulatedWindowsDevice({
      id: 'srv-sent-bad', name: 'SRV-SENT-BAD', os: 'server2022', seed: 7, missingKbs: ['KB5034439'],
      sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'sent-bad-')),
    });
    const victim = device.sandbox.localFile('C:\\Windows\\System32\\config', 'SYSTEM');
    fs.mkdirSync(path.dirname(victim), { recursive: true });
    fs.writeFileSync(victim, 'registry hive');
    const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
    h.fleets.push(fleet);
    await fleet.ready;

    // Past the API and the services, as a compromised or outdated server would: the workflow itself
    // carries the bypasses from issue 9, so every command the device receives names them.
    const workflowId = installWorkflowId(deviceId, 'sent-bad');
    const input: DeviceInstallInput = {
      deviceId, deviceName: 'SRV-SENT-BAD', clientId: 'c', clientName: 'Acme', siteId: 's', siteName: 'HQ', rebootAllowed: true,
      workingFolder: 'C:\\ProgramData\\..\\Windows\\System32', installFolder: 'C:\\Windows\\System32\\config',
      requestedBy: 'test', timing: FAST_TIMING,
    };
    const handle = await h.client.workflow.start(INSTALL_WORKFLOW_TYPE, { workflowId, taskQueue: h.taskQueue, args: [input] });
    await handle.result().catch(() => undefined);

    const { rows } = await h.db.query(`SELECT type, status, error FROM agent_commands WHERE workflow_id = $1 ORDER BY created_at`, [workflowId]);
    const refused = rows.filter((r) => r.status === 'failed');
    expect(refused.map((r) => r.type)).toEqual(expect.arrayContaining(['download', 'cleanup']));
    for (const r of refused) {
      expect(r.error).toMatchObject({ code: 'UnsafeFolder', retryable: false });
      expect(r.error.message).toMatch(/^refused by the device: working folder "C:\\ProgramData\\..\\Windows\\System32" contains "..".*\(rule: parent-segment\)$/);
    }
    expect(rows.some((r) => r.type === 'execute' || r.type === 'execute_patches' || r.type === 'copy')).toBe(false);
    expect(fs.readFileSync(victim, 'utf8')).toBe('registry hive');
    // The operator reads why: the patch's error, and the install's own failure (its cleanup was refused).
    const patch = await h.db.query(`SELECT dp.status, dp.last_error FROM device_patches dp JOIN patches p USING (update_id) WHERE dp.device_id = $1::uuid AND p.kb = 'KB5034439'`, [deviceId]);
    expect(patch.rows[0].status).toBe('failed');
    expect(patch.rows[0].last_error).toMatch(/^download refused: refused by the device: working folder .*\(rule: parent-segment\)$/);
    const view = await h.api('GET', `/api/v1/devices/${deviceId}/installs/sent-bad`);
    expect(view.body).toMatchObject({ status: 'FAILED' });
    expect(view.body.failure).toMatch(/^refused by the device: working folder .*\(rule: parent-segment\)$/);
  });
});
