/**
 * Group commit of the gateway's check-ins (db/check-in-writer.ts) against real PostgreSQL: the
 * check-ins of one event-loop turn are one statement, each request gets its own device's answer, a
 * wrong secret among right ones writes nothing and fails only itself, a boot id change still counts,
 * and a statement that fails is retried one request at a time so its neighbours are answered.
 */
import { randomUUID } from 'node:crypto';
import { hashSecret, parseCredential } from '../../api/credentials';
import { CheckInWriter, takeCheckIns } from '../../db/check-in-writer';
import type { CheckInRequest } from '../../db/fleet-repository';
import { startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function enrolled(name = `CIW-${randomUUID().slice(0, 6)}`) {
  const d = await h.createDevice(name);
  const res = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken: d.enrollmentToken, hostname: name, bootId: 'boot-1' }),
  });
  expect(res.status).toBe(201);
  const credential = ((await res.json()) as { credential: string }).credential;
  return { deviceId: d.deviceId, credential, secretHash: hashSecret(parseCredential(credential)!.secret) };
}

const rowOf = async (deviceId: string) => (await h.db.query(
  'SELECT last_check_in_at, boot_id, credential_hash FROM devices WHERE id = $1::uuid', [deviceId])).rows[0] as { last_check_in_at: Date; boot_id: string; credential_hash: string };

/** Makes the device's last seen an hour old, so the next same-boot check-in rewrites it. */
const ageLastSeen = (deviceIds: string[]) => h.db.query(
  `UPDATE devices SET last_check_in_at = now() - interval '1 hour' WHERE id = ANY($1::uuid[])`, [deviceIds]);

const poll = { claimLeaseSeconds: 60, restarted: false };

test('one turn\'s check-ins are one statement; a wrong secret among right ones writes nothing and only it fails', async () => {
  const devices = await Promise.all(Array.from({ length: 12 }, () => enrolled()));
  await ageLastSeen(devices.map((d) => d.deviceId));
  const before = await Promise.all(devices.map((d) => rowOf(d.deviceId)));
  const writer = new CheckInWriter(h.db);
  const wrong = 5;
  const requests: CheckInRequest[] = devices.map((d, i) => ({
    deviceId: d.deviceId, secretHash: i === wrong ? hashSecret('A'.repeat(43)) : d.secretHash, bootId: `boot-${i}`, poll,
  }));
  const seen = await Promise.all(requests.map((r) => writer.checkIn(r)));

  expect(writer.stats).toMatchObject({ batches: 1, checkIns: 12, largestBatch: 12, fallbacks: 0 });
  for (const [i, d] of devices.entries()) {
    const row = await rowOf(d.deviceId);
    // Each answer is its own device's: the stored hash the gateway compares in constant time.
    expect(seen[i]!.credentialHash).toBe(row.credential_hash);
    if (i === wrong) {
      expect(seen[i]!.recorded).toBe(false);
      expect(seen[i]!.credentialHash).not.toBe(requests[i]!.secretHash);
      expect(row).toEqual(before[i]);
    } else {
      expect(seen[i]).toEqual({ credentialHash: d.secretHash, recorded: true, hasMissedRuns: false, hasAcknowledgedReboot: false, hasClaimable: false });
      expect(row.boot_id).toBe(`boot-${i}`);
      expect(row.last_check_in_at.getTime()).toBeGreaterThan(before[i]!.last_check_in_at.getTime());
    }
  }
});

test('the flags and the claimable answer are per device within one statement', async () => {
  const [plain, missed, rebooting, claimable, unknown] = await Promise.all([enrolled(), enrolled(), enrolled(), enrolled(), enrolled()]);
  const scheduleId = randomUUID();
  await h.db.query(
    `INSERT INTO update_schedules (id, name, kind, scope_type, timing, reboot_action, paused)
     VALUES ($1::uuid, $2::text, 'scan', 'all', '{}'::jsonb, '{}'::jsonb, true)`, [scheduleId, `writer-${scheduleId}`]);
  await h.db.query('INSERT INTO missed_runs (device_id, schedule_id) VALUES ($1::uuid, $2::uuid)', [missed!.deviceId, scheduleId]);
  const command = (deviceId: string, type: string, status: string) => h.db.query(
    `INSERT INTO agent_commands (id, device_id, workflow_id, type, payload, task_token, attempt, status)
     VALUES ($1, $2, 'wf-check-in-writer', $3, '{}'::jsonb, '\\x00'::bytea, 1, $4)`, [`${deviceId}/${type}`, deviceId, type, status]);
  await command(rebooting!.deviceId, 'reboot', 'acknowledged');
  await command(claimable!.deviceId, 'scan', 'pending');
  // Revoked: no credential, so no answer (and the gateway refuses it).
  await h.db.query('UPDATE devices SET credential_hash = NULL WHERE id = $1::uuid', [unknown!.deviceId]);
  try {
    const writer = new CheckInWriter(h.db);
    const asked = [plain!, missed!, rebooting!, claimable!, unknown!];
    const seen = await Promise.all(asked.map((d, i) => writer.checkIn({ deviceId: d.deviceId, secretHash: d.secretHash, bootId: 'boot-1', ...(i === 0 ? {} : { poll }) })));
    expect(writer.stats.batches).toBe(1);
    expect(seen.map((s) => [s.hasMissedRuns, s.hasAcknowledgedReboot, s.hasClaimable, s.recorded])).toEqual([
      [false, false, undefined, true], // not a poll: the claim is not read
      [true, false, false, true],
      [false, true, false, true],
      [false, false, true, true],
      [false, false, undefined, false],
    ]);
    expect(seen[4]!.credentialHash).toBeUndefined();
  } finally {
    await h.db.query('DELETE FROM update_schedules WHERE id = $1::uuid', [scheduleId]);
  }
});

test('a same-boot check-in rewrites last seen only after a few seconds; a new boot id is written at once', async () => {
  const d = await enrolled();
  const writer = new CheckInWriter(h.db);
  await ageLastSeen([d.deviceId]);
  await writer.checkIn({ deviceId: d.deviceId, secretHash: d.secretHash, bootId: 'boot-1' });
  const first = await rowOf(d.deviceId);
  expect(Date.now() - first.last_check_in_at.getTime()).toBeLessThan(60_000);

  expect((await writer.checkIn({ deviceId: d.deviceId, secretHash: d.secretHash, bootId: 'boot-1' })).recorded).toBe(true);
  expect(await rowOf(d.deviceId)).toEqual(first);
  // No boot id header: the stored one stays, and so does last seen.
  await writer.checkIn({ deviceId: d.deviceId, secretHash: d.secretHash });
  expect(await rowOf(d.deviceId)).toEqual(first);

  await writer.checkIn({ deviceId: d.deviceId, secretHash: d.secretHash, bootId: 'boot-2' });
  const rebooted = await rowOf(d.deviceId);
  expect(rebooted.boot_id).toBe('boot-2');
  expect(rebooted.last_check_in_at.getTime()).toBeGreaterThan(first.last_check_in_at.getTime());
});

test('one device\'s check-ins in one turn go in separate statements, in order', async () => {
  const d = await enrolled();
  const writer = new CheckInWriter(h.db);
  const seen = await Promise.all(['boot-a', 'boot-b', 'boot-c'].map((bootId) => writer.checkIn({ deviceId: d.deviceId, secretHash: d.secretHash, bootId })));
  expect(seen.every((s) => s.recorded)).toBe(true);
  expect(writer.stats).toMatchObject({ batches: 3, checkIns: 3, largestBatch: 1 });
  expect((await rowOf(d.deviceId)).boot_id).toBe('boot-c');
});

test('a statement that fails is retried one request at a time: only the bad request fails', async () => {
  const devices = await Promise.all(Array.from({ length: 4 }, () => enrolled()));
  await ageLastSeen(devices.map((d) => d.deviceId));
  const writer = new CheckInWriter(h.db);
  // Not a UUID: the gateway never lets one through (parseCredential), but a statement can fail for any reason.
  const bad = writer.checkIn({ deviceId: 'not-a-uuid', secretHash: 'x', bootId: 'boot-1' });
  const good = devices.map((d) => writer.checkIn({ deviceId: d.deviceId, secretHash: d.secretHash, bootId: 'boot-9' }));
  await expect(bad).rejects.toThrow(/uuid/);
  const seen = await Promise.all(good);
  expect(seen.every((s) => s.recorded)).toBe(true);
  expect(writer.stats.fallbacks).toBe(1);
  for (const d of devices) expect((await rowOf(d.deviceId)).boot_id).toBe('boot-9');
});

test('concurrent polls through the gateway: a wrong credential among right ones is refused alone', async () => {
  const devices = await Promise.all(Array.from({ length: 8 }, () => enrolled()));
  const wrong = `${devices[3]!.deviceId}.${'B'.repeat(43)}`;
  const credentials = devices.map((d, i) => (i === 3 ? wrong : d.credential));
  const answers = await Promise.all(credentials.map((c) => fetch(`${h.server.url}/agent/v1/commands?wait=0`, {
    headers: { authorization: `Bearer ${c}`, 'x-patchflow-boot-id': 'boot-7' },
  }).then(async (r) => ({ status: r.status, body: await r.json() }))));
  expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 401, 200, 200, 200, 200]);
  for (const [i, d] of devices.entries()) expect((await rowOf(d.deviceId)).boot_id).toBe(i === 3 ? 'boot-1' : 'boot-7');
});

test('takeCheckIns: at most one per device and none of a busy device, the rest kept in order', () => {
  const q = (deviceId: string, n: number) => ({ request: { deviceId }, n });
  const queue = [q('a', 1), q('b', 2), q('a', 3), q('c', 4), q('d', 5), q('e', 6)];
  const taken = takeCheckIns(queue, 3, new Map([['c', 1]]));
  expect(taken.map((t) => t.n)).toEqual([1, 2, 5]);
  expect(queue.map((t) => t.n)).toEqual([3, 4, 6]);
});
