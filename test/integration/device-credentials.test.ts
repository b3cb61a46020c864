import { eventually, startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

const UNKNOWN = '00000000-0000-4000-8000-000000000000';

async function agent(method: string, path: string, credential: string | undefined, body?: unknown) {
  const res = await fetch(`${h.server.url}${path}`, {
    method,
    headers: {
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      'x-patchflow-boot-id': 'boot-1',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const enroll = (enrollmentToken: string, hostname = 'x') => agent('POST', '/agent/v1/enroll', undefined, { enrollmentToken, hostname, bootId: 'boot-1' });
const poll = (credential: string) => agent('GET', '/agent/v1/commands?wait=0', credential);

async function enrolledDevice(name?: string) {
  const d = await h.createDevice(name);
  const r = await enroll(d.enrollmentToken);
  expect(r.status).toBe(201);
  return { ...d, credential: r.body.credential as string };
}

async function auditActions(deviceId: string): Promise<string[]> {
  const r = await h.api('GET', `/api/v1/audit?deviceId=${deviceId}`);
  return (r.body.entries as { action: string }[]).map((e) => e.action);
}

/** 400 for a malformed id and 404 for an unknown one, on each new route. */
test.each([
  ['POST', 'credential/revoke'],
  ['POST', 'enrollment-token'],
  ['DELETE', ''],
])('%s /api/v1/devices/:id/%s: 400 for a malformed id, 404 for an unknown one', async (method, tail) => {
  const malformed = await h.api(method, `/api/v1/devices/not-a-uuid${tail ? `/${tail}` : ''}`);
  expect(malformed.status).toBe(400);
  expect(malformed.body.error).toMatch(/params\.deviceId: must be a UUID/);
  const unknown = await h.api(method, `/api/v1/devices/${UNKNOWN}${tail ? `/${tail}` : ''}`);
  expect(unknown.status).toBe(404);
  expect(unknown.body.error).toBe(`device ${UNKNOWN} not found`);
});

describe('POST /api/v1/devices/:id/credential/revoke', () => {
  test('the credential stops working at once, and the revocation is audited', async () => {
    const { deviceId, credential } = await enrolledDevice();
    expect((await poll(credential)).status).toBe(200);
    const r = await h.api('POST', `/api/v1/devices/${deviceId}/credential/revoke`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ revoked: true });
    expect(await poll(credential)).toMatchObject({ status: 401, body: { error: 'device credential is not valid' } });
    expect((await h.api('GET', `/api/v1/devices/${deviceId}`)).body.enrolled).toBe(false);
    expect(await auditActions(deviceId)).toContain('device.credential_revoked');
    // Revoking again is harmless and says nothing was revoked.
    expect((await h.api('POST', `/api/v1/devices/${deviceId}/credential/revoke`)).body).toEqual({ revoked: false });
  });
});

describe('POST /api/v1/devices/:id/enrollment-token', () => {
  test('a new one-time token: the current credential and any earlier unused token stop working', async () => {
    const { deviceId, credential, enrollmentToken: first } = await enrolledDevice();
    const second = await h.api('POST', `/api/v1/devices/${deviceId}/enrollment-token`);
    expect(second.status).toBe(201);
    expect(second.body).toEqual({ enrollmentToken: expect.stringMatching(/^[A-Za-z0-9_-]{40,}$/) });
    expect((await poll(credential)).status).toBe(401);
    const third = await h.api('POST', `/api/v1/devices/${deviceId}/enrollment-token`);
    expect(third.status).toBe(201);
    // Only the hash is stored.
    const stored = await h.db.query('SELECT enrollment_token_hash FROM devices WHERE id = $1::uuid', [deviceId]);
    expect(stored.rows[0].enrollment_token_hash).not.toContain(third.body.enrollmentToken);
    expect((await enroll(first)).status).toBe(401);
    expect((await enroll(second.body.enrollmentToken)).status).toBe(401);
    const ok = await enroll(third.body.enrollmentToken);
    expect(ok.status).toBe(201);
    expect(ok.body.deviceId).toBe(deviceId);
    expect((await poll(ok.body.credential)).status).toBe(200);
    expect((await enroll(third.body.enrollmentToken)).status).toBe(401);
    expect((await auditActions(deviceId)).filter((a) => a === 'device.enrollment_token_issued')).toHaveLength(2);
  });
});

describe('enrollment is one transaction', () => {
  test('when the audit insert fails, the token is not spent and works afterwards', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice();
    // A test-only trigger that refuses this device's enrollment audit row (other test files share the database).
    await h.db.query(`
      CREATE OR REPLACE FUNCTION test_refuse_enrollment_audit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit insert refused (test)'; END $$`);
    await h.db.query(`
      CREATE TRIGGER test_refuse_enrollment_audit_${deviceId.replace(/-/g, '')} BEFORE INSERT ON audit_log FOR EACH ROW
      WHEN (NEW.action = 'device.enrolled' AND NEW.device_id = '${deviceId}'::uuid) EXECUTE FUNCTION test_refuse_enrollment_audit()`);
    try {
      const failed = await enroll(enrollmentToken);
      expect(failed.status).toBe(500);
      const row = await h.db.query('SELECT enrollment_token_hash, credential_hash, enrolled_at FROM devices WHERE id = $1::uuid', [deviceId]);
      expect(row.rows[0]).toMatchObject({ enrollment_token_hash: expect.any(String), credential_hash: null, enrolled_at: null });
    } finally {
      await h.db.query(`DROP TRIGGER test_refuse_enrollment_audit_${deviceId.replace(/-/g, '')} ON audit_log`);
    }
    const retried = await enroll(enrollmentToken);
    expect(retried.status).toBe(201);
    expect(retried.body.deviceId).toBe(deviceId);
    expect(await auditActions(deviceId)).toContain('device.enrolled');
  });

  test('a hostname with a NUL byte is a 400 and leaves the token usable', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice();
    const bad = await enroll(enrollmentToken, 'host\u0000name');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/body\.hostname: must not contain NUL or other control characters/);
    const ok = await enroll(enrollmentToken);
    expect(ok.status).toBe(201);
    expect(ok.body.deviceId).toBe(deviceId);
  });
});

describe('DELETE /api/v1/devices/:id retires the device', () => {
  test('an idle device: credential gone, history kept, nothing starts on it, its name can be reused', async () => {
    const { deviceId, credential, siteId } = await enrolledDevice('SRV-RETIRE');
    const r = await h.api('DELETE', `/api/v1/devices/${deviceId}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ device: { id: deviceId, enrolled: false, retiredAt: expect.any(String) }, withdrawnCommands: 0, cancelledWorkflowId: null });
    expect((await poll(credential)).status).toBe(401);
    expect((await h.api('GET', `/api/v1/devices/${deviceId}`)).body.retiredAt).toBe(r.body.device.retiredAt);
    expect(await auditActions(deviceId)).toEqual(expect.arrayContaining(['device.retired', 'device.enrolled', 'device.created']));
    const again = await h.api('DELETE', `/api/v1/devices/${deviceId}`);
    expect(again.status).toBe(409);
    for (const path of ['installs', 'initial-update', 'scans', 'enrollment-token', 'credential/revoke']) {
      const refused = await h.api('POST', `/api/v1/devices/${deviceId}/${path}`, {});
      expect([path, refused.status]).toEqual([path, 409]);
      expect(refused.body.error).toMatch(/retired/);
    }
    const reused = await h.api('POST', '/api/v1/devices', { siteId, name: 'SRV-RETIRE', deviceType: 'server' });
    expect(reused.status).toBe(201);
    expect(reused.body.device.id).not.toBe(deviceId);
  });

  test('a running install: 409 naming it; with ?force=true its commands are withdrawn and it ends instead of hanging', async () => {
    // Enrolled, but no agent runs: the install's pre-scan waits for the device.
    const { deviceId } = await enrolledDevice();
    const started = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
    expect(started.status).toBe(202);
    const { workflowId } = started.body;
    await eventually(async () => {
      const { rows } = await h.db.query(`SELECT 1 FROM agent_commands WHERE device_id = $1::uuid AND status = 'pending'`, [deviceId]);
      return rows.length > 0 ? true : undefined;
    }, 20_000, 'the pre-scan command');

    const refused = await h.api('DELETE', `/api/v1/devices/${deviceId}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toBe(`device ${deviceId} is running install ${workflowId}; cancel it first, or retire with ?force=true`);
    expect((await h.api('GET', `/api/v1/devices/${deviceId}`)).body.retiredAt).toBeNull();
    const badQuery = await h.api('DELETE', `/api/v1/devices/${deviceId}?force=yes`);
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.error).toMatch(/query\.force/);

    const forced = await h.api('DELETE', `/api/v1/devices/${deviceId}?force=true`);
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ withdrawnCommands: 1, cancelledWorkflowId: workflowId });
    const { rows } = await h.db.query(`SELECT type, status FROM agent_commands WHERE device_id = $1::uuid ORDER BY created_at`, [deviceId]);
    expect(rows[0]).toEqual({ type: 'scan', status: 'cancelled' });
    expect(rows.filter((r) => ['pending', 'claimed', 'acknowledged'].includes(r.status))).toEqual([]);
    // The install ends within seconds, its step failed as withdrawn (not waiting for the command timeouts).
    const ended = await Promise.race([
      h.client.workflow.getHandle(workflowId).result().then(() => 'completed', (err: Error) => `failed: ${err.message}`),
      new Promise((resolve) => setTimeout(() => resolve('still running'), 20_000)),
    ]);
    expect(ended).toMatch(/^failed: /);
    const view = await h.api('GET', `/api/v1/devices/${deviceId}/installs/${started.body.key}`);
    // The cleanup that follows is not sent to a retired device; that is the install's last word.
    expect(view.body.failure).toBe(`device ${deviceId} is retired; cleanup not sent`);
    // The waiting pre-scan failed as withdrawn, at once.
    const history = await h.client.workflow.getHandle(workflowId).fetchHistory();
    const failures = (history.events ?? []).flatMap((e) => {
      const f = e.activityTaskFailedEventAttributes?.failure;
      return f ? [`${f.applicationFailureInfo?.type}: ${f.message}`] : [];
    });
    expect(failures[0]).toMatch(/^CommandWithdrawn: command .* was withdrawn: device .* was retired$/);
    const audit = await h.api('GET', `/api/v1/audit?deviceId=${deviceId}`);
    expect(audit.body.entries.find((e: { action: string }) => e.action === 'device.retired')).toMatchObject({
      details: { force: true, runningWorkflowId: workflowId, withdrawnCommands: [expect.stringContaining(workflowId)] },
    });
  });
});

describe('a check-in is written only for a request the gateway accepts', () => {
  const lastSeen = async (deviceId: string) => (await h.db.query(
    'SELECT last_check_in_at, boot_id FROM devices WHERE id = $1::uuid', [deviceId])).rows[0] as { last_check_in_at: Date | null; boot_id: string | null };

  test('a right credential records it; a wrong secret or a malformed boot id header writes nothing', async () => {
    const { deviceId, credential } = await enrolledDevice();
    const enrolled = await lastSeen(deviceId);
    expect((await poll(credential)).status).toBe(200);
    const seen = await lastSeen(deviceId);
    expect(seen.boot_id).toBe('boot-1');
    expect(seen.last_check_in_at!.getTime()).toBeGreaterThanOrEqual(enrolled.last_check_in_at?.getTime() ?? 0);

    const wrong = `${deviceId}.${'A'.repeat(43)}`;
    expect((await poll(wrong)).status).toBe(401);
    expect(await lastSeen(deviceId)).toEqual(seen);

    const res = await fetch(`${h.server.url}/agent/v1/commands?wait=0`, {
      headers: { authorization: `Bearer ${credential}`, 'x-patchflow-boot-id': 'b'.repeat(201) },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/header x-patchflow-boot-id/);
    expect(await lastSeen(deviceId)).toEqual(seen);
  });
});
