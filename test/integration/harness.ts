import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { Client as PgClient } from 'pg';
import pino from 'pino';
import type { CatalogFeedSource } from '../../activities/catalog-activities';
import { SIMULATOR_FEED_ID, simulatorCatalogFeed, writeCatalogFeed } from '../../agent/catalog-feed';
import type { SimulatedFleet } from '../../agent/fleet';
import { startServer, type AppDeps, type RequestLimits, type RunningServer } from '../../api/app';
import { keyringFromPem, type CommandKeyring } from '../../config/command-keys';
import type { ServerTls } from '../../config/tls';
import { pinnedFetch } from '../../agent/transport';
import type { CatalogFeed } from '../../domain/catalog-feed';
import { generateSigningKeyPair, type SigningKeyPair } from '../../domain/signatures';
import type { CatalogConfig, CatalogSyncResult } from '../../workflows/catalog-sync.contract';
import { createPool, type Db } from '../../db/database';
import { runMigrations } from '../../db/migrate';
import type { InstallTimingInput } from '../../workflows/install.contract';
import { connectClient } from '../../worker/temporal-connection';
import { saveNewHistory } from '../history-file';
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

export interface MintedKey { key: string; keyId: string; userId: string; userName: string }

export interface Harness {
  db: Db;
  client: Client;
  taskQueue: string;
  server: RunningServer;
  scratch: string;
  /** this harness's command keys (generated per harness): the worker signs with them, agents pin them */
  commandKeys: CommandKeyring;
  /** the PEM file of the harness's first command key (COMMAND_SIGNING_KEY_PATH for spawned workers) */
  commandKeyPath: string;
  worker?: Worker;
  api<T = any>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: T; headers: Headers }>;
  /** The same request with another operator's key. */
  apiAs<T = any>(key: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: T; headers: Headers }>;
  /**
   * A person (new, unless `user` names one) with `role` and a personal key for `clients` (default all),
   * made through the API with the bootstrap admin's key.
   */
  mintKey(options: { role: 'viewer' | 'operator' | 'approver' | 'admin'; clients?: 'all' | string[]; user?: string; expiresAt?: string | null }): Promise<MintedKey>;
  startWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  /** Restarts worker and API on the same port with other command keys (a key rotation's config change). */
  restartWithKeys(commandKeys: CommandKeyring): Promise<void>;
  /** A client, site and device created through the API; returns the device and its enrollment token. */
  createDevice(name?: string, extra?: Record<string, unknown>): Promise<{ deviceId: string; enrollmentToken: string; clientId: string; siteId: string }>;
  /** the key the harness signs the simulator's catalog feed with (pinned for it on this harness's worker) */
  feedKey: SigningKeyPair;
  /**
   * Writes a feed document where this harness's worker fetches it, and pins `publicKeysPem` for it
   * (default: the harness's feed key) on the first publish. The API then knows the feed too.
   */
  publishFeed(feed: CatalogFeed, options?: { publicKeysPem?: string[] }): void;
  /** Runs a catalog sync of a feed through the API (default: the simulator's) and waits for its result. */
  syncCatalog(feedId?: string): Promise<CatalogSyncResult & { workflowId: string; runId: string }>;
  /** simulated agents a test started against this harness: stop() stops them first, before the server */
  fleets: SimulatedFleet[];
  stop(): Promise<void>;
}

/**
 * A new database beside the run's (same server), migrated, named `<prefix>_<pid>_<time>`: for a file
 * that must not see, or be seen by, the other files' rows. Returns its URL.
 */
export async function createMigratedDatabase(prefix: string): Promise<string> {
  const url = new URL(process.env.PATCHFLOW_TEST_DATABASE_URL!);
  const name = `${prefix}_${process.pid}_${Date.now()}`;
  const admin = new PgClient({ connectionString: url.toString() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  url.pathname = `/${name}`;
  await runMigrations(url.toString());
  return url.toString();
}

/**
 * One test file's world: a pg pool on the run's database, a Temporal client, a worker on a task queue
 * of its own, and the real API + gateway on a free port. Agents talk to `server.url` over HTTP.
 */
export async function startHarness(options: {
  installTiming?: InstallTimingInput; startWorker?: boolean; app?: Partial<AppDeps>; limits?: RequestLimits;
  /** serve HTTPS with this certificate (h.api then trusts exactly it); default plain HTTP */
  tls?: ServerTls;
  /** another database (default: the run's shared one) and Temporal (default: the run's dev server) */
  databaseUrl?: string; temporalAddress?: string;
} = {}): Promise<Harness> {
  const databaseUrl = options.databaseUrl ?? process.env.PATCHFLOW_TEST_DATABASE_URL!;
  const address = options.temporalAddress ?? process.env.PATCHFLOW_TEST_TEMPORAL_ADDRESS!;
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  installRuntimeLogger(log);
  const db = createPool(databaseUrl);
  const client = await connectClient(address, TEMPORAL_SETTINGS);
  const taskQueue = `test-${randomUUID()}`;
  const scratch = fs.mkdtempSync(path.join(process.env.PATCHFLOW_TEST_SCRATCH!, 'h-'));
  const reportsDir = path.join(scratch, 'reports');
  // The catalog comes from a signed feed only: publish the simulator's catalog as one, pin its key.
  const feedKey = generateSigningKeyPair();
  const catalogFeeds = new Map<string, CatalogFeedSource>();
  const catalog: CatalogConfig = { feeds: [] };
  // A command signing key per harness, also on disk for worker processes the tests spawn.
  const commandKeyPath = path.join(scratch, 'command-signing-key.pem');
  fs.writeFileSync(commandKeyPath, generateSigningKeyPair().privateKeyPem, { mode: 0o600 });
  let commandKeys = options.app?.commandKeys ?? keyringFromPem(fs.readFileSync(commandKeyPath, 'utf8'));
  const serve = (port: number) => startServer(
    {
      db, databaseUrl, client, log, taskQueue, apiKey: API_KEY, pollWaitSeconds: 2,
      installTiming: options.installTiming ?? FAST_TIMING,
      scanTiming: { scanTimeoutSeconds: 5, retryInitialSeconds: 1, retryMaxSeconds: 2 },
      initialUpdateRetry: { busySeconds: 1, failedSeconds: 1, maxSeconds: 2 },
      catalog,
      reportsDir,
      // Recovery in seconds: steps in tests may have heartbeat timeouts of a few seconds.
      recovery: { keepAliveIntervalMs: 1_000, completerIntervalMs: 2_000, completerProbeIntervalMs: 250 },
      ...options.app,
      commandKeys,
    },
    { port, ...options.limits, tls: options.tls },
  );
  const pinned = options.tls ? pinnedFetch(options.tls.cert) : undefined;
  const apiFetch = pinned?.fetch ?? fetch;
  let server = await serve(0);
  let connection: NativeConnection | undefined;
  let running: Promise<void> | undefined;

  const h: Harness = {
    db, client, taskQueue, server, scratch, commandKeys, commandKeyPath, feedKey,
    publishFeed(feed, opts = {}) {
      const url = writeCatalogFeed(path.join(scratch, 'feeds', `${feed.feed.id}.json`), feed);
      if (!catalogFeeds.has(feed.feed.id)) {
        catalogFeeds.set(feed.feed.id, { url, publicKeysPem: opts.publicKeysPem ?? [feedKey.publicKeyPem] });
        catalog.feeds.push({ feedId: feed.feed.id, syncIntervalMinutes: 60 });
      }
    },
    async syncCatalog(feedId = SIMULATOR_FEED_ID) {
      const r = await h.api('POST', '/api/v1/catalog/sync', { feedId });
      if (r.status !== 202) throw new Error(`catalog sync not started: ${r.status} ${JSON.stringify(r.body)}`);
      const result = (await client.workflow.getHandle(r.body.workflowId, r.body.runId).result()) as CatalogSyncResult;
      return { ...result, workflowId: r.body.workflowId, runId: r.body.runId };
    },
    async api(method, urlPath, body, headers = {}) {
      const res = await apiFetch(`${server.url}${urlPath}`, {
        method,
        headers: { authorization: `Bearer ${API_KEY}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
    },
    apiAs(key, method, urlPath, body) {
      return h.api(method, urlPath, body, { authorization: `Bearer ${key}` });
    },
    async mintKey({ role, clients = 'all', user, expiresAt }) {
      const userName = user ?? `${role}-${randomUUID().slice(0, 8)}`;
      let u = (await h.api('GET', '/api/v1/users')).body.users.find((x: { name: string }) => x.name === userName);
      if (!u) {
        const made = await h.api('POST', '/api/v1/users', { name: userName, role });
        if (made.status !== 201) throw new Error(`user not created: ${made.status} ${JSON.stringify(made.body)}`);
        u = made.body;
      }
      const k = await h.api('POST', `/api/v1/users/${u.id}/keys`, { name: `key-${randomUUID().slice(0, 8)}`, clients, ...(expiresAt !== undefined ? { expiresAt } : {}) });
      if (k.status !== 201) throw new Error(`key not created: ${k.status} ${JSON.stringify(k.body)}`);
      return { key: k.body.key, keyId: k.body.keyId, userId: u.id, userName };
    },
    async startWorker() {
      connection ??= await NativeConnection.connect({ address });
      h.worker = await createPatchflowWorker({
        connection, namespace: 'default', taskQueue, db, client, log, commandKeys, workflowBundlePath: process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE,
        catalogFeeds, reportsDir,
      });
      running = h.worker.run();
    },
    async stopWorker() {
      if (h.worker && h.worker.getState() === 'RUNNING') h.worker.shutdown();
      await running;
      h.worker = undefined;
    },
    async restartWithKeys(keys) {
      await h.stopWorker();
      await server.stop();
      commandKeys = keys;
      h.commandKeys = keys;
      server = await serve(server.port);
      h.server = server;
      await h.startWorker();
    },
    async createDevice(name = `SRV-${randomUUID().slice(0, 6)}`, extra = {}) {
      const c = await h.api('POST', '/api/v1/clients', { name: `Acme ${randomUUID().slice(0, 8)}` });
      const s = await h.api('POST', `/api/v1/clients/${c.body.id}/sites`, { name: 'HQ' });
      const d = await h.api('POST', '/api/v1/devices', { siteId: s.body.id, name, deviceType: 'server', ...extra });
      if (d.status !== 201) throw new Error(`device not created: ${JSON.stringify(d.body)}`);
      return { deviceId: d.body.device.id, enrollmentToken: d.body.enrollmentToken, clientId: c.body.id, siteId: s.body.id };
    },
    fleets: [],
    async stop() {
      for (const f of h.fleets) await f.stop();
      await h.stopWorker();
      await server.stop();
      await connection?.close();
      await pinned?.close();
      await client.connection.close();
      await db.end();
    },
  };
  h.publishFeed(simulatorCatalogFeed(feedKey.privateKeyPem));
  if (options.startWorker !== false) {
    await h.startWorker();
    // Devices' scans are verified against the catalog: it must hold the simulator's updates first.
    const synced = await h.syncCatalog();
    if (synced.outcome === 'refused') throw new Error(`simulator catalog feed refused: ${synced.reason}`);
  }
  return h;
}

/**
 * A hand-driven agent's answer to its next scan command: polls with `credential`, then posts `updates`
 * as the scan's result, raw (as an attacker, or an old agent, would post them).
 */
export async function answerNextScan(h: Pick<Harness, 'server'>, credential: string, updates: unknown[]): Promise<void> {
  const headers = { authorization: `Bearer ${credential}`, 'x-patchflow-boot-id': 'boot-1', 'content-type': 'application/json' };
  const command = await eventually(async () => {
    const res = await fetch(`${h.server.url}/agent/v1/commands?wait=1`, { headers });
    return ((await res.json()) as { commands: { id: string }[] }).commands[0];
  }, 20_000, 'scan command');
  const res = await fetch(`${h.server.url}/agent/v1/commands/${encodeURIComponent(command.id)}/result`, {
    method: 'POST', headers,
    body: JSON.stringify({ status: 'succeeded', result: { bootId: 'boot-1', updates, rebootPending: false, freeDiskBytes: 10 ** 10, scannedAt: new Date().toISOString() } }),
  });
  if (res.status !== 200) throw new Error(`scan result refused: ${res.status} ${await res.text()}`);
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

/**
 * Saves a finished workflow's history (its latest run, or `runId`) under test/histories when
 * RECORD_HISTORIES=1 (replayed in CI). Fails, naming the file, when that history already exists.
 */
export async function maybeRecordHistory(client: Client, workflowId: string, name: string, runId?: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  saveNewHistory(path.resolve(__dirname, '..', 'histories'), name, history);
}
