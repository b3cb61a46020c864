import { loadCommandKeys } from '../config/command-keys';
import { loadConfig, reportsDirOf, workerTuningOf } from '../config/config';
import { createPool } from '../db/database';
import { catalogFeedsOf } from './catalog-feeds';
import { createLogger } from './logger';
import { connectClient, connectWorker } from './temporal-connection';
import { createPatchflowWorker, installRuntimeLogger } from './worker';
import { chooseWorkflowBundle } from './workflow-bundle';

/**
 * The worker process for production (and for tests that kill it): needs DATABASE_URL and
 * TEMPORAL_ADDRESS. It loads `npm run build`'s workflow bundle when that matches the sources
 * (PATCHFLOW_WORKFLOW_BUNDLE may name another), and bundles workflows/ at start otherwise.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.LOG_LEVEL, 'patchflow-worker');
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is required for the worker process');
  if (!config.TEMPORAL_ADDRESS) throw new Error('TEMPORAL_ADDRESS is required for the worker process');
  const commandKeys = loadCommandKeys(config, { requirePrivate: true });
  installRuntimeLogger(log, { metricsBindAddress: config.WORKER_METRICS_ADDRESS });
  const db = createPool(config.DATABASE_URL);
  const client = await connectClient(config.TEMPORAL_ADDRESS, config);
  const connection = await connectWorker(config.TEMPORAL_ADDRESS, config);
  const bundle = chooseWorkflowBundle(process.env.PATCHFLOW_WORKFLOW_BUNDLE);
  if (bundle.kind === 'prebuilt') log.info({ workflowBundle: bundle.path }, 'loading the prebuilt workflow bundle');
  else log.warn({ reason: bundle.reason }, 'bundling workflows at start');
  const worker = await createPatchflowWorker({
    connection, namespace: config.TEMPORAL_NAMESPACE, taskQueue: config.TEMPORAL_TASK_QUEUE, db, client, log, commandKeys,
    workflowBundlePath: bundle.kind === 'prebuilt' ? bundle.path : undefined, catalogFeeds: catalogFeedsOf(config).sources, reportsDir: reportsDirOf(config),
    stickyQueueTimeoutSeconds: config.WORKER_STICKY_QUEUE_TIMEOUT_SECONDS, tuning: workerTuningOf(config),
  });
  log.info({ ...workerTuningOf(config), taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE, commandKeyId: commandKeys.current.keyId, nextCommandKeyId: commandKeys.next?.keyId }, 'worker started');
  // The SDK shuts the worker down on SIGINT/SIGTERM by itself; run() resolves once it has drained.
  await worker.run();
  await db.end();
  await client.connection.close();
  await connection.close();
  log.info('worker stopped');
}

main().catch((err) => {
  console.error(JSON.stringify({ level: 'fatal', msg: 'worker failed', err: String(err?.stack ?? err) }));
  process.exit(1);
});
