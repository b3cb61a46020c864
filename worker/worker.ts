import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker, type LogLevel, type NativeConnection } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../activities';
import type { CommandKeyring } from '../config/command-keys';
import type { CatalogFeedSources } from '../activities/catalog-activities';
import type { Db } from '../db/database';
import { createApprovedActionRunner } from '../api/approved-actions';

let runtimeInstalled = false;

/**
 * Routes the SDK's own logs (worker lifecycle, workflow `log` calls, activity logs) into pino, so the
 * worker writes one structured stream, and, given `metricsBindAddress` ("0.0.0.0:9464"), serves the
 * SDK's Prometheus metrics (task latencies, slots, activity outcomes) on it. The Runtime is
 * process-wide and can be installed once.
 */
export function installRuntimeLogger(log: Logger, options: { metricsBindAddress?: string } = {}): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdkLog = log.child({ component: 'temporal-sdk' });
  const pinoLevel: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error',
  };
  try {
    Runtime.install({
      logger: new DefaultLogger('INFO', (entry) => {
        const { message, meta, level } = entry;
        sdkLog[pinoLevel[level]](meta ?? {}, message);
      }),
      ...(options.metricsBindAddress
        ? { telemetryOptions: { metrics: { prometheus: { bindAddress: options.metricsBindAddress, countersTotalSuffix: true } } } }
        : {}),
    });
  } catch {
    // A Runtime already exists in this process (e.g. created by a test environment): keep it.
  }
}

export interface PatchflowWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  db: Db;
  client: Client;
  log: Logger;
  /** signs every agent command (config/command-keys.ts loadCommandKeys) */
  commandKeys: CommandKeyring;
  /** where the offline report activity writes its files (config: reportsDirOf) */
  reportsDir: string;
  /** a prebuilt workflow bundle (tests build it once); absent: bundle workflows/ now */
  workflowBundlePath?: string;
  /** the catalog feeds this worker may sync, with their pinned public keys (default: none) */
  catalogFeeds?: CatalogFeedSources;
  /** config WORKER_STICKY_QUEUE_TIMEOUT_SECONDS (3 s there; absent here: the SDK's 10 s) */
  stickyQueueTimeoutSeconds?: number;
  /** the worker's memory and slots (config WORKER_MAX_CACHED_WORKFLOWS and friends, workerTuningOf); absent: the SDK's defaults */
  tuning?: WorkerTuning;
}

/** The worker's cache and slot settings; each absent one keeps the SDK's default. */
export interface WorkerTuning {
  /** workflows kept in the sticky cache (absent: the SDK's default, sized from the heap limit; config default 1,000) */
  maxCachedWorkflows?: number;
  /** workflow tasks at once (default 40) */
  maxConcurrentWorkflowTaskExecutions?: number;
  /** activities at once (default 100) */
  maxConcurrentActivityTaskExecutions?: number;
}

const definedOnly = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/** The Patchflow worker: every workflow in workflows/ and every activity over real dependencies. */
export async function createPatchflowWorker(o: PatchflowWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: o.connection,
    namespace: o.namespace,
    taskQueue: o.taskQueue,
    ...(o.stickyQueueTimeoutSeconds === undefined ? {} : { stickyQueueScheduleToStartTimeout: `${o.stickyQueueTimeoutSeconds} seconds` }),
    ...definedOnly(o.tuning ?? {}),
    ...(o.workflowBundlePath
      ? { workflowBundle: { codePath: o.workflowBundlePath } }
      : { workflowsPath: require.resolve('../workflows') }),
    activities: createActivities({
      db: o.db, client: o.client, log: o.log.child({ component: 'activities' }), commandKeys: o.commandKeys, catalogFeeds: o.catalogFeeds, reportsDir: o.reportsDir,
      // An approved two-person request runs the operators' API's own action code (api/approved-actions.ts).
      runApprovedAction: createApprovedActionRunner({ db: o.db, client: o.client, log: o.log.child({ component: 'approved-actions' }), taskQueue: o.taskQueue }),
    }),
  });
}
