/**
 * Patchflow in its production shape, for the benches that measure it (open-workflows, au --shape
 * split): an embedded PostgreSQL and a Temporal dev server on a SQLite file (WAL), then `workers`
 * worker processes (worker/main.ts) and the API + agent gateway (api/main.ts, `GATEWAY_PROCESSES`
 * of them on one port) as separate Node processes with the environment production gives them: the
 * command signing key, the simulator's signed catalog feed (synced once before it returns), a
 * prebuilt workflow bundle, a log file each under the scratch folder. All on 127.0.0.1. The soak
 * (bench/soak.ts) runs on it too: it restarts PostgreSQL and the dev server and kills workers as its
 * faults, through the handles the stack returns.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { pinnedFetch } from '../agent/transport';
import { startCatalogSync } from '../api/catalog-service';
import { ensureDevSigningKey } from '../config/command-keys';
import { loadConfig } from '../config/config';
import { devCertificateDir, ensureDevCertificate } from '../config/tls';
import { createPool, type Db } from '../db/database';
import { freePort, startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../db/embedded-postgres';
import { runMigrations } from '../db/migrate';
import { publishDevCatalogFeed } from '../dev/dev-catalog-feed';
import { findTemporalCli, startTemporalDevServer, type DevServerHandle } from '../dev/temporal-server';
import { catalogFeedsOf } from '../worker/catalog-feeds';
import { buildWorkflowBundle } from '../worker/workflow-bundle';
import { kill9, startProcess, stopProcess, waitHealthy, type Proc } from './processes';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const PRODUCTION_TASK_QUEUE = 'patchflow';

export interface ProductionStackOptions {
  /** the scratch folder's prefix (patchflow-NAME-…) */
  name: string;
  /** use this folder (the caller made it and removes it); default: a new one, removed by stop() */
  scratch?: string;
  apiKey: string;
  /** worker processes (default 1) */
  workers?: number;
  /** API + gateway processes on the one port: GATEWAY_PROCESSES (default 1) */
  gatewayProcesses?: number;
  /** HTTPS with the dev certificate (agents pin it), as `npm start`; default plain HTTP */
  tls?: boolean;
  /** laid over every process's environment (e.g. TWO_PERSON_DEVICE_THRESHOLD) */
  env?: NodeJS.ProcessEnv;
  /** the worker processes' extra environment and Node flags */
  workerEnv?: NodeJS.ProcessEnv;
  workerNodeArgs?: string[];
  /** who the first catalog sync names (its audit) */
  requestedBy: string;
  /** PostgreSQL keeps its data folder when it stops, so restartPostgres() finds it again (the soak); default throw-away */
  persistentPostgres?: boolean;
  /** PostgreSQL server settings (`-c name=value`), e.g. shared_preload_libraries=pg_stat_statements */
  postgresSettings?: Record<string, string>;
  /** connections in the bench's own pool (default 2) */
  poolMax?: number;
  /**
   * stop() ends the worker and API processes with SIGKILL at once, as a crashed host would be (the
   * soak); default SIGTERM, then SIGKILL after a grace period
   */
  killProcessesOnStop?: boolean;
}

export interface ProductionStack {
  scratch: string;
  apiUrl: string;
  /** the dev certificate agents pin, when `tls` */
  caCert?: string;
  /** a fetch for apiUrl (pinning the certificate when `tls`) */
  fetch: typeof fetch;
  databaseUrl: string;
  temporalAddress: string;
  /** the bench's own pool (2 connections) and client, for what it reads and starts itself */
  db: Db;
  client: Client;
  api: Proc;
  workers: Proc[];
  /** the embedded PostgreSQL's data folder (bench/process-cpu.ts postmasterPid) */
  postgresDir: string;
  /** the dev server's Prometheus endpoint (the same port after restartTemporal()) */
  temporalMetricsUrl: string;
  /** the dev server's process (the current one, after restartTemporal()) */
  readonly temporalPid?: number;
  /** stops PostgreSQL, waits `downMs`, starts it again on the same port and data folder (needs `persistentPostgres`) */
  restartPostgres(downMs?: number): Promise<void>;
  /** stops the dev server, waits `downMs`, starts it again on the same port and db file */
  restartTemporal(downMs?: number): Promise<void>;
  /** kills worker `i` with -9 and waits for it to exit */
  killWorker(i: number): Promise<void>;
  /** starts worker `i` afresh (after killWorker), in its place in `workers` */
  startWorker(i: number): void;
  stop(): Promise<void>;
}

export async function startProductionStack(o: ProductionStackOptions): Promise<ProductionStack> {
  const ownScratch = !o.scratch;
  const scratch = o.scratch ?? fs.mkdtempSync(path.join(os.tmpdir(), `patchflow-${o.name}-`));
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => process.stderr.write(`[${o.name}] while stopping: ${(err as Error).message}\n`));
    stops.length = 0;
    if (ownScratch) fs.rmSync(scratch, { recursive: true, force: true });
  };
  try {
    const [pgPort, temporalPort, apiPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const signingKey = ensureDevSigningKey(path.join(scratch, 'command-signing-key.pem'));
    const feed = publishDevCatalogFeed(loadConfig({ DATA_DIR: scratch, PORT: '0', DEMO_DEVICES: '0' } as NodeJS.ProcessEnv));
    const postgresDir = path.join(scratch, 'postgres');
    const pgOptions = { dataDir: postgresDir, persistent: o.persistentPostgres ?? false, port: pgPort, settings: o.postgresSettings };
    // Reassigned by a restart: the stops and the handles below always reach the current one.
    let pg: EmbeddedPostgresHandle = await startEmbeddedPostgres(pgOptions);
    stops.push(() => pg.stop());
    await runMigrations(pg.databaseUrl);
    const cli = findTemporalCli();
    if (!cli) throw new Error('no Temporal CLI (.tools/venv/bin/temporal or PATH): run node tools/setup.js');
    const temporalOptions = { cliPath: cli, port: temporalPort, dbFile: path.join(scratch, 'temporal.db'), logFile: path.join(scratch, 'temporal.log'), metricsPort };
    let temporal: DevServerHandle = await startTemporalDevServer(temporalOptions);
    stops.push(() => temporal.stop());
    const bundlePath = path.join(scratch, 'workflow-bundle.js');
    fs.writeFileSync(bundlePath, await buildWorkflowBundle());
    let tlsEnv: NodeJS.ProcessEnv = {};
    let caCert: string | undefined;
    if (o.tls) {
      const dev = await ensureDevCertificate(devCertificateDir(scratch));
      tlsEnv = { TLS_CERT_PATH: dev.certPath, TLS_KEY_PATH: dev.keyPath };
      caCert = fs.readFileSync(dev.certPath, 'utf8');
    }

    const env: NodeJS.ProcessEnv = {
      DATABASE_URL: pg.databaseUrl, TEMPORAL_ADDRESS: temporal.address, TEMPORAL_TASK_QUEUE: PRODUCTION_TASK_QUEUE, COMMAND_SIGNING_KEY_PATH: signingKey,
      CATALOG_FEED_URL: feed.CATALOG_FEED_URL, CATALOG_FEED_PUBLIC_KEY_PATH: feed.CATALOG_FEED_PUBLIC_KEY_PATH, CATALOG_FEED_ID: feed.CATALOG_FEED_ID,
      DATA_DIR: scratch, REPORTS_DIR: path.join(scratch, 'reports'), LOG_LEVEL: 'warn', PATCHFLOW_WORKFLOW_BUNDLE: bundlePath,
      ...o.env,
    };
    const end = (p: Proc) => (o.killProcessesOnStop ? kill9(p) : stopProcess(p));
    const workers: Proc[] = [];
    // Every process started, restarted workers included, for the exit hook below.
    const started: Proc[] = [];
    stops.push(async () => { await Promise.all(workers.map(end)); });
    const startWorker = (i: number) => {
      workers[i] = startProcess(`worker-${i + 1}`, 'worker/main.ts', { ...env, ...o.workerEnv }, path.join(scratch, `worker-${i + 1}.log`), o.workerNodeArgs);
      started.push(workers[i]!);
    };
    for (let i = 0; i < (o.workers ?? 1); i++) startWorker(i);
    // However this process ends (a crash included), the worker and API processes end with it.
    const killOnExit = () => { for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL'); };
    process.once('exit', killOnExit);
    stops.push(async () => { process.removeListener('exit', killOnExit); });
    const gatewayProcesses = o.gatewayProcesses ?? 1;
    const api = startProcess('api', 'api/main.ts', { ...env, ...tlsEnv, PORT: String(apiPort), PATCHFLOW_API_KEY: o.apiKey, GATEWAY_PROCESSES: String(gatewayProcesses) },
      path.join(scratch, 'api.log'), [], { ipc: true });
    started.push(api);
    stops.push(() => end(api));
    // api/main.ts says `{ listening }` once per gateway process: wait for all of them, then /healthz.
    await new Promise<void>((resolve, reject) => {
      let listening = 0;
      const timer = setTimeout(() => reject(new Error(`api/main.ts: ${listening} of ${gatewayProcesses} gateway processes listening after 120 s; see ${path.join(scratch, 'api.log')}`)), 120_000);
      api.child.on('message', (m: { listening?: string }) => {
        if (m.listening && ++listening === gatewayProcesses) {
          clearTimeout(timer);
          resolve();
        }
      });
      api.child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`api/main.ts exited (${signal ?? code}) before listening; see ${path.join(scratch, 'api.log')}`));
      });
    });
    const apiUrl = `${o.tls ? 'https' : 'http'}://127.0.0.1:${apiPort}`;
    let benchFetch: typeof fetch = fetch;
    if (caCert) {
      const pinned = pinnedFetch(caCert);
      stops.push(() => pinned.close());
      benchFetch = pinned.fetch;
    }
    await waitHealthy(apiUrl, 120_000, benchFetch);

    const db: Db = createPool(pg.databaseUrl, { max: o.poolMax ?? 2 });
    stops.push(() => db.end());
    const connection = await Connection.connect({ address: temporal.address });
    stops.push(() => connection.close());
    const client = new Client({ connection });
    // Synced before the first scan: a scan of an update the catalog does not hold yet is only "unverified".
    const sync = await startCatalogSync({ db, client, log: pino({ level: 'silent' }), taskQueue: PRODUCTION_TASK_QUEUE, catalog: catalogFeedsOf(feed).catalog }, { requestedBy: o.requestedBy });
    await client.workflow.getHandle(sync.workflowId, sync.runId).result();
    return {
      scratch, apiUrl, caCert, fetch: benchFetch, databaseUrl: pg.databaseUrl, temporalAddress: temporal.address, db, client, api, workers,
      postgresDir, temporalMetricsUrl: temporal.metricsUrl!,
      get temporalPid() { return temporal.pid; },
      restartPostgres: async (downMs = 0) => {
        if (!pgOptions.persistent) throw new Error('restartPostgres needs persistentPostgres: a throw-away PostgreSQL removes its data when it stops');
        await pg.stop();
        await sleep(downMs);
        pg = await startEmbeddedPostgres(pgOptions);
      },
      restartTemporal: async (downMs = 0) => {
        await temporal.stop();
        await sleep(downMs);
        temporal = await startTemporalDevServer(temporalOptions);
      },
      killWorker: (i) => kill9(workers[i]!),
      startWorker,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
