import { API_KEY, startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

/**
 * Personal keys: hashed at rest, named, expiring, revocable, last use recorded. An expired or revoked
 * key is a 401 naming why, audited with the key's id; the bootstrap key opens the API as the admin.
 */
let h: Harness;
let firstAuditId: number;
beforeAll(async () => {
  h = await startHarness({ startWorker: false });
  firstAuditId = Number((await h.db.query('SELECT coalesce(max(id), 0) AS id FROM audit_log')).rows[0].id);
});
afterAll(async () => { await h?.stop(); });

const failures = async (keyId: string) => (await h.db.query(
  `SELECT actor, key_id, outcome, details FROM audit_log WHERE action = 'auth.failed' AND key_id = $1 AND id > $2 ORDER BY id`, [keyId, firstAuditId])).rows;

test('a key is stored as its hash, shown once, and its use is recorded', async () => {
  const k = await h.mintKey({ role: 'viewer' });
  expect(k.key).toMatch(new RegExp(`^pf_${k.keyId}_[A-Za-z0-9_-]{43}$`));
  const row = (await h.db.query('SELECT secret_hash, last_used_at FROM operator_api_keys WHERE key_id = $1', [k.keyId])).rows[0];
  expect(row.secret_hash).toMatch(/^[0-9a-f]{64}$/);
  expect(row.secret_hash).not.toContain(k.key.split('_').pop());
  expect(row.last_used_at).toBeNull();
  const me = await h.apiAs(k.key, 'GET', '/api/v1/whoami');
  expect(me.body).toMatchObject({ user: k.userName, role: 'viewer', keyId: k.keyId, clients: 'all' });
  const listed = (await h.api('GET', '/api/v1/keys')).body.keys.find((x: { keyId: string }) => x.keyId === k.keyId);
  expect(listed).toMatchObject({ userName: k.userName, role: 'viewer', revokedAt: null, lastUsedIp: expect.stringMatching(/127\.0\.0\.1/) });
  expect(listed.lastUsedAt).not.toBeNull();
  expect(JSON.stringify(listed)).not.toMatch(/secret|hash/i);
  expect(Date.parse(listed.expiresAt) - Date.now()).toBeGreaterThan(89 * 86_400_000); // 90 days by default
  // A key whose secret is altered is refused, and the failure names the key it claimed.
  const altered = `${k.key.slice(0, -1)}${k.key.endsWith('A') ? 'B' : 'A'}`;
  expect((await h.apiAs(altered, 'GET', '/api/v1/whoami')).status).toBe(401);
  await new Promise((r) => setTimeout(r, 200));
  expect((await failures(k.keyId))[0]).toMatchObject({ actor: `key:${k.keyId}`, outcome: 'refused', details: { reason: 'API key is not valid', keyId: k.keyId } });
});

test('a revoked key is 401 and audited; revoking is audited with who did it', async () => {
  const k = await h.mintKey({ role: 'operator' });
  expect((await h.apiAs(k.key, 'GET', '/api/v1/devices')).status).toBe(200);
  const revoked = await h.api('POST', `/api/v1/keys/${k.keyId}/revoke`, {});
  expect(revoked.status).toBe(200);
  expect(revoked.body).toMatchObject({ keyId: k.keyId, revokedBy: 'user:admin/key:bootstrap' });
  const refused = await h.apiAs(k.key, 'GET', '/api/v1/devices');
  expect(refused.status).toBe(401);
  expect(refused.body.error).toMatch(new RegExp(`API key ${k.keyId} was revoked`));
  await new Promise((r) => setTimeout(r, 200));
  expect((await failures(k.keyId)).map((r) => r.details.reason)).toEqual([expect.stringMatching(/was revoked/)]);
  const audit = (await h.db.query(`SELECT actor, user_name, key_name, source_ip FROM audit_log WHERE action = 'key.revoked' AND subject = $1`, [k.keyId])).rows;
  expect(audit).toEqual([{ actor: 'user:admin/key:bootstrap', user_name: 'admin', key_name: 'bootstrap', source_ip: expect.stringMatching(/127\.0\.0\.1/) }]);
});

test('an expired key is 401 and audited', async () => {
  const k = await h.mintKey({ role: 'admin', expiresAt: new Date(Date.now() + 1_500).toISOString() });
  expect((await h.apiAs(k.key, 'GET', '/api/v1/users')).status).toBe(200);
  await new Promise((r) => setTimeout(r, 1_700));
  const refused = await h.apiAs(k.key, 'GET', '/api/v1/users');
  expect(refused.status).toBe(401);
  expect(refused.body.error).toMatch(/expired at/);
  await new Promise((r) => setTimeout(r, 200));
  expect((await failures(k.keyId)).map((r) => r.details.reason)).toEqual([expect.stringMatching(/expired at/)]);
});

test('users and keys are for admins with a key for all clients; a key for some clients names only existing ones', async () => {
  const scopedAdmin = await h.mintKey({ role: 'admin', clients: [(await h.createDevice()).clientId] });
  expect((await h.apiAs(scopedAdmin.key, 'POST', '/api/v1/users', { name: 'someone', role: 'admin' })).status).toBe(403);
  const approver = await h.mintKey({ role: 'approver' });
  expect((await h.apiAs(approver.key, 'GET', '/api/v1/keys')).status).toBe(403);
  const user = (await h.api('GET', '/api/v1/users')).body.users.find((u: { name: string }) => u.name === approver.userName);
  const unknown = await h.api('POST', `/api/v1/users/${user.id}/keys`, { name: 'laptop', clients: ['00000000-0000-4000-8000-000000000000'] });
  expect(unknown.status).toBe(404);
  expect((await h.api('POST', '/api/v1/users', { name: 'x', role: 'superuser' })).status).toBe(400);
  // The configured key keeps working as the bootstrap admin's.
  expect((await h.apiAs(API_KEY, 'GET', '/api/v1/whoami')).body).toMatchObject({ user: 'admin', role: 'admin', keyId: 'bootstrap', clients: 'all' });
});
