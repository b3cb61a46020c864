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
  await runMigrations(config.DATABASE_URL!, (msg) => log.info(msg));
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
  log.info({ url: server.url, tls: Boolean(tls) }, 'API and agent gateway listening');
  await reconcileSchedules({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE });
  await reconcileCatalogSchedules({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, catalog });
  await reconcileAlertsSchedule({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, alerts: alertsConfigOf(config) });
  const stop = async () => {
    await server.stop();
    await db.end();
    await client.connection.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  console.error(JSON.stringify({ level: 'fatal', msg: 'api failed', err: String(err?.stack ?? err) }));
  process.exit(1);
});
