import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { startServer, type RunningServer } from '../api/app';
import { reconcileSchedules } from '../api/schedule-service';
import { reportsDirOf, type Config } from '../config/config';
import { createPool, type Db } from '../db/database';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { runMigrations } from '../db/migrate';
import type { InstallTimingInput } from '../workflows/install.contract';
import { connectClient, connectWorker } from '../worker/temporal-connection';
import { createPatchflowWorker, installRuntimeLogger } from '../worker/worker';
import { findTemporalCli, startTemporalDevServer } from './temporal-server';

export interface DevStack {
  apiUrl: string;
  temporalAddress: string;
  temporalUiUrl?: string;
  databaseUrl: string;
  db: Db;
  client: Client;
  stop(): Promise<void>;
}

/**
 * Everything Patchflow needs, in one process: PostgreSQL (embedded under DATA_DIR unless
 * DATABASE_URL), Temporal (a dev server with the Web UI unless TEMPORAL_ADDRESS), the worker and the
 * API + agent gateway. Stops in reverse order.
 */
export async function startDevStack(config: Config, log: Logger, options: { apiKey: string; installTiming?: InstallTimingInput }): Promise<DevStack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((err) => log.warn({ err }, 'error while stopping'));
  };
  try {
    const dataDir = path.resolve(config.DATA_DIR);
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
      connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, db, client, log, reportsDir: reportsDirOf(config),
    });
    const running = worker.run().catch((err) => log.error({ err }, 'worker stopped with an error'));
    stops.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    const api: RunningServer = await startServer(
      {
        db, databaseUrl, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, apiKey: options.apiKey,
        pollWaitSeconds: config.AGENT_POLL_WAIT_SECONDS, installTiming: options.installTiming, reportsDir: reportsDirOf(config),
      },
      { port: config.PORT },
    );
    stops.push(() => api.stop());
    // Postgres holds the schedules; make Temporal's Schedules agree with it (heals any drift).
    await reconcileSchedules({ db, client, log, taskQueue: config.TEMPORAL_TASK_QUEUE, installTiming: options.installTiming });
    return { apiUrl: api.url, temporalAddress, temporalUiUrl, databaseUrl, db, client, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
