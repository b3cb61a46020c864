import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { startServer, type AppDeps, type RequestLimits, type RunningServer } from '../../api/app';
import { createPool, type Db } from '../../db/database';
import type { InstallTimingInput } from '../../workflows/install.contract';
import { connectClient } from '../../worker/temporal-connection';
import { createPatchflowWorker, installRuntimeLogger } from '../../worker/worker';

export const API_KEY = 'test-api-key-0123456789abcdef';

/** Short per-step timeouts so offline spells and retries play out in seconds. */
export const FAST_TIMING: InstallTimingInput = {
  commandTimeoutSeconds: { scan: 5, download: 4, copy: 5, execute: 8, reboot: 10, cleanup: 5 },
  retryInitialSeconds: 1,
  retryMaxSeconds: 2,
  busyBackoffSeconds: 1,
};

const TEMPORAL_SETTINGS = { TEMPORAL_NAMESPACE: 'default', TEMPORAL_TLS: false } as const;

export interface Harness {
  db: Db;
  client: Client;
  taskQueue: string;
  server: RunningServer;
  scratch: string;
  worker?: Worker;
  api<T = any>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: Headers }>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** A client, site and device created through the API; returns the device and its enrollment token. */
  createDevice(name?: string, extra?: Record<string, unknown>): Promise<{ deviceId: string; enrollmentToken: string; clientId: string; siteId: string }>;
  stop(): Promise<void>;
}

/**
 * One test file's world: a pg pool on the run's database, a Temporal client, a worker on a task queue
 * of its own, and the real API + gateway on a free port. Agents talk to `server.url` over HTTP.
 */
export async function startHarness(options: { installTiming?: InstallTimingInput; startWorker?: boolean; app?: Partial<AppDeps>; limits?: RequestLimits } = {}): Promise<Harness> {
  const databaseUrl = process.env.PATCHFLOW_TEST_DATABASE_URL!;
  const address = process.env.PATCHFLOW_TEST_TEMPORAL_ADDRESS!;
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  installRuntimeLogger(log);
  const db = createPool(databaseUrl);
  const client = await connectClient(address, TEMPORAL_SETTINGS);
  const taskQueue = `test-${randomUUID()}`;
  const scratch = fs.mkdtempSync(path.join(process.env.PATCHFLOW_TEST_SCRATCH!, 'h-'));
  const reportsDir = path.join(scratch, 'reports');
  const server = await startServer(
    {
      db, databaseUrl, client, log, taskQueue, apiKey: API_KEY, pollWaitSeconds: 2,
      installTiming: options.installTiming ?? FAST_TIMING,
      scanTiming: { scanTimeoutSeconds: 5, retryInitialSeconds: 1, retryMaxSeconds: 2 },
      initialUpdateRetry: { busySeconds: 1, failedSeconds: 1, maxSeconds: 2 },
      reportsDir,
      ...options.app,
    },
    { port: 0, ...options.limits },
  );
  let connection: NativeConnection | undefined;
  let running: Promise<void> | undefined;

  const h: Harness = {
    db, client, taskQueue, server, scratch,
    async api(method, urlPath, body, headers = {}) {
      const res = await fetch(`${server.url}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    async startWorker() {
      connection ??= await NativeConnection.connect({ address });
      h.worker = await createPatchflowWorker({
        connection, namespace: 'default', taskQueue, db, client, log, workflowBundlePath: process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE, reportsDir,
      });
      running = h.worker.run();
    },
    async stopWorker() {
      if (h.worker && h.worker.getState() === 'RUNNING') h.worker.shutdown();
      await running;
      h.worker = undefined;
    },
    async createDevice(name = `SRV-${randomUUID().slice(0, 6)}`, extra = {}) {
      const c = await h.api('POST', '/api/v1/clients', { name: `Acme ${randomUUID().slice(0, 8)}` });
      const s = await h.api('POST', `/api/v1/clients/${c.body.id}/sites`, { name: 'HQ' });
      const d = await h.api('POST', '/api/v1/devices', { siteId: s.body.id, name, deviceType: 'server', ...extra });
      if (d.status !== 201) throw new Error(`device not created: ${JSON.stringify(d.body)}`);
      return { deviceId: d.body.device.id, enrollmentToken: d.body.enrollmentToken, clientId: c.body.id, siteId: s.body.id };
    },
    async stop() {
      await h.stopWorker();
      await server.stop();
      await connection?.close();
      await client.connection.close();
      await db.end();
    },
  };
  if (options.startWorker !== false) await h.startWorker();
  return h;
}

/** Polls `fn` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Saves a finished workflow's history under test/histories when RECORD_HISTORIES=1 (replayed in CI). */
export async function maybeRecordHistory(client: Client, workflowId: string, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const dir = path.resolve(__dirname, '..', 'histories');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(history, null, 2));
}
