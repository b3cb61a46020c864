import { spawn } from 'node:child_process';
import path from 'node:path';
import { API_KEY, eventually, startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

/**
 * The audit (issue 12.7): every write names the person, their key and the source address; filters by
 * actor, action, device, client and time; pages by cursor past any size; `patchflow audit --follow`.
 */
let h: Harness;
beforeAll(async () => { h = await startHarness({ startWorker: false }); });
afterAll(async () => { await h?.stop(); });

test('a write records who (user and key), from where, what and the outcome', async () => {
  const tech = await h.mintKey({ role: 'admin' });
  const made = await h.apiAs(tech.key, 'POST', '/api/v1/clients', { name: `Audited ${tech.keyId}` });
  expect(made.status).toBe(201);
  const { entries } = (await h.api('GET', `/api/v1/audit?action=client.created&actor=${encodeURIComponent(`user:${tech.userName}/*`)}`)).body;
  expect(entries).toHaveLength(1);
  expect(entries[0]).toMatchObject({
    actor: `user:${tech.userName}/key:${entries[0].keyName}`, userName: tech.userName, keyId: tech.keyId,
    sourceIp: expect.stringMatching(/127\.0\.0\.1/), action: 'client.created', subject: made.body.id, outcome: 'succeeded',
    details: { name: `Audited ${tech.keyId}` },
  });
});

test('cursor pagination walks every row once, newest first; filters by device, client and time', async () => {
  const d = await h.createDevice();
  for (let i = 0; i < 4; i++) await h.api('POST', `/api/v1/devices/${d.deviceId}/enrollment-token`, {});
  const seen: number[] = [];
  let cursor: string | null = null;
  do {
    const q: URLSearchParams = new URLSearchParams({ deviceId: d.deviceId, limit: '2', ...(cursor ? { before: cursor } : {}) });
    const page: { entries: { id: number }[]; nextCursor: string | null } = (await h.api('GET', `/api/v1/audit?${q}`)).body;
    seen.push(...page.entries.map((e: { id: number }) => e.id));
    cursor = page.nextCursor;
  } while (cursor);
  expect(seen).toHaveLength(5); // device.created + 4 tokens
  expect([...seen].sort((a, b) => b - a)).toEqual(seen);
  expect(new Set(seen).size).toBe(5);
  const byClient = (await h.api('GET', `/api/v1/audit?clientId=${d.clientId}`)).body.entries.map((e: { id: number }) => e.id);
  expect(byClient).toEqual(seen);
  const future = new Date(Date.now() + 3_600_000).toISOString();
  expect((await h.api('GET', `/api/v1/audit?deviceId=${d.deviceId}&since=${encodeURIComponent(future)}`)).body.entries).toEqual([]);
  expect((await h.api('GET', `/api/v1/audit?deviceId=${d.deviceId}&until=${encodeURIComponent(future)}`)).body.entries).toHaveLength(5);
  // Forward from a cursor, oldest first: what --follow reads.
  const after = (await h.api('GET', `/api/v1/audit?deviceId=${d.deviceId}&after=${seen[2]}`)).body.entries.map((e: { id: number }) => e.id);
  expect(after).toEqual([seen[1], seen[0]]);
  expect((await h.api('GET', '/api/v1/audit?before=1&after=2')).status).toBe(400);
  expect((await h.api('GET', '/api/v1/audit?before=abc')).status).toBe(400);
});

test('patchflow audit --follow prints new entries as they are written', async () => {
  const root = path.resolve(__dirname, '../..');
  // The latest matching entry is printed first: there is one, so the follower is known to be running.
  await h.api('POST', '/api/v1/users', { name: `before-follow-${Date.now()}`, role: 'viewer' });
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'audit', '--follow', '--json', '--action', 'user.*', '--limit', '1', '--interval', '1'], {
    cwd: root, env: { ...process.env, PATCHFLOW_API_URL: h.server.url, PATCHFLOW_API_KEY: API_KEY }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (c) => { stdout += c; });
  try {
    await eventually(async () => (stdout.length > 0 || child.exitCode !== null ? true : undefined), 30_000, 'the latest entry');
    const name = `followed-${Date.now()}`;
    expect((await h.api('POST', '/api/v1/users', { name, role: 'viewer' })).status).toBe(201);
    const line = await eventually(async () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.details?.name === name), 20_000, 'the followed entry');
    expect(line).toMatchObject({ action: 'user.created', actor: 'user:admin/key:bootstrap' });
  } finally {
    child.kill('SIGTERM');
  }
});
