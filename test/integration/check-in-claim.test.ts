import { checkIn } from '../../db/fleet-repository';
import { hashSecret, parseCredential } from '../../api/credentials';
import { COMMAND_CHANNEL } from '../../db/command-repository';
import { startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

/**
 * A poll's check-in statement also says whether the poll has anything to claim, so an idle poll is one
 * statement. These pin that the answer is the claim's own condition, and that a command written just
 * after the check-in still wakes the poll (it subscribed before the statement).
 */
let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function enrolled(name: string) {
  const d = await h.createDevice(name);
  const res = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken: d.enrollmentToken, hostname: name, bootId: 'boot-1' }),
  });
  expect(res.status).toBe(201);
  const credential = ((await res.json()) as { credential: string }).credential;
  return { deviceId: d.deviceId, credential, secretHash: hashSecret(parseCredential(credential)!.secret) };
}

async function addCommand(deviceId: string, id: string, status: string, claimedSecondsAgo?: number) {
  await h.db.query(
    `INSERT INTO agent_commands (id, device_id, workflow_id, type, payload, task_token, attempt, status, claimed_at)
     VALUES ($1, $2, 'wf-check-in-claim', 'scan', '{}'::jsonb, '\\x00'::bytea, 1, $3,
             CASE WHEN $4::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => $4::float8) END)`,
    [id, deviceId, status, claimedSecondsAgo ?? null],
  );
}

test('the check-in reports a claimable command exactly when the claim would take one', async () => {
  const d = await enrolled('CLAIMABLE-1');
  const poll = { claimLeaseSeconds: 60, restarted: false };
  expect((await checkIn(h.db, d.deviceId, d.secretHash, 'boot-1', poll)).hasClaimable).toBe(false);
  // Not asked (a result post, a progress post): not read.
  expect((await checkIn(h.db, d.deviceId, d.secretHash, 'boot-1')).hasClaimable).toBeUndefined();

  await addCommand(d.deviceId, `${d.deviceId}/fresh-claim`, 'claimed', 5);
  expect((await checkIn(h.db, d.deviceId, d.secretHash, 'boot-1', poll)).hasClaimable).toBe(false);
  // A restarted agent is offered what it had claimed; an expired lease is offered again.
  expect((await checkIn(h.db, d.deviceId, d.secretHash, 'boot-1', { ...poll, restarted: true })).hasClaimable).toBe(true);
  expect((await checkIn(h.db, d.deviceId, d.secretHash, 'boot-1', { ...poll, claimLeaseSeconds: 2 })).hasClaimable).toBe(true);

  await addCommand(d.deviceId, `${d.deviceId}/done`, 'succeeded');
  expect((await checkIn(h.db, d.deviceId, d.secretHash, 'boot-1', poll)).hasClaimable).toBe(false);
  await addCommand(d.deviceId, `${d.deviceId}/pending`, 'pending');
  expect((await checkIn(h.db, d.deviceId, d.secretHash, 'boot-1', poll)).hasClaimable).toBe(true);

  // Another device's command is not this device's.
  const other = await enrolled('CLAIMABLE-2');
  expect((await checkIn(h.db, other.deviceId, other.secretHash, 'boot-1', poll)).hasClaimable).toBe(false);
});

test('an idle poll answers empty, and a long poll is woken by a command written after its check-in', async () => {
  const d = await enrolled('CLAIMABLE-3');
  const get = (wait: number) => fetch(`${h.server.url}/agent/v1/commands?wait=${wait}`, {
    headers: { authorization: `Bearer ${d.credential}`, 'x-patchflow-boot-id': 'boot-1' },
  });
  const idle = await get(0);
  expect(idle.status).toBe(200);
  expect(((await idle.json()) as { commands: unknown[] }).commands).toEqual([]);

  // The idle poll just wrote last seen; a check-in with the same boot id rewrites it only once it is a
  // few seconds old (CHECK_IN_WRITE_INTERVAL_SECONDS): make it old, so the poll's check-in shows.
  await h.db.query(`UPDATE devices SET last_check_in_at = now() - interval '1 minute' WHERE id = $1`, [d.deviceId]);
  const started = Date.now();
  const waiting = get(20);
  // Once the poll's check-in is recorded, write a pending command and announce it as the worker does.
  for (let seen = false; !seen;) {
    const r = await h.db.query(`SELECT last_check_in_at > to_timestamp($2::float8 / 1000) AS seen FROM devices WHERE id = $1`, [d.deviceId, started]);
    seen = r.rows[0].seen === true;
    if (!seen) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await addCommand(d.deviceId, `${d.deviceId}/late`, 'pending');
  await h.db.query('SELECT pg_notify($1, $2)', [COMMAND_CHANNEL, d.deviceId]);
  const res = await waiting;
  expect(res.status).toBe(200);
  const body = (await res.json()) as { commands: { id: string }[] };
  expect(body.commands.map((c) => c.id)).toEqual([`${d.deviceId}/late`]);
  // Woken by the announcement, not by the end of the 20 s wait.
  expect(Date.now() - started).toBeLessThan(15_000);
});

test('a poll whose wait runs out answers empty; a command it was never told of goes out on the next poll', async () => {
  const d = await enrolled('CLAIMABLE-4');
  const get = async (wait: number) => {
    const res = await fetch(`${h.server.url}/agent/v1/commands?wait=${wait}`, {
      headers: { authorization: `Bearer ${d.credential}`, 'x-patchflow-boot-id': 'boot-1' },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { commands: { id: string }[] }).commands.map((c) => c.id);
  };
  // A command written during the wait with no announcement (a NOTIFY lost while the gateway's LISTEN
  // connection was down): the wait runs out, and the poll answers empty without claiming it.
  const waiting = get(2);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await addCommand(d.deviceId, `${d.deviceId}/unannounced`, 'pending');
  expect(await waiting).toEqual([]);
  expect((await h.db.query('SELECT status FROM agent_commands WHERE id = $1', [`${d.deviceId}/unannounced`])).rows[0].status).toBe('pending');
  // The agent polls again at once: that poll's check-in sees the command, and it is handed out.
  expect(await get(2)).toEqual([`${d.deviceId}/unannounced`]);
});
