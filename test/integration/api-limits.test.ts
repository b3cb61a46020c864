import net from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { startServer, type RunningServer } from '../../api/app';
import { API_KEY, startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

/**
 * Limits of issue 12.6 not covered elsewhere: one long poll per device credential, and no body read
 * for a caller who is not authenticated (an anonymous 5 MB body is refused before it is read).
 */
let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function enrolledDevice(name: string): Promise<{ deviceId: string; credential: string }> {
  const { deviceId, enrollmentToken } = await h.createDevice(name);
  const r = await h.api('POST', '/agent/v1/enroll', { enrollmentToken, hostname: name, bootId: 'boot-1' });
  return { deviceId, credential: r.body.credential };
}

const poll = (credential: string, wait: number, url = h.server.url) => fetch(`${url}/agent/v1/commands?wait=${wait}`, {
  headers: { authorization: `Bearer ${credential}`, 'x-patchflow-boot-id': 'boot-1' },
}).then(async (res) => ({ status: res.status, body: (await res.json()) as { commands: { id: string; type: string }[] }, at: Date.now() }));

async function agentsPolling(): Promise<number> {
  const text = await (await fetch(`${h.server.url}/metrics`, { headers: { 'x-api-key': API_KEY } })).text();
  return Number(/^patchflow_agents_long_polling(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1]);
}

const settle = () => new Promise((r) => setTimeout(r, 300));

describe('one long poll per device credential', () => {
  test('a new poll ends the one before at once, with no commands; the newer one gets the command', async () => {
    const { deviceId, credential } = await enrolledDevice('ONE-POLL-01');
    const first = poll(credential, 60);
    await settle();
    const second = poll(credential, 20);
    const a = await first;
    // The first poll would wait 60 s: it answered while the second still waits (its wait is 20 s).
    expect(a).toMatchObject({ status: 200, body: { commands: [] } });
    const scan = await h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
    expect(scan.status).toBe(202);
    const b = await second;
    expect(b.status).toBe(200);
    expect(b.body.commands.map((c) => c.type)).toEqual(['scan']);
    expect(b.at).toBeGreaterThan(a.at);
    await h.client.workflow.getHandle(scan.body.workflowId).terminate('no agent in this test');
  });

  test('a poll on another replica ends the one before too', async () => {
    const replica: RunningServer = await startServer({
      db: h.db, databaseUrl: process.env.PATCHFLOW_TEST_DATABASE_URL!, client: h.client, log: pino({ level: 'silent' }), taskQueue: h.taskQueue,
      apiKey: API_KEY, pollWaitSeconds: 2, commandKeys: h.commandKeys, reportsDir: path.join(h.scratch, 'replica-reports'),
    }, { port: 0 });
    try {
      const { credential } = await enrolledDevice('ONE-POLL-03');
      const first = poll(credential, 60);
      await settle();
      const second = poll(credential, 5, replica.url);
      const a = await first;
      expect(a).toMatchObject({ status: 200, body: { commands: [] } });
      const b = await second;
      // The second was not ended by the first's announcement: it waited its own 5 s out.
      expect(b.at).toBeGreaterThan(a.at);
      expect(b.status).toBe(200);
    } finally {
      await replica.stop();
    }
  });

  test('polls one after another: each ends the one before, never more than one open', async () => {
    const { credential } = await enrolledDevice('ONE-POLL-02');
    const before = await agentsPolling();
    let previous: ReturnType<typeof poll> | undefined;
    for (let i = 0; i < 5; i++) {
      const next = poll(credential, 30);
      if (previous) expect((await previous).body).toEqual({ commands: [] });
      // The newest is the one left waiting.
      let polling = NaN;
      for (let j = 0; j < 50 && polling !== before + 1; j++) { await settle(); polling = await agentsPolling(); }
      expect(polling).toBe(before + 1);
      previous = next;
    }
    await poll(credential, 0);
    expect((await previous!).status).toBe(200);
  });

  test('ten polls at once with one credential: nine answer at once, at most one stays open', async () => {
    const { credential } = await enrolledDevice('ONE-POLL-04');
    const before = await agentsPolling();
    let answered = 0;
    const polls = Array.from({ length: 10 }, () => poll(credential, 30).then((p) => { answered++; return p; }));
    for (let i = 0; i < 50 && answered < 9; i++) await settle();
    expect(answered).toBeGreaterThanOrEqual(9);
    expect(await agentsPolling()).toBeLessThanOrEqual(before + 1);
    // One more poll ends whichever is left.
    const last = await poll(credential, 0);
    const all = await Promise.all(polls);
    expect(all.map((p) => [p.status, p.body.commands.length])).toEqual(Array.from({ length: 10 }, () => [200, 0]));
    expect(last.status).toBe(200);
  });
});

/** Sends the head of a request and `sent` bytes of a body it says is much larger; resolves with the status line once the server answers and hangs up. */
function partialBody(head: string, sent: number): Promise<{ statusLine: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    let answer = '';
    const socket = net.connect(h.server.port, '127.0.0.1', () => socket.write(head + 'x'.repeat(sent)));
    socket.on('data', (d) => { answer += d.toString(); });
    socket.on('error', reject);
    socket.on('close', () => resolve({ statusLine: answer.split('\r\n')[0], closed: true }));
    // Without the refusal the server would wait for the rest of the body (until its request timeout).
    setTimeout(() => { socket.destroy(); reject(new Error(`no answer and no hang-up with the body unfinished; got ${JSON.stringify(answer.slice(0, 80))}`)); }, 10_000);
  });
}

describe('authentication before the body', () => {
  const FIVE_MB = 5 * 1024 * 1024;

  test('an operator route without a key answers 401 to a 5 MB body after its first kilobyte, and hangs up', async () => {
    const r = await partialBody(`POST /api/v1/clients HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${FIVE_MB}\r\n\r\n`, 1024);
    expect(r).toEqual({ statusLine: 'HTTP/1.1 401 Unauthorized', closed: true });
  });

  test('with a wrong key too', async () => {
    const r = await partialBody(`PUT /api/v1/patches/approval HTTP/1.1\r\nHost: x\r\nX-API-Key: wrong\r\nContent-Type: application/json\r\nContent-Length: ${FIVE_MB}\r\n\r\n`, 1024);
    expect(r).toEqual({ statusLine: 'HTTP/1.1 401 Unauthorized', closed: true });
  });

  test('a gateway route with a credential that is not valid answers 401 the same way', async () => {
    const fake = `Bearer 00000000-0000-4000-8000-000000000000.${'a'.repeat(43)}`;
    const r = await partialBody(`POST /agent/v1/commands/c1/result HTTP/1.1\r\nHost: x\r\nAuthorization: ${fake}\r\nContent-Type: application/json\r\nContent-Length: ${FIVE_MB}\r\n\r\n`, 1024);
    expect(r).toEqual({ statusLine: 'HTTP/1.1 401 Unauthorized', closed: true });
  });

  test('enrollment, read before anyone is known, refuses a body over 16 kB from its Content-Length alone', async () => {
    const r = await partialBody(`POST /agent/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${FIVE_MB}\r\n\r\n`, 1024);
    expect(r).toEqual({ statusLine: 'HTTP/1.1 413 Payload Too Large', closed: true });
  });

  test('with a valid key the body is read: a complete body over the limit is 413, a small one is parsed', async () => {
    const big = await h.api('POST', '/api/v1/clients', JSON.stringify({ name: 'x'.repeat(6 * 1024 * 1024) }));
    expect(big.status).toBe(413);
    const ok = await h.api('POST', '/api/v1/clients', { name: `Limits ${Date.now()}` });
    expect(ok.status).toBe(201);
  });
});
