import path from 'node:path';
import { z } from 'zod';

/**
 * The one typed configuration, read once at startup from the environment and passed into factories.
 * Deep modules never read process.env. A wrong value fails here, naming the variable.
 */
const schema = z.object({
  /** PostgreSQL URL; unset means an embedded PostgreSQL under DATA_DIR (dev) */
  DATABASE_URL: z.string().url().optional(),
  /** where `npm start` keeps embedded Postgres and the Temporal dev server's database */
  DATA_DIR: z.string().default('.data'),
  /** an existing Temporal frontend (host:port); unset means start a dev server */
  TEMPORAL_ADDRESS: z.string().optional(),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('patchflow'),
  /** the Temporal CLI binary; else .tools/venv/bin/temporal, then `temporal` on PATH, then the SDK download */
  TEMPORAL_CLI_PATH: z.string().optional(),
  TEMPORAL_TLS: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_API_KEY: z.string().optional(),
  /** dev server ports used by `npm start` */
  TEMPORAL_DEV_PORT: z.coerce.number().int().min(1).max(65535).default(7233),
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
  /**
   * the Temporal Web UI's base URL, for the dashboard's links to workflow histories (e.g.
   * http://localhost:8233); `npm start` defaults it to its dev server's UI, api/main.ts leaves links out without it
   */
  TEMPORAL_UI_URL: z.string().url('must be a URL such as http://localhost:8233').optional(),
  /** the API and agent gateway */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /**
   * processes of api/main.ts serving the API and agent gateway on PORT (node:cluster; each one a
   * replica with its own poll notifier, completer and failed-login counts). 1: no cluster. More than
   * the cores free for it buys nothing: a check-in costs CPU, not waiting (README "Scale")
   */
  GATEWAY_PROCESSES: z.coerce.number().int().min(1).max(64).default(1),
  /**
   * PEM files of the certificate (chain) and private key the API/agent gateway serves HTTPS with; both or
   * neither (neither: plain HTTP, e.g. behind a TLS-terminating proxy). `npm start` makes a dev pair.
   */
  TLS_CERT_PATH: z.string().min(1).optional(),
  TLS_KEY_PATH: z.string().min(1).optional(),
  /** operators' API key (role admin); required outside development */
  PATCHFLOW_API_KEY: z.string().min(16, 'PATCHFLOW_API_KEY must be at least 16 characters').optional(),
  /**
   * how long a workflow task waits on the sticky queue of the worker that ran the workflow last before
   * Temporal gives it to any worker. A worker killed with -9 cannot hand its sticky queue back, so each
   * of its open workflows waits this long: the soak's largest recovery cost (the SDK's 10 s cost a
   * 200-device soak 1,900 device-seconds). 3 s: a live worker polls its sticky queue continuously, so a
   * task still unclaimed after 3 s is on a dead or badly starved worker; the cost of too short is a
   * replay elsewhere, not a failure.
   */
  WORKER_STICKY_QUEUE_TIMEOUT_SECONDS: z.coerce.number().min(0.5).max(600).default(3),
  /**
   * how many workflows the worker keeps in its sticky cache (in memory, ready for their next task
   * without a replay; 0: none). Each costs about 200 KiB of the workflow thread's V8 heap and 130 KiB
   * of the Rust core's (bench open-workflows: 1,000 open installs, all cached, 679 MiB worker RSS; 250
   * cached, 488 MiB). An evicted workflow replays its history (tens of events) on its next task, a few
   * milliseconds, and a device step's next task comes minutes to hours later. 1,000 bounds the worker
   * below 900 MiB (2,000 open installs: 853 MiB); the SDK's own default grows with the heap limit
   * (about 2,300 with Node's default heap on a 24 GB host, past 1 GiB once that many are open).
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100_000).default(1000),
  /** workflow tasks the worker runs at once (the SDK's default 40; at most WORKER_MAX_CACHED_WORKFLOWS) */
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(10_000).optional(),
  /**
   * activities the worker runs at once (the SDK's default 100). A device step holds its slot only
   * until its command is recorded (it completes asynchronously), so this bounds database work, not
   * the number of devices waiting.
   */
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).max(10_000).optional(),
  /** where the worker serves the Temporal SDK's Prometheus metrics, e.g. 0.0.0.0:9464 (unset: off) */
  WORKER_METRICS_ADDRESS: z.string().regex(/^[^:]+:\d+$/, 'must be host:port, e.g. 0.0.0.0:9464').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** how long an agent's long poll waits for a command, in seconds */
  AGENT_POLL_WAIT_SECONDS: z.coerce.number().int().min(1).max(120).default(25),
  /** how often the gateway heartbeats device steps waiting on their device (keep it well under their 120 s heartbeat timeout) */
  COMMAND_KEEPALIVE_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(600).default(30),
  /** how long an enrollment token stays usable after it was issued, in hours (0: no limit) */
  ENROLLMENT_TOKEN_TTL_HOURS: z.coerce.number().min(0).max(87_600).default(168),
  /** how long after enrolling an agent may retry its enrollment (same token and nonce), in seconds */
  ENROLLMENT_RETRY_WINDOW_SECONDS: z.coerce.number().int().min(0).max(86_400).default(600),
  /** how often the result completer sweeps for stored answers Temporal has not accepted yet */
  RESULT_COMPLETER_INTERVAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(15),
  /**
   * how long a device step's attempt may go without a heartbeat before Temporal retries it on another
   * worker (the gateway heartbeats every step whose command it holds, so only a step whose worker died
   * before recording its command times out this early); keep it well above COMMAND_KEEPALIVE_INTERVAL_SECONDS
   */
  STEP_HEARTBEAT_TIMEOUT_SECONDS: z.coerce.number().int().min(2).max(3600).default(120),
  /**
   * a device step that failed an attempt (its device did not answer in time, its worker died) is
   * offered again after this long, doubling up to STEP_RETRY_MAX_SECONDS while the device stays away
   */
  STEP_RETRY_INITIAL_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  STEP_RETRY_MAX_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
  /**
   * a command claimed by a poll and neither answered nor reported on is offered again after this long
   * (for agents that do not say their poll failed); default: the poll wait + 30 s
   */
  COMMAND_CLAIM_LEASE_SECONDS: z.coerce.number().int().min(1).max(86_400).optional(),
  /**
   * a reboot acknowledged this long ago whose device still checks in with the boot id it had then
   * never happened (the agent died first): it is offered again. Longer than the fleet's slowest real
   * restart (updates applied at boot can take many minutes).
   */
  REBOOT_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(86_400).default(1800),
  /** how often such a reboot is offered again before its step fails with RebootNotCompleted */
  REBOOT_MAX_OFFERS: z.coerce.number().int().min(0).max(100).default(3),
  /**
   * PEM file of the Ed25519 key that signs agent commands (PKCS#8 private key; the API/gateway process
   * needs only the public half and accepts an SPKI public key file here). `npm start` generates one
   * under DATA_DIR; required for the worker and API processes.
   */
  COMMAND_SIGNING_KEY_PATH: z.string().min(1).optional(),
  /** the next command key during a rotation: announced to agents (enrollment, trust_keys), not yet used to sign */
  COMMAND_SIGNING_NEXT_KEY_PATH: z.string().min(1).optional(),
  /** the signed catalog feed the server syncs: http(s):// or file:// (npm start: the simulator's feed under DATA_DIR) */
  CATALOG_FEED_URL: z.string().regex(/^(https?|file):\/\//, 'must be an http(s):// or file:// URL').optional(),
  /** the feed's pinned Ed25519 public key (PEM); required with CATALOG_FEED_URL */
  CATALOG_FEED_PUBLIC_KEY_PATH: z.string().optional(),
  /** the id the feed's header must carry */
  CATALOG_FEED_ID: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be 1-63 lower-case letters, digits, ".", "_" or "-"').default('microsoft-update'),
  /** how often the catalog sync schedule runs */
  CATALOG_SYNC_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(10080).default(60),
  /** where offline reports ("CSV - Offline Mode") are written and served from; default DATA_DIR/reports */
  REPORTS_DIR: z.string().min(1).optional(),
  /** how often the alerts Schedule evaluates the alert rules and sends their webhooks */
  ALERTS_INTERVAL_MINUTES: z.coerce.number().int().min(1).max(1440).default(5),
  /** the first wait before a failed alert webhook is tried again (doubling, at most 1 hour); tries before the dead-letter list */
  ALERT_RETRY_BASE_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  ALERT_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(12),
  /** the two-person rule: an action reaching more devices than this waits for a second person's approval */
  TWO_PERSON_DEVICE_THRESHOLD: z.coerce.number().int().min(0).max(10_000_000).default(500),
  /** how long such a request waits for its second person before it expires, in hours */
  APPROVAL_REQUEST_TTL_HOURS: z.coerce.number().min(0.01).max(720).default(24),
  /** the Patchflow cache file source's folder (patch files stored by SHA-256); default DATA_DIR/file-cache */
  FILE_CACHE_DIR: z.string().min(1).optional(),
  /** the cache's size bound: least recently used files go first past it */
  FILE_CACHE_MAX_MB: z.coerce.number().int().min(1).max(10_000_000).default(20_480),
  /** a cached file older than this is fetched from the origin again */
  FILE_CACHE_MAX_AGE_DAYS: z.coerce.number().min(0.01).max(3650).default(30),
  /** number of simulated devices `npm start` runs */
  DEMO_DEVICES: z.coerce.number().int().min(0).max(500).default(12),
});

export type Config = z.infer<typeof schema>;

function checked(c: Config): Config {
  if (Boolean(c.TLS_CERT_PATH) !== Boolean(c.TLS_KEY_PATH)) {
    throw new Error(`invalid configuration: TLS_CERT_PATH and TLS_KEY_PATH go together (${c.TLS_CERT_PATH ? 'TLS_KEY_PATH' : 'TLS_CERT_PATH'} is not set)`);
  }
  if (Boolean(c.CATALOG_FEED_URL) !== Boolean(c.CATALOG_FEED_PUBLIC_KEY_PATH)) {
    throw new Error('invalid configuration: CATALOG_FEED_URL and CATALOG_FEED_PUBLIC_KEY_PATH go together (a feed is only trusted with its pinned key)');
  }
  if (c.WORKER_MAX_CACHED_WORKFLOWS && c.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS && c.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS > c.WORKER_MAX_CACHED_WORKFLOWS) {
    throw new Error(`invalid configuration: WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (${c.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS}) must be at most WORKER_MAX_CACHED_WORKFLOWS (${c.WORKER_MAX_CACHED_WORKFLOWS}): a running workflow task holds its workflow in the cache`);
  }
  if (c.WORKER_MAX_CACHED_WORKFLOWS === 1) {
    throw new Error('invalid configuration: WORKER_MAX_CACHED_WORKFLOWS must be 0 (no cache) or at least 2 (the SDK\'s rule)');
  }
  if (c.STEP_RETRY_INITIAL_SECONDS > c.STEP_RETRY_MAX_SECONDS) {
    throw new Error(`invalid configuration: STEP_RETRY_INITIAL_SECONDS (${c.STEP_RETRY_INITIAL_SECONDS}) must be at most STEP_RETRY_MAX_SECONDS (${c.STEP_RETRY_MAX_SECONDS})`);
  }
  if (c.COMMAND_KEEPALIVE_INTERVAL_SECONDS * 2 > c.STEP_HEARTBEAT_TIMEOUT_SECONDS) {
    throw new Error(`invalid configuration: COMMAND_KEEPALIVE_INTERVAL_SECONDS (${c.COMMAND_KEEPALIVE_INTERVAL_SECONDS}) must be at most half of STEP_HEARTBEAT_TIMEOUT_SECONDS (${c.STEP_HEARTBEAT_TIMEOUT_SECONDS}): a waiting step would time out between keep-alives`);
  }
  return c;
}

/** The gateway's recovery timings and the device steps' heartbeat timeout (api/app.ts RecoveryOptions, InstallTiming). */
export function recoveryConfigOf(config: Pick<Config, 'COMMAND_KEEPALIVE_INTERVAL_SECONDS' | 'RESULT_COMPLETER_INTERVAL_SECONDS' | 'STEP_HEARTBEAT_TIMEOUT_SECONDS' | 'COMMAND_CLAIM_LEASE_SECONDS' | 'REBOOT_TIMEOUT_SECONDS' | 'REBOOT_MAX_OFFERS'
  | 'STEP_RETRY_INITIAL_SECONDS' | 'STEP_RETRY_MAX_SECONDS'>) {
  return {
    recovery: {
      keepAliveIntervalMs: config.COMMAND_KEEPALIVE_INTERVAL_SECONDS * 1000,
      completerIntervalMs: config.RESULT_COMPLETER_INTERVAL_SECONDS * 1000,
      claimLeaseSeconds: config.COMMAND_CLAIM_LEASE_SECONDS,
      stalledReboot: { rebootTimeoutSeconds: config.REBOOT_TIMEOUT_SECONDS, maxOffers: config.REBOOT_MAX_OFFERS },
    },
    installTiming: {
      heartbeatTimeoutSeconds: config.STEP_HEARTBEAT_TIMEOUT_SECONDS,
      retryInitialSeconds: config.STEP_RETRY_INITIAL_SECONDS,
      retryMaxSeconds: config.STEP_RETRY_MAX_SECONDS,
    },
  };
}

/** The worker's cache and slot settings (worker/worker.ts WorkerTuning); unset ones keep the SDK's defaults. */
export function workerTuningOf(config: Pick<Config, 'WORKER_MAX_CACHED_WORKFLOWS' | 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS' | 'WORKER_MAX_CONCURRENT_ACTIVITIES'>) {
  return {
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
  };
}

/** REPORTS_DIR, else DATA_DIR/reports, as an absolute path (the API serves what the worker writes there). */
/** The alerts' schedule and webhook retry policy (api/alert-service.ts AlertsConfig). */
export function alertsConfigOf(config: Pick<Config, 'ALERTS_INTERVAL_MINUTES' | 'ALERT_RETRY_BASE_SECONDS' | 'ALERT_MAX_ATTEMPTS'>) {
  return { intervalMinutes: config.ALERTS_INTERVAL_MINUTES, delivery: { retryBaseSeconds: config.ALERT_RETRY_BASE_SECONDS, maxAttempts: config.ALERT_MAX_ATTEMPTS } };
}

export function reportsDirOf(config: Pick<Config, 'REPORTS_DIR' | 'DATA_DIR'>): string {
  return path.resolve(config.REPORTS_DIR ?? path.join(config.DATA_DIR, 'reports'));
}

/** The Patchflow cache's folder and bounds (api/file-cache.ts). */
export function fileCacheOf(config: Pick<Config, 'FILE_CACHE_DIR' | 'FILE_CACHE_MAX_MB' | 'FILE_CACHE_MAX_AGE_DAYS' | 'DATA_DIR'>) {
  return {
    dir: path.resolve(config.FILE_CACHE_DIR ?? path.join(config.DATA_DIR, 'file-cache')),
    maxBytes: config.FILE_CACHE_MAX_MB * 1024 * 1024,
    maxAgeMs: config.FILE_CACHE_MAX_AGE_DAYS * 86_400_000,
  };
}

/** Reads the configuration, throwing an error that names every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return checked(parsed.data);
}
