import { startHarness, API_KEY, type Harness } from './harness';

jest.setTimeout(60_000);

/**
 * The bad-input corpus: requests an attacker or a broken client sends. Each must get a 4xx that says
 * what is wrong, never a 500, and must leave every table exactly as it was.
 */
let h: Harness;
let enrollmentToken: string;
let deviceId: string;
beforeAll(async () => {
  h = await startHarness({ startWorker: false });
  ({ enrollmentToken, deviceId } = await h.createDevice('BAD-INPUT-01'));
});
afterAll(async () => { await h.stop(); });

/** One md5 over every row of every table of ours: equal before and after means nothing was written. */
async function checksum(): Promise<string> {
  const { rows: tables } = await h.db.query(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'pgmigrations%' ORDER BY tablename`);
  const parts: string[] = [];
  for (const { tablename } of tables) {
    // A failed authentication is audited (auth.failed): that row is the one write a refusal makes.
    const where = tablename === 'audit_log' ? ` WHERE t.action NOT LIKE 'auth.%'` : '';
    // A key's last use is bookkeeping of the authentication, not a write of the request.
    const row = tablename === 'operator_api_keys' ? `(t.key_id, t.secret_hash, t.client_ids, t.expires_at, t.revoked_at)` : 't';
    const { rows } = await h.db.query(`SELECT md5(coalesce(string_agg(${row}::text, '|' ORDER BY ${row}::text), '')) AS m FROM "${tablename}" t${where}`);
    parts.push(`${tablename}:${rows[0].m}`);
  }
  return parts.join(',');
}

const auth = { authorization: `Bearer ${API_KEY}` };
const json = { 'content-type': 'application/json' };
const garbage = Buffer.from('this is not compressed at all, honest \u00ff\u00fe');

interface Case { name: string; method: string; path: string; headers?: Record<string, string>; body?: string | Buffer; status: number | number[]; says?: RegExp }
const cases = (): Case[] => [
  { name: 'gzip garbage, no credential', method: 'POST', path: '/agent/v1/enroll', headers: { ...json, 'content-encoding': 'gzip' }, body: garbage, status: 400, says: /decompress|refused|not valid/ },
  { name: 'deflate garbage, no credential', method: 'POST', path: '/agent/v1/enroll', headers: { ...json, 'content-encoding': 'deflate' }, body: garbage, status: 400 },
  { name: 'br garbage, no credential', method: 'POST', path: '/agent/v1/enroll', headers: { ...json, 'content-encoding': 'br' }, body: garbage, status: [400, 415] },
  { name: 'an unknown Content-Encoding', method: 'POST', path: '/api/v1/clients', headers: { ...auth, ...json, 'content-encoding': 'zstd-ish' }, body: '{"name":"x"}', status: 415, says: /Content-Encoding/ },
  { name: 'gzip garbage to an operator route', method: 'POST', path: '/api/v1/clients', headers: { ...auth, ...json, 'content-encoding': 'gzip' }, body: garbage, status: 400 },
  { name: 'an unknown charset', method: 'POST', path: '/api/v1/clients', headers: { ...auth, 'content-type': 'application/json; charset=klingon-8' }, body: '{"name":"x"}', status: 415, says: /charset/ },
  { name: 'a credential whose id is 36 hex-and-dash characters but no UUID', method: 'GET', path: '/agent/v1/commands?wait=0', headers: { authorization: `Bearer ${'a'.repeat(35)}-.${'s'.repeat(43)}` }, status: 401 },
  { name: 'a NUL in the enrollment bootId', method: 'POST', path: '/agent/v1/enroll', headers: json, body: JSON.stringify({ enrollmentToken, hostname: 'h', bootId: 'boot\u0000' }), status: 400, says: /body\.bootId/ },
  { name: 'a NUL in a text field', method: 'POST', path: '/api/v1/clients', headers: { ...auth, ...json }, body: JSON.stringify({ name: 'Acme\u0000' }), status: 400, says: /body\.name/ },
  { name: 'a control character deep in a body', method: 'PUT', path: '/api/v1/patch-actions', headers: { ...auth, ...json }, body: JSON.stringify({ scopeType: 'device', scopeId: 'x', kbs: ['KB1\u0007'], action: 'ignore' }), status: 400, says: /body\.kbs\.0/ },
  { name: 'a NUL in a member name', method: 'POST', path: '/api/v1/clients', headers: { ...auth, ...json }, body: JSON.stringify({ 'na\u0000me': 'x' }), status: 400 },
  { name: 'a NUL in the query', method: 'GET', path: '/api/v1/devices?clientId=%00', headers: auth, status: 400, says: /query\.clientId/ },
  { name: 'a malformed %-escape in a path parameter', method: 'GET', path: '/api/v1/devices/%E0%A4%A', headers: auth, status: 400, says: /URL/ },
  { name: 'a NUL in a path parameter', method: 'GET', path: '/api/v1/devices/%00', headers: auth, status: 400 },
  { name: 'a device id that is no UUID', method: 'GET', path: '/api/v1/devices/not-a-uuid', headers: auth, status: [400, 404] },
  { name: 'a body that is not JSON', method: 'POST', path: '/api/v1/clients', headers: { ...auth, ...json }, body: '{"name":', status: 400, says: /JSON/ },
];

test.each(cases().map((c) => [c.name, c] as const))('%s: a 4xx naming the problem, nothing written', async (_name, c) => {
  const before = await checksum();
  const res = await fetch(`${h.server.url}${c.path}`, { method: c.method, headers: c.headers, body: c.body });
  const text = await res.text();
  const expected = Array.isArray(c.status) ? c.status : [c.status];
  // status and body together, so a failure shows what the server said
  expect(`${res.status} ${text}`).toMatch(new RegExp(`^(${expected.join('|')}) `));
  const body = JSON.parse(text);
  expect(typeof body.error).toBe('string');
  if (c.says) expect(body.error).toMatch(c.says);
  expect(await checksum()).toBe(before);
});

test('a refused enrollment leaves the token usable', async () => {
  const res = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: json, body: JSON.stringify({ enrollmentToken, hostname: 'h', bootId: 'boot\u0000' }),
  });
  expect(res.status).toBe(400);
  const ok = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: json, body: JSON.stringify({ enrollmentToken, hostname: 'h', bootId: 'boot-1' }),
  });
  expect(ok.status).toBe(201);
  expect(((await ok.json()) as { deviceId: string }).deviceId).toBe(deviceId);
});
