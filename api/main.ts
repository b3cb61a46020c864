import cluster from 'node:cluster';
import { loadCommandKeys } from '../config/command-keys';
import { alertsConfigOf, fileCacheOf, loadConfig, recoveryConfigOf, reportsDirOf } from '../config/config';
import { loadServerTls } from '../config/tls';
import { createPool } from '../db/database';
import { runMigrations } from '../db/migrate';
import { createLogger } from '../worker/logger';
import { connectClient } from '../worker/temporal-connection';
import { catalogFeedsOf } from '../worker/catalog-feeds';
import { startServer } from './app';
import { reconcileCatalogSchedules } from './catalog-service';
import { reconcileAlertsSchedule } from './alert-service';
import { reconcileSchedules } from './schedule-service';

/**
 * The API and agent gateway process for production: needs DATABASE_URL and TEMPORAL_ADDRESS.
 * PATCHFLOW_API_KEY, when set, is the bootstrap admin's key (README "Operators' access").
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'patchflow-api');
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS'] as const) {
    if (!config[name]) throw new Error(`${name} is required for the API process`);
  }
  // The gateway only announces the keys: give it the public key files and it never holds a private key.
  const commandKeys = loadCommandKeys(config, { requirePrivate: false });
  // HTTPS when TLS_CERT_PATH and TLS_KEY_PATH are set; plain HTTP behind a TLS-terminating proxy.
  const tls = loadServerTls(config);
  const clustered = config.GATEWAY_PROCESSES > 1;
  if (clustered && cluster.isPrimary) {
    await runCluster(config.GATEWAY_PROCESSES, config.DATABASE_URL!, log);
    return;
  }
  // In a cluster the primary ran the migrations, and the first process reconciles the schedules.
  const leader = !clustered || process.env.PATCHFLOW_GATEWAY_PROCESS === '1';
  if (!clustered) await runMigrations(config.DATABASE_URL!, (msg) => log.info(msg));
  const db = createPool(config.DATABASE_URL!);
  const client = await connectClient(config.TEMPORAL_ADDRESS!, config);
  const { catalog } = catalogFeedsOf(config);
  const server = await startServer(
    { db, databaseUrl: config.DATABASE_URL!, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, apiKey: config.PATCHFLOW_API_KEY,
      twoPersonRule: { deviceThreshold: config.TWO_PERSON_DEVICE_THRESHOLD, requestTtlSeconds: Math.round(config.APPROVAL_REQUEST_TTL_HOURS * 3600) }, pollWaitSeconds: config.AGENT_POLL_WAIT_SECONDS, commandKeys, catalog, reportsDir: reportsDirOf(config),
      enrollment: { tokenTtlSeconds: config.ENROLLMENT_TOKEN_TTL_HOURS > 0 ? config.ENROLLMENT_TOKEN_TTL_HOURS * 3600 : undefined, retryWindowSeconds: config.ENROLLMENT_RETRY_WINDOW_SECONDS },
      ...recoveryConfigOf(config),
      alerts: alertsConfigOf(config),
      fileCache: fileCacheOf(config),
      dashboard: { temporalUiUrl: config.TEMPORAL_UI_URL } },
    { port: config.PORT, host: '0.0.0.0', tls },
  );
  log.info({ url: server.url, tls: Boolean(tls), process: process.env.PATCHFLOW_GATEWAY_PROCESS }, 'API and agent gateway listening');
  process.send?.({ listening: server.url });
  if (leader) await reconcileAll(db, client, log, config, catalog);
  const stop = async () => {
    await server.stop();
    await db.end();
    await client.connection.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

async function reconcileAll(db: ReturnType<typeof createPool>, client: Awaited<ReturnType<typeof connectClient>>, log: ReturnType<typeof createLogger>,
  config: ReturnType<typeof loadConfig>, catalog: ReturnType<typeof catalogFeedsOf>['catalog']): Promise<void> {
  await reconcileSchedules({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE });
  await reconcileCatalogSchedules({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, catalog });
  await reconcileAlertsSchedule({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, alerts: alertsConfigOf(config) });
}

/**
 * GATEWAY_PROCESSES > 1: this primary runs the migrations, then forks that many processes that share
 * PORT (node:cluster hands each new connection to the next process). One that dies is started again;
 * SIGINT/SIGTERM stop them all (each finishes as a single process would).
 */
async function runCluster(processes: number, databaseUrl: string, log: ReturnType<typeof createLogger>): Promise<void> {
  await runMigrations(databaseUrl, (msg) => log.info(msg));
  let stopping = false;
  const fork = (index: number) => {
    const worker = cluster.fork({ PATCHFLOW_GATEWAY_PROCESS: String(index) });
    worker.on('message', (m: { listening?: string }) => {
      if (m.listening && process.send) process.send({ listening: m.listening, process: index });
    });
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      log.error({ process: index, code, signal }, 'gateway process died; starting it again');
      setTimeout(() => fork(index), 1000).unref();
    });
  };
  for (let i = 1; i <= processes; i++) fork(i);
  log.info({ processes }, 'API and agent gateway on a cluster of processes');
  const stop = () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {});
    let left = workers.length;
    if (left === 0) process.exit(0);
    for (const w of workers) {
      w?.once('exit', () => { if (--left === 0) process.exit(0); });
      w?.kill('SIGTERM');
    }
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(JSON.stringify({ level: 'fatal', msg: 'api failed', err: String(err?.stack ?? err) }));
  process.exit(1);
});
