import { API_KEY, startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

/** Guessing keys or credentials is noticed: counted per address, locked out with 429, and audited. */
let h: Harness;
/** The run's database is shared by every test file: look only at audit rows written after this one started. */
let firstAuditId: number;
/** Created before the first test locks the operators' door for this address. */
let natGoodToken: string;
beforeAll(async () => {
  h = await startHarness({ startWorker: false, app: { authFailureLimits: { maxFailures: 5, maxAddressFailures: 12, windowMs: 60_000 } } });
  firstAuditId = Number((await h.db.query('SELECT coalesce(max(id), 0) AS id FROM audit_log')).rows[0].id);
  natGoodToken = (await h.createDevice('NAT-GOOD')).enrollmentToken;
});
afterAll(async () => { await h.stop(); });

const audits = async (action: string) => (await h.db.query(
  `SELECT actor, details FROM audit_log WHERE action = $1 AND id > $2 ORDER BY id`, [action, firstAuditId])).rows;

test('an address that fails 5 times is locked out with Retry-After, and every failure is audited', async () => {
  // A valid key never counts: an operator at work is not throttled.
  for (let i = 0; i < 8; i++) expect((await h.api('GET', '/api/v1/clients')).status).toBe(200);

  const statuses: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 7; i++) {
    const r = await h.api('GET', '/api/v1/clients', undefined, { authorization: `Bearer wrong-key-${i}` });
    statuses.push(r.status);
    if (r.status === 429) retryAfter = r.headers.get('retry-after');
  }
  expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  // Locked out means locked out, also for the right key, until the window passes.
  expect((await h.api('GET', '/api/v1/clients', undefined, { authorization: `Bearer ${API_KEY}` })).status).toBe(429);

  await new Promise((r) => setTimeout(r, 200)); // audit rows are written once each answer is sent
  const failed = await audits('auth.failed');
  expect(failed).toHaveLength(5);
  expect(failed[0].details).toMatchObject({ ip: expect.stringMatching(/127\.0\.0\.1/), door: 'operators', reason: 'API key is not valid', path: '/api/v1/clients' });
  const locked = await audits('auth.locked_out');
  expect(locked).toHaveLength(1);
  expect(locked[0].details).toMatchObject({ door: 'operators', failures: 5 });
});

test('the agents\' door counts on its own, and names the device a credential claims', async () => {
  const deviceId = '0b7a3c1e-5f2d-4e8a-9c6b-1d2e3f4a5b6c';
  const r = await fetch(`${h.server.url}/agent/v1/commands?wait=0`, { headers: { authorization: `Bearer ${deviceId}.${'x'.repeat(43)}` } });
  expect(r.status).toBe(401);
  await new Promise((res) => setTimeout(res, 200));
  const failed = (await audits('auth.failed')).filter((a) => a.details.door === 'agents');
  expect(failed).toEqual([expect.objectContaining({ actor: `device:${deviceId}`, details: expect.objectContaining({ status: 401 }) })]);
});

test('devices behind one address are locked out one by one: a failing device does not lock out the others, an address spraying made-up devices is locked out whole', async () => {
  const enrolled = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enrollmentToken: natGoodToken, hostname: 'nat-good', bootId: 'boot-1' }),
  });
  expect(enrolled.status).toBe(201);
  const good = ((await enrolled.json()) as { credential: string }).credential;
  const poll = (credential: string) => fetch(`${h.server.url}/agent/v1/commands?wait=0`, { headers: { authorization: `Bearer ${credential}`, 'x-patchflow-boot-id': 'boot-1' } });
  const bogus = (n: number) => `${n.toString(16).padStart(8, '0')}-5f2d-4e8a-9c6b-1d2e3f4a5b6c.${'y'.repeat(43)}`;

  // One device (a re-imaged machine with a stale credential) fails 5 times: it alone is locked out.
  const stale = bogus(0xabc);
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) statuses.push((await poll(stale)).status);
  expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  const refused = await poll(stale);
  expect(refused.status).toBe(429);
  expect(((await refused.json()) as { error: string }).error).toContain('for device 00000abc-5f2d-4e8a-9c6b-1d2e3f4a5b6c from');
  // Its neighbour behind the same address still checks in.
  expect((await poll(good)).status).toBe(200);

  // Made-up devices, one failure each, until the address's ceiling (12 in this harness): then the address is out.
  let sprayed = 0;
  let status = 401;
  while (status === 401 && sprayed < 20) status = (await poll(bogus(0x100 + sprayed++))).status;
  expect(status).toBe(429);
  expect(sprayed).toBeLessThanOrEqual(12);
  const goodRefused = await poll(good);
  expect(goodRefused.status).toBe(429);
  expect(((await goodRefused.json()) as { error: string }).error).toMatch(/too many failed authentications from \S+; try again/);

  await new Promise((r) => setTimeout(r, 200));
  const locked = (await audits('auth.locked_out')).filter((a) => a.details.door === 'agents');
  expect(locked.map((a) => a.details)).toEqual([
    expect.objectContaining({ scope: 'device', deviceId: '00000abc-5f2d-4e8a-9c6b-1d2e3f4a5b6c', failures: 5 }),
    expect.objectContaining({ scope: 'address', failures: 12 }),
  ]);
});

test('busy agents are never throttled: only failures count, not open long polls', async () => {
  const fresh = await startHarness({ startWorker: false, app: { authFailureLimits: { maxFailures: 3, windowMs: 60_000 } } });
  try {
    const credentials = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const { enrollmentToken } = await fresh.createDevice(`BUSY-AGENT-${i}`);
      const r = await fetch(`${fresh.server.url}/agent/v1/enroll`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ enrollmentToken, hostname: `h${i}`, bootId: 'boot-1' }),
      });
      return ((await r.json()) as { credential: string }).credential;
    }));
    const polls = await Promise.all(credentials.map((c) => fetch(`${fresh.server.url}/agent/v1/commands?wait=1`, {
      headers: { authorization: `Bearer ${c}`, 'x-patchflow-boot-id': 'boot-1' },
    })));
    expect(polls.map((p) => p.status)).toEqual(Array(8).fill(200));
  } finally {
    await fresh.stop();
  }
});
