import { defaultPayloadConverter } from '@temporalio/common';
import { API_KEY, eventually, startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function agent(method: string, path: string, credential: string | undefined, body?: unknown, bootId = 'boot-1') {
  const res = await fetch(`${h.server.url}${path}`, {
    method,
    headers: {
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      'x-patchflow-boot-id': bootId,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function enroll(token: string) {
  const r = await agent('POST', '/agent/v1/enroll', undefined, { enrollmentToken: token, hostname: 'x', bootId: 'boot-1' });
  expect(r.status).toBe(201);
  return r.body.credential as string;
}

const count = async (table: string) => Number((await h.db.query(`SELECT count(*) FROM ${table}`)).rows[0].count);

describe('operators API', () => {
  test('health is open, everything else needs the API key', async () => {
    expect((await fetch(`${h.server.url}/healthz`)).status).toBe(200);
    const noKey = await fetch(`${h.server.url}/api/v1/clients`);
    expect(noKey.status).toBe(401);
    const wrongKey = await h.api('GET', '/api/v1/clients', undefined, { authorization: 'Bearer wrong-key-wrong-key' });
    expect(wrongKey.status).toBe(401);
    expect((await fetch(`${h.server.url}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${h.server.url}/metrics`, { headers: { 'x-api-key': API_KEY } });
    expect(await metrics.text()).toContain('patchflow_http_request_duration_seconds');
  });

  test('bad input gets a 400 that names the field, and nothing is written', async () => {
    const { siteId } = await h.createDevice();
    const before = await count('devices');
    const r = await h.api('POST', '/api/v1/devices', { siteId, name: 'SRV-09', deviceType: 'server', workingFolder: 'C:\\Windows\\System32' });
    expect(r.status).toBe(400);
    expect(r.body.error).toMatch(/^body\.workingFolder: working folder "C:\\Windows\\System32" is inside the Windows folder, .*\(rule: protected\)$/);
    const r2 = await h.api('POST', '/api/v1/devices', { siteId, name: 'SRV-09', deviceType: 'laptop' });
    expect(r2.status).toBe(400);
    expect(r2.body.error).toMatch(/body\.deviceType/);
    const r3 = await h.api('POST', '/api/v1/devices', '{"siteId": ', { 'content-type': 'application/json' });
    expect(r3.status).toBe(400);
    expect(r3.body.error).toMatch(/not valid JSON/);
    const r4 = await h.api('POST', `/api/v1/devices/not-a-uuid/installs`, {});
    expect(r4.status).toBe(400);
    expect(r4.body.error).toMatch(/params\.deviceId/);
    const r5 = await h.api('POST', `/api/v1/devices/00000000-0000-4000-8000-000000000000/installs`, { kbs: ['5034441'] });
    expect(r5.status).toBe(400);
    expect(r5.body.error).toMatch(/body\.kbs\.0: must be a KB number \(KB5034441\)/);
    expect(await count('devices')).toBe(before);
  });

  test('unknown ids are 404s and duplicate names 409s', async () => {
    const r = await h.api('POST', '/api/v1/devices/00000000-0000-4000-8000-000000000000/installs', {});
    expect(r.status).toBe(404);
    const c = await h.api('POST', '/api/v1/clients', { name: 'Duplicate Co' });
    expect(c.status).toBe(201);
    const again = await h.api('POST', '/api/v1/clients', { name: 'Duplicate Co' });
    expect(again.status).toBe(409);
  });
});

describe('agent gateway', () => {
  test('an enrollment token works once and the credential is stored hashed', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice();
    const credential = await enroll(enrollmentToken);
    expect(credential.startsWith(`${deviceId}.`)).toBe(true);
    const again = await agent('POST', '/agent/v1/enroll', undefined, { enrollmentToken, bootId: 'b' });
    expect(again.status).toBe(401);
    const row = (await h.db.query('SELECT credential_hash, enrollment_token_hash FROM devices WHERE id = $1', [deviceId])).rows[0];
    expect(row.enrollment_token_hash).toBeNull();
    expect(row.credential_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row.credential_hash).not.toContain(credential.split('.')[1]);
    const bad = await agent('POST', '/agent/v1/enroll', undefined, { bootId: 'b' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/body\.enrollmentToken/);
  });

  test('a credential reaches only its own device; malformed results change nothing', async () => {
    const a = await h.createDevice('SRV-A');
    const b = await h.createDevice('SRV-B');
    const credA = await enroll(a.enrollmentToken);
    const credB = await enroll(b.enrollmentToken);
    expect((await agent('GET', '/agent/v1/commands?wait=0', undefined)).status).toBe(401);
    expect((await agent('GET', '/agent/v1/commands?wait=0', `${a.deviceId}.forged-secret-forged-secret`)).status).toBe(401);

    const started = await h.api('POST', `/api/v1/devices/${a.deviceId}/installs`, {});
    expect(started.status).toBe(202);
    const command = await eventually(async () => {
      const r = await agent('GET', '/agent/v1/commands?wait=1', credA);
      return r.body.commands[0];
    }, 20_000, 'the pre-scan command');
    expect(command.type).toBe('scan');

    // Device B cannot see or answer device A's command.
    expect((await agent('GET', '/agent/v1/commands?wait=0', credB)).body.commands).toEqual([]);
    const foreign = await agent('POST', `/agent/v1/commands/${encodeURIComponent(command.id)}/result`, credB,
      { status: 'succeeded', result: { bootId: 'x', updates: [], rebootPending: false, freeDiskBytes: 1, scannedAt: new Date().toISOString() } });
    expect(foreign.status).toBe(404);

    const malformed = await agent('POST', `/agent/v1/commands/${encodeURIComponent(command.id)}/result`, credA,
      { status: 'succeeded', result: { updates: 'none' } });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatch(/body\.result\.bootId/);
    const wrongStatus = await agent('POST', `/agent/v1/commands/${encodeURIComponent(command.id)}/result`, credA, { status: 'acknowledged' });
    expect(wrongStatus.status).toBe(400);
    const row = (await h.db.query('SELECT status, result FROM agent_commands WHERE id = $1', [command.id])).rows[0];
    expect(row).toEqual({ status: 'claimed', result: null });

    // A second install on the busy device is refused, naming the running one.
    const second = await h.api('POST', `/api/v1/devices/${a.deviceId}/installs`, {});
    expect(second.status).toBe(409);
    expect(second.body.error).toContain(started.body.workflowId);

    await h.client.workflow.getHandle(started.body.workflowId).terminate('test over');
  });

  test("a device's progress shows on its step's pending activity: the first report at once, the newest of a burst after 2 s, none after the result", async () => {
    const { deviceId, enrollmentToken } = await h.createDevice('SRV-PROGRESS');
    const cred = await enroll(enrollmentToken);
    const progressMetric = async () => {
      const text = await (await fetch(`${h.server.url}/metrics`, { headers: { 'x-api-key': API_KEY } })).text();
      const of = (outcome: string) => Number(new RegExp(`patchflow_progress_heartbeats_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
      return { sent: of('sent'), replaced: of('replaced'), superseded: of('superseded') };
    };
    const before = await progressMetric();
    const started = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
    expect(started.status).toBe(202);
    const handle = h.client.workflow.getHandle(started.body.workflowId);
    const command = await eventually(async () => (await agent('GET', '/agent/v1/commands?wait=1', cred)).body.commands[0], 20_000, 'the pre-scan command');
    const shown = async () => {
      const pending = (await handle.describe()).raw.pendingActivities ?? [];
      const payload = pending[0]?.heartbeatDetails?.payloads?.[0];
      return payload ? defaultPayloadConverter.fromPayload<{ message: string }>(payload).message : undefined;
    };
    const post = (message: string) => agent('POST', `/agent/v1/commands/${encodeURIComponent(command.id)}/progress`, cred, { message });
    for (const message of ['scan 1 of 3', 'scan 2 of 3', 'scan 3 of 3']) expect((await post(message)).status).toBe(202);
    // Every report is stored on its command at once (the keep-alive resends the newest).
    expect((await h.db.query('SELECT last_progress FROM agent_commands WHERE id = $1', [command.id])).rows[0].last_progress).toEqual({ message: 'scan 3 of 3' });
    // The first went at once, the second was replaced by the third, held to the end of the interval.
    expect(await progressMetric()).toEqual({ sent: before.sent + 1, replaced: before.replaced + 1, superseded: before.superseded });
    await eventually(async () => ((await progressMetric()).sent === before.sent + 2 ? true : undefined), 10_000, 'the held report sent');
    // (The keep-alive, every second here, heartbeats the stored newest too: never an older one.)
    expect(await shown()).toBe('scan 3 of 3');

    const asksOnScan = await agent('POST', `/agent/v1/commands/${encodeURIComponent(command.id)}/progress`, cred,
      { message: 'starting KB1', starting: { updateId: 'u-1', kb: 'KB5034439' } });
    expect(asksOnScan.status).toBe(400);
    expect(asksOnScan.body.error).toBe('body.starting: only an execute_patches command asks before a patch, not scan');
    expect((await h.db.query('SELECT last_progress FROM agent_commands WHERE id = $1', [command.id])).rows[0].last_progress).toEqual({ message: 'scan 3 of 3' });

    // Within the next interval a report is held; the result that follows makes it moot.
    expect((await post('scan done')).status).toBe(202);
    const result = await agent('POST', `/agent/v1/commands/${encodeURIComponent(command.id)}/result`, cred,
      { status: 'succeeded', result: { bootId: 'boot-1', updates: [], rebootPending: false, freeDiskBytes: 10 ** 10, scannedAt: new Date().toISOString() } });
    expect(result.status).toBe(200);
    expect(await progressMetric()).toEqual({ sent: before.sent + 2, replaced: before.replaced + 1, superseded: before.superseded + 1 });

    // Reports that do not fit are refused, naming why, and change nothing.
    const stored = async () => (await h.db.query('SELECT last_progress FROM agent_commands WHERE id = $1', [command.id])).rows[0].last_progress;
    const late = await post('scan still running?');
    expect(late).toEqual({ status: 409, body: { error: `command ${command.id} is already finished (succeeded)` } });
    const unknown = await agent('POST', `/agent/v1/commands/${encodeURIComponent(`${command.id}x`)}/progress`, cred, { message: 'x' });
    expect(unknown).toEqual({ status: 404, body: { error: `command ${command.id}x not found for this device` } });
    expect(await stored()).toEqual({ message: 'scan done' });
    await handle.terminate('test over');
  });
});
