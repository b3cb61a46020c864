import net from 'node:net';
import { startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

/** A client that sends its request slowly loses its socket; a long poll, whose request is whole, does not. */
let h: Harness;
beforeAll(async () => { h = await startHarness({ startWorker: false, limits: { requestTimeoutMs: 1_000, headersTimeoutMs: 1_000 } }); });
afterAll(async () => { await h.stop(); });

/** Writes `head` and then nothing more; resolves with what the server answered and when it hung up. */
function trickle(head: string): Promise<{ answer: string; ms: number }> {
  const { port } = h.server;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let answer = '';
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    socket.on('data', (d) => { answer += d.toString(); });
    socket.on('error', reject);
    socket.on('close', () => resolve({ answer: answer.split('\r\n')[0], ms: Date.now() - started }));
    setTimeout(() => { socket.destroy(); reject(new Error('the server kept a slow request open for 20 s')); }, 20_000);
  });
}

test('a body that never finishes gets 408 and the socket closes', async () => {
  const r = await trickle('POST /agent/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"enrollmentToken":');
  expect(r.answer).toBe('HTTP/1.1 408 Request Timeout');
  expect(r.ms).toBeLessThan(10_000);
});

test('headers that never finish get 408 too', async () => {
  const r = await trickle('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  expect(r.answer).toBe('HTTP/1.1 408 Request Timeout');
});

test('a long poll outlasts the request timeout: its request is already whole', async () => {
  const { enrollmentToken } = await h.createDevice('SLOW-POLL-01');
  const enrolled = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken, hostname: 'h', bootId: 'boot-1' }),
  });
  const { credential } = (await enrolled.json()) as { credential: string };
  const started = Date.now();
  const poll = await fetch(`${h.server.url}/agent/v1/commands?wait=3`, { headers: { authorization: `Bearer ${credential}`, 'x-patchflow-boot-id': 'boot-1' } });
  expect(poll.status).toBe(200);
  expect(await poll.json()).toEqual({ commands: [] });
  expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
});
