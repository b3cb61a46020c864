import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { startServer, type RunningServer } from '../api/app';
import { reconcileCatalogSchedules, startCatalogSync } from '../api/catalog-service';
import { reconcileAlertsSchedule } from '../api/alert-service';
import { reconcileSchedules } from '../api/schedule-service';
import { ensureDevSigningKey, loadCommandKeys, type CommandKeyring } from '../config/command-keys';
import { alertsConfigOf, fileCacheOf, reportsDirOf, workerTuningOf, type Config } from '../config/config';
import { devCertificateDir, ensureDevCertificate, loadServerTls } from '../config/tls';
import { pinnedFetch } from '../agent/transport';
import { createPool, type Db } from '../db/database';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { runMigrations } from '../db/migrate';
import type { InstallTimingInput } from '../workflows/install.contract';
import { connectClient, connectWorker } from '../worker/temporal-connection';
import { createPatchflowWorker, installRuntimeLogger } from '../worker/worker';
import { catalogFeedsOf } from '../worker/catalog-feeds';
import type { CatalogSyncResult } from '../workflows/catalog-sync.contract';
import { publishDevCatalogFeed } from './dev-catalog-feed';
import { findTemporalCli, startTemporalDevServer } from './temporal-server';
import { LoginCodes } from '../api/dashboard';

export interface DevStack {
  /** https:// (TLS_CERT_PATH/TLS_KEY_PATH, else the dev certificate) */
  apiUrl: string;
  /** one-time codes for the dashboard's login link */
  loginCodes: LoginCodes;
  /** the PEM file agents and curl pin for the API (`--cacert`) */
  caCertPath: string;
  /** its text */
  caCert: string;
  /** a fetch that trusts exactly that certificate, for the demo's own API calls */
  fetch: typeof fetch;
  /** what the first catalog sync did (the simulator's signed feed unless CATALOG_FEED_URL) */
  catalogSync?: CatalogSyncResult;
  temporalAddress: string;
  temporalUiUrl?: string;
  databaseUrl: string;
  db: Db;
  client: Client;
  /** the command keys the worker signs with and agents pin */
  commandKeys: CommandKeyring;
  stop(): Promise<void>;
}

/**
 * Everything Patchflow needs, in one process: PostgreSQL (embedded under DATA_DIR unless
 * DATABASE_URL), Temporal (a dev server with the Web UI unless TEMPORAL_ADDRESS), the worker and the
 * API + agent gateway. Stops in reverse order.
 */
export async function startDevStack(configured: Config, log: Logger, options: { apiKey: string; installTiming?: InstallTimingInput }): Promise<DevStack> {
  // The catalog comes from a signed feed only: publish the simulator's, unless a real one is configured.
  const config = publishDevCatalogFeed(configured);
  const feeds = catalogFeedsOf(config);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => log.warn({ err }, 'error while stopping'));
  };
  try {
    const dataDir = path.resolve(config.DATA_DIR);
    // A dev command signing key under DATA_DIR, made on the first start (mode 0600), unless configured.
    const commandKeys = loadCommandKeys({
      ...config,
      COMMAND_SIGNING_KEY_PATH: config.COMMAND_SIGNING_KEY_PATH ?? ensureDevSigningKey(path.join(dataDir, 'command-signing-key.pem')),
    }, { requirePrivate: true });
    log.info({ commandKeyId: commandKeys.current.keyId, nextCommandKeyId: commandKeys.next?.keyId }, 'command signing key loaded');
    let databaseUrl = config.DATABASE_URL;
    if (!databaseUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: path.join(dataDir, 'postgres'), persistent: true });
      stops.push(() => pg.stop());
      databaseUrl = pg.databaseUrl;
      log.info({ dataDir: path.join(dataDir, 'postgres') }, 'embedded PostgreSQL started');
    }
    await runMigrations(databaseUrl, (msg) => log.debug(msg));

    let temporalAddress = config.TEMPORAL_ADDRESS;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      const cli = findTemporalCli(config.TEMPORAL_CLI_PATH);
      if (!cli) {
        log.warn('no Temporal CLI in TEMPORAL_CLI_PATH, .tools/venv or PATH: letting the SDK download one (needs internet)');
      }
      const server = await startTemporalDevServer({
        cliPath: cli, port: config.TEMPORAL_DEV_PORT, uiPort: config.TEMPORAL_UI_PORT,
        dbFile: path.join(dataDir, 'temporal.db'), logFile: path.join(dataDir, 'temporal.log'), namespace: config.TEMPORAL_NAMESPACE,
      });
      stops.push(() => server.stop());
      temporalAddress = server.address;
      temporalUiUrl = server.uiUrl;
      log.info({ address: temporalAddress, ui: temporalUiUrl }, 'Temporal dev server started');
    }

    installRuntimeLogger(log, { metricsBindAddress: config.WORKER_METRICS_ADDRESS });
    // One process serves the API, the gateway and the worker's activities: give it room (bench: 1,000 devices).
    const db = createPool(databaseUrl, { max: 30 });
    stops.push(() => db.end());
    const client = await connectClient(temporalAddress, config);
    stops.push(() => client.connection.close());
    const connection: NativeConnection = await connectWorker(temporalAddress, config);
    stops.push(() => connection.close());
    const worker: Worker = await createPatchflowWorker({
      connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, db, client, log, commandKeys, catalogFeeds: feeds.sources, reportsDir: reportsDirOf(config), tuning: workerTuningOf(config),
    });
    const running = worker.run().catch((err) => log.error({ err }, 'worker stopped with an error'));
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    // HTTPS always: a configured certificate, else a self-signed dev one for 127.0.0.1 and localhost
    // (DATA_DIR/tls, reused, renewed when it nears expiry) that the demo's agents pin.
    let tlsFiles = { TLS_CERT_PATH: config.TLS_CERT_PATH, TLS_KEY_PATH: config.TLS_KEY_PATH };
    if (!tlsFiles.TLS_CERT_PATH) {
      const dev = await ensureDevCertificate(devCertificateDir(dataDir));
      log.info({ cert: dev.certPath, generated: dev.generated, notAfter: dev.notAfter.toISOString() }, 'dev TLS certificate');
      tlsFiles = { TLS_CERT_PATH: dev.certPath, TLS_KEY_PATH: dev.keyPath };
    }
    const tls = loadServerTls(tlsFiles)!;
    const pinned = pinnedFetch(tls.cert);
    // The login link `npm start` prints carries one of these one-time codes, never the key.
    const loginCodes = new LoginCodes();
    const api: RunningServer = await startServer(
      {
        db, databaseUrl, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, apiKey: options.apiKey,
        pollWaitSeconds: config.AGENT_POLL_WAIT_SECONDS, installTiming: options.installTiming, commandKeys, catalog: feeds.catalog, reportsDir: reportsDirOf(config),
        alerts: alertsConfigOf(config),
        fileCache: fileCacheOf(config),
        twoPersonRule: { deviceThreshold: config.TWO_PERSON_DEVICE_THRESHOLD, requestTtlSeconds: Math.round(config.APPROVAL_REQUEST_TTL_HOURS * 3600) },
        dashboard: { temporalUiUrl: config.TEMPORAL_UI_URL ?? temporalUiUrl, loginCodes },
      },
      { port: config.PORT, tls },
    );
    stops.push(() => api.stop());
    stops.push(() => pinned.close());
    // Postgres holds the schedules; make Temporal's Schedules agree with it (heals any drift).
    await reconcileSchedules({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, installTiming: options.installTiming });
    const catalogDeps = { db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, catalog: feeds.catalog };
    await reconcileCatalogSchedules(catalogDeps);
    await reconcileAlertsSchedule({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, alerts: alertsConfigOf(config) });
    // Synced before the first scan: a scan of an update the catalog does not hold yet is only "unverified".
    const sync = await startCatalogSync(catalogDeps, { requestedBy: 'npm start' });
    const catalogSync = (await client.workflow.getHandle(sync.workflowId, sync.runId).result()) as CatalogSyncResult;
    log.info({ feedId: sync.feedId, outcome: catalogSync.outcome, sequence: catalogSync.sequence, reason: catalogSync.reason }, 'catalog synced');
    return { apiUrl: api.url, loginCodes, caCertPath: path.resolve(tlsFiles.TLS_CERT_PATH!), caCert: tls.cert, fetch: pinned.fetch, catalogSync, temporalAddress, temporalUiUrl, databaseUrl, db, client, commandKeys, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
