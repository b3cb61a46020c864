import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import pino from 'pino';
import { errorMiddleware, HttpError, notFoundHandler } from '../../api/errors';
import { BadRequestError, ConflictError, NotFoundError, UnprocessableError } from '../../domain/errors';

// The API's handlers are plain async functions: Express 5 hands a rejection to the error middleware,
// which answers with the status the error's class names. These rows are what every route relies on.
const failures: [string, () => Promise<never>, number, Record<string, unknown>][] = [
  ['not-found', async () => { throw new NotFoundError('device', 'd1'); }, 404, { error: 'device d1 not found', type: 'NotFound' }],
  ['conflict', async () => { throw new ConflictError('already running'); }, 409, { error: 'already running', type: 'Conflict' }],
  ['unprocessable', async () => { throw new UnprocessableError('body.x: no', 'x'); }, 422, { error: 'body.x: no', type: 'Unprocessable' }],
  ['bad-request', async () => { throw new BadRequestError('body.workingFolder: relative', 'workingFolder'); }, 400, { error: 'body.workingFolder: relative', type: 'BadRequest' }],
  ['http-error', async () => { throw new HttpError(403, 'role viewer may not'); }, 403, { error: 'role viewer may not' }],
  ['unique-violation', async () => { throw Object.assign(new Error('duplicate key'), { code: '23505', detail: 'Key (name)=(a) already exists.' }); }, 409, { error: 'already exists: Key (name)=(a) already exists.' }],
  ['bad-uuid', async () => { throw Object.assign(new Error('invalid input syntax for type uuid'), { code: '22P02' }); }, 400, { error: 'a value was refused by the database: invalid input syntax for type uuid' }],
  ['our-fault', async () => { throw new Error('connection reset'); }, 500, { error: 'internal error' }],
  ['rejected-later', () => new Promise<never>((_resolve, reject) => setImmediate(() => reject(new Error('late')))), 500, { error: 'internal error' }],
];

let server: Server;
let base: string;

beforeAll(async () => {
  const app = express();
  for (const [name, fail] of failures) app.get(`/${name}`, fail);
  app.use(notFoundHandler);
  app.use(errorMiddleware(pino({ level: 'silent' })));
  server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test.each(failures.map(([name, , status, body]) => [name, status, body] as const))('%s → %i', async (name, status, body) => {
  const res = await fetch(`${base}/${name}`);
  expect(res.status).toBe(status);
  expect(await res.json()).toEqual(body);
});

test('an unknown route is a 404 naming it', async () => {
  const res = await fetch(`${base}/nowhere`);
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: 'no route GET /nowhere' });
});
