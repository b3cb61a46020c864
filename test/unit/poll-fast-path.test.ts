import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import type { DeviceLocals } from '../../api/agent-gateway';
import { HttpError } from '../../api/errors';
import { createMetrics } from '../../api/metrics';
import { pollFastPath } from '../../api/poll-fast-path';

const DEVICE = '0b6c1a52-4a0e-4d5e-9a57-4a1c1b6a0f00';
const GOOD = `Bearer ${DEVICE}.${'g'.repeat(43)}`;
const REFUSED = `Bearer ${DEVICE}.${'r'.repeat(43)}`;
const BROKEN = `Bearer ${DEVICE}.${'b'.repeat(43)}`;

let server: Server;
let url: string;
let suspect = false;
const metrics = createMetrics();
const checkIns: unknown[] = [];

beforeAll(async () => {
  const door = pollFastPath({
    metrics, log: pino({ level: 'silent' }), recentlyFailed: () => suspect,
    gateway: {
      checkInDevice: async (ask) => {
        checkIns.push(ask);
        if (ask.authorization === REFUSED) throw new HttpError(401, 'device credential is not valid');
        if (ask.authorization === BROKEN) throw new Error('connection terminated');
        return { deviceId: DEVICE, bootId: ask.bootIdHeader, pollStart: { query: { wait: 0, restarted: false } } } as unknown as DeviceLocals;
      },
      longPoll: async () => ({ commands: [{ id: 'c1', type: 'scan', payload: {} as never, attempt: 1 }] }),
    },
  });
  // "express": answers who took the request.
  server = createServer((req, res) => {
    if (!door(req, res, (_req, r) => { r.setHeader('x-door', 'express'); r.end('express'); })) {
      res.setHeader('x-door', 'express');
      res.end('express');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => { suspect = false; checkIns.length = 0; });

const poll = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, { ...init, headers: { authorization: GOOD, ...init.headers as Record<string, string> } });

test('an authenticated poll is answered on its own door: the JSON express would send, counted under its route', async () => {
  const res = await poll('/agent/v1/commands?wait=0&restarted=true', { headers: { 'x-patchflow-boot-id': 'boot-1' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-door')).toBeNull();
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(await res.json()).toEqual({ commands: [{ id: 'c1', type: 'scan', payload: {}, attempt: 1 }] });
  expect(checkIns).toEqual([{ authorization: GOOD, bootIdHeader: 'boot-1', pollQuery: { wait: '0', restarted: 'true' } }]);
  const text = await metrics.registry.metrics();
  expect(text).toMatch(/patchflow_http_request_duration_seconds_count\{method="GET",route="\/agent\/v1\/commands",status="200"\} 1/);
});

test('a refused check-in goes to express, which checks it in again and answers it (and counts and audits the failure)', async () => {
  const res = await fetch(`${url}/agent/v1/commands?wait=0`, { headers: { authorization: REFUSED } });
  expect(res.headers.get('x-door')).toBe('express');
  expect(await res.text()).toBe('express');
  expect(checkIns).toHaveLength(1);
});

test('a check-in that fails for another reason is answered here as express would: 500, internal error', async () => {
  const res = await fetch(`${url}/agent/v1/commands?wait=0`, { headers: { authorization: BROKEN } });
  expect(res.status).toBe(500);
  expect(await res.json()).toEqual({ error: 'internal error' });
});

test.each([
  ['another path', '/agent/v1/commands/', {}],
  ['a query the schema refuses', '/agent/v1/commands?wait=abc', {}],
  ['a control character in the query', '/agent/v1/commands?wait=%00', {}],
  ['a POST', '/agent/v1/commands', { method: 'POST' }],
])('%s goes to express untouched, never checked in here', async (_what, path, init) => {
  const res = await poll(path, init as RequestInit);
  expect(res.headers.get('x-door')).toBe('express');
  expect(checkIns).toHaveLength(0);
});

test('a GET with a body goes to express untouched', async () => {
  // fetch refuses a GET with a body: a raw request sends one.
  const door = await new Promise<string | undefined>((resolve, reject) => {
    const req = request(`${url}/agent/v1/commands?wait=0`, { method: 'GET', headers: { authorization: GOOD, 'content-type': 'application/json', 'content-length': '2' } }, (res) => {
      res.resume();
      resolve(res.headers['x-door'] as string | undefined);
    });
    req.on('error', reject);
    req.end('{}');
  });
  expect(door).toBe('express');
  expect(checkIns).toHaveLength(0);
});

test('no credential header, or an address with a recent failed authentication (it may be locked out), goes to express', async () => {
  expect((await fetch(`${url}/agent/v1/commands?wait=0`)).headers.get('x-door')).toBe('express');
  suspect = true;
  expect((await poll('/agent/v1/commands?wait=0')).headers.get('x-door')).toBe('express');
  expect(checkIns).toHaveLength(0);
});
