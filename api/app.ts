import { createServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import express, { type Express, type RequestHandler, type Router } from 'express';
import type { Logger } from 'pino';
import type { CommandKeyring } from '../config/command-keys';
import type { ServerTls } from '../config/tls';
import type { Db } from '../db/database';
import type { InstallTimingInput } from '../workflows/install.contract';
import { createAgentGateway } from './agent-gateway';
import { pollFastPath } from './poll-fast-path';
import { PatchFileCache, type CacheResult, type FileCacheOptions } from './file-cache';
import { createCommandKeysApi } from './command-keys-api';
import { createCatalogApi } from './catalog-api';
import type { CatalogConfig } from './catalog-service';
import { CommandNotifier } from './command-notifier';
import { auditAuthFailures, authFailureLimiter, claimedDevice, type AuthFailureLimits } from './auth-throttle';
import { refuseControlCharacters } from './control-characters';
import { jsonBody, OPERATOR_BODY_LIMIT } from './request-body';
import { createDocsRouter, createOpenApiRouter } from './openapi-docs';
import { errorMiddleware, notFoundHandler } from './errors';
import { CommandKeepAlive } from './command-keepalive';
import { createMetrics, type Metrics } from './metrics';
import { ResultCompleter } from './result-delivery';
import { undeliveredResults } from '../db/command-repository';
import { createOperatorsApi } from './operators-api';
import { operatorAuth } from './operator-auth';
import { createAccessApi } from './access-api';
import { createApprovalRequestsApi } from './approval-requests-api';
import type { TwoPersonRuleOptions } from './two-person-rule';
import { createSchedulesApi } from './schedules-api';
import { createPoliciesApi } from './policies-api';
import { createReportsApi } from './reports-api';
import { createAlertsApi } from './alerts-api';
import { createReleasesApi } from './releases-api';
import { createPatchTestApi } from './patch-test-api';
import { createHaltApi } from './halt-api';
import { createWhatIfApi } from './what-if-api';
import type { AlertsConfig } from './alert-service';
import type { ScanServiceDeps } from './scan-service';
import type { InitialUpdateDeps } from './initial-update-service';
import { createDashboardConfigApi, createDashboardSite, type LoginCodes } from './dashboard';
import { createFleetSummaryApi } from './fleet-summary-api';
import { ProgressHeartbeats } from './progress-heartbeats';

export interface AppDeps {
  db: Db;
  databaseUrl: string;
  client: Client;
  log: Logger;
  taskQueue: string;
  /**
   * the configured operators' key: the bootstrap admin's (user "admin", key "bootstrap", every
   * client); unset, only personal keys (api/access-api.ts) open the operators' API
   */
  apiKey?: string;
  pollWaitSeconds: number;
  /** the command keys agents pin (config/command-keys.ts); the API announces them and never signs */
  commandKeys: CommandKeyring;
  installTiming?: InstallTimingInput;
  scanTiming?: ScanServiceDeps['scanTiming'];
  initialUpdateRetry?: InitialUpdateDeps['initialUpdateRetry'];
  initialUpdateHistoryLimit?: number;
  rolloutOfflineAfterSeconds?: number;
  /** where offline reports are read from (the worker writes them there) */
  reportsDir: string;
  /** failed authentications allowed per source address before a lockout (429) */
  authFailureLimits?: AuthFailureLimits;
  /** the catalog feeds this server syncs (none: POST /api/v1/catalog/sync answers 404) */
  catalog?: CatalogConfig;
  /** enrollment token lifetime and retry window (GatewayDeps.enrollment) */
  enrollment?: { tokenTtlSeconds?: number; retryWindowSeconds?: number };
  /** the two-person rule: how many devices an action may reach before a second person must approve it (README "Two-person rule") */
  twoPersonRule?: TwoPersonRuleOptions;
  /** Recovery timers (see README "Recovery") */
  recovery?: RecoveryOptions;
  /** alert evaluation interval and webhook retry policy (README "Alerts") */
  alerts?: AlertsConfig;
  /** the operators' web dashboard at / (README "Dashboard") */
  dashboard?: DashboardOptions;
  /** the Patchflow cache file source (README "File sources"); absent: GET /agent/v1/files/:sha256 answers 503 */
  fileCache?: Omit<FileCacheOptions, 'onResult'>;
  /** the devices' progress as activity heartbeats, throttled per command (GatewayDeps.progressHeartbeats) */
  progressHeartbeats?: ProgressHeartbeats;
}

export interface DashboardOptions {
  /** the Temporal Web UI's base URL (TEMPORAL_UI_URL), for links to workflow histories; absent: no links */
  temporalUiUrl?: string;
  /** the built bundle (default web/dist) */
  webDir?: string;
  /** one-time codes for the login link `npm start` prints */
  loginCodes?: LoginCodes;
  /** a device that has not polled for this long shows as offline (default 300 s) */
  offlineAfterSeconds?: number;
}

export interface RecoveryOptions {
  /** how often waiting device steps are heartbeated (default 30 s; keep it well under the steps' heartbeat timeout) */
  keepAliveIntervalMs?: number;
  /** how often the result completer sweeps for undelivered answers (default 15 s) */
  completerIntervalMs?: number;
  /** how often the completer asks whether Temporal is back after a failed delivery (default 1 s) */
  completerProbeIntervalMs?: number;
  /** a claimed command with no answer or progress is offered again after this long (default: poll wait + 30 s) */
  claimLeaseSeconds?: number;
  /** acknowledged reboots that never happened: offered again after this long (default 1,800 s), this often (default 3) */
  stalledReboot?: { rebootTimeoutSeconds?: number; maxOffers?: number };
}

function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpRequests.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  };
}

/** Every router mounted under /api/v1 behind operator authentication (api/route-roles.ts rules each route). */
export function operatorRouters(deps: AppDeps, metrics: Metrics): Router[] {
  return [
    createOpenApiRouter(), createOperatorsApi({ ...deps, metrics }), createPoliciesApi(deps), createSchedulesApi(deps), createCommandKeysApi(deps),
    createCatalogApi(deps), createReportsApi(deps), createAccessApi(deps), createApprovalRequestsApi(deps),
    createAlertsApi(deps), createWhatIfApi(deps), createReleasesApi(deps), createHaltApi(deps), createPatchTestApi(deps),
    createFleetSummaryApi({ ...deps, ...deps.dashboard }),
    createDashboardConfigApi({ temporalUiUrl: deps.dashboard?.temporalUiUrl, namespace: deps.client?.options?.namespace }),
  ];
}

/** The cache, counting each request by result and keeping the hit ratio gauge current. */
function cacheWithMetrics(options: Omit<FileCacheOptions, 'onResult'>, metrics: Metrics): PatchFileCache {
  const counts: Record<CacheResult, number> = { hit: 0, miss: 0, corrupt: 0, refused: 0 };
  return new PatchFileCache({
    ...options,
    onResult: (result) => {
      counts[result]++;
      metrics.fileCacheRequests.inc({ result });
      // A refused fill served nothing: it is neither a hit nor a miss of the ratio.
      const asked = counts.hit + counts.miss + counts.corrupt;
      metrics.fileCacheHitRatio.set(asked === 0 ? 0 : counts.hit / asked);
    },
  });
}

export function createApp(deps: AppDeps, notifier: CommandNotifier, metrics: Metrics, completer?: ResultCompleter): Express {
  return buildApp(deps, notifier, metrics, completer).app;
}

/**
 * What the server answers with: the agents' polls on their own door (api/poll-fast-path.ts) where it
 * can take them, everything else (and every poll it cannot) through the express app.
 */
export function createRequestListener(deps: AppDeps, notifier: CommandNotifier, metrics: Metrics, completer?: ResultCompleter): RequestListener {
  const { app, pollDoor } = buildApp(deps, notifier, metrics, completer);
  return (req, res) => {
    if (!pollDoor(req, res, app)) app(req, res);
  };
}

function buildApp(deps: AppDeps, notifier: CommandNotifier, metrics: Metrics, completer?: ResultCompleter) {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestMetrics(metrics));
  // The URL is checked here; bodies are parsed only once the caller is authenticated (jsonBody below,
  // and in the gateway), so an unauthenticated 5 MB body is refused before it is read.
  app.use(refuseControlCharacters);
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  // Failed authentications are counted per source address (429 past the limit) and audited.
  const operatorsDoor = [
    authFailureLimiter({ ...deps, door: 'operators' }, deps.authFailureLimits),
    auditAuthFailures({ ...deps, door: 'operators' }),
  ];
  app.use(['/api/v1', '/metrics', '/dashboard/login'], ...operatorsDoor);
  // Per address and the device a credential claims: a site's devices share one NAT address.
  const agentsLimiter = authFailureLimiter({ ...deps, door: 'agents', identify: (req) => claimedDevice(req.get('authorization')) }, deps.authFailureLimits);
  app.use('/agent/v1', agentsLimiter, auditAuthFailures({ ...deps, door: 'agents' }));
  // Operators authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`; each route's
  // role and tenant come from api/route-roles.ts.
  const authenticated = operatorAuth(deps);
  const fileCache = deps.fileCache ? cacheWithMetrics(deps.fileCache, metrics) : undefined;
  app.get('/metrics', authenticated, async (_req, res) => {
    metrics.agentsPolling.set(notifier.waiting);
    if (fileCache) {
      const usage = fileCache.usage();
      metrics.fileCacheStoredBytes.set(usage.bytes);
      metrics.fileCacheFiles.set(usage.files);
    }
    const owed = await undeliveredResults(deps.db);
    metrics.resultsUndelivered.set(owed.count);
    metrics.oldestUndeliveredSeconds.set(owed.oldestSeconds);
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  const gateway = createAgentGateway({ ...deps, fileCache, notifier, metrics, completer, pollWaitSeconds: deps.pollWaitSeconds, claimLeaseSeconds: deps.recovery?.claimLeaseSeconds, stalledReboot: deps.recovery?.stalledReboot });
  app.use('/agent/v1', gateway);
  // The docs page is static (Swagger UI's files): the only /api/v1 route without a key.
  app.use('/api/v1', createDocsRouter());
  // Bodies are parsed only once the caller is authenticated: an unauthenticated 5 MB body is refused unread.
  app.use('/api/v1', authenticated, ...jsonBody(OPERATOR_BODY_LIMIT));
  app.use('/api/v1', ...operatorRouters(deps, metrics));
  app.use(createDashboardSite({ db: deps.db, apiKey: deps.apiKey, ...deps.dashboard }));
  app.use(notFoundHandler);
  app.use(errorMiddleware(deps.log));
  const pollDoor = pollFastPath({ gateway, metrics, log: deps.log, recentlyFailed: agentsLimiter.recentlyFailed });
  return { app, pollDoor };
}

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Slow-client limits: how long a client may take to send its headers, and its whole request. */
export interface RequestLimits {
  /** default 20 s */
  headersTimeoutMs?: number;
  /** the whole request, body included (a long poll's wait is not part of it: it has no body); default 30 s */
  requestTimeoutMs?: number;
}

/**
 * Starts the API and gateway on `port` (0: any free port, for tests): HTTPS when `tls` is given
 * (config/tls.ts), else plain HTTP (tests, or behind a TLS-terminating proxy).
 */
export async function startServer(deps: AppDeps, options: { port: number; host?: string; tls?: ServerTls } & RequestLimits): Promise<RunningServer> {
  const notifier = new CommandNotifier(deps.databaseUrl, deps.log.child({ component: 'command-notifier' }));
  await notifier.start();
  const metrics = createMetrics();
  const recoveryDeps = { db: deps.db, client: deps.client, log: deps.log.child({ component: 'recovery' }), metrics };
  // Every replica runs a completer (rows are claimed SKIP LOCKED); the keep-alive runs where the lease is.
  const completer = new ResultCompleter(recoveryDeps, { intervalMs: deps.recovery?.completerIntervalMs, probeIntervalMs: deps.recovery?.completerProbeIntervalMs });
  const keepAlive = new CommandKeepAlive(recoveryDeps, { intervalMs: deps.recovery?.keepAliveIntervalMs });
  const progressHeartbeats = deps.progressHeartbeats ?? new ProgressHeartbeats({ client: deps.client, log: deps.log, metrics });
  const app = createRequestListener({ ...deps, progressHeartbeats }, notifier, metrics, completer);
  const host = options.host ?? '127.0.0.1';
  const requestTimeout = options.requestTimeoutMs ?? 30_000;
  const headersTimeout = Math.min(options.headersTimeoutMs ?? 20_000, requestTimeout);
  // Node checks these limits every connectionsCheckingInterval (30 s by default, which would let a
  // slow body hold a socket twice as long as allowed): check every second, which costs nothing.
  const limits = { requestTimeout, headersTimeout, connectionsCheckingInterval: 1_000 };
  // Over TLS the handshake comes before the headers: a client that never finishes it gets no more time
  // than one that never sends its headers (Node's own handshake timeout is 120 s).
  const server = options.tls
    ? createHttpsServer({ ...limits, cert: options.tls.cert, key: options.tls.key, handshakeTimeout: headersTimeout, minVersion: 'TLSv1.2' }, app)
    : createServer(limits, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => { server.off('error', reject); resolve(); });
  });
  // A long poll holds its response open for up to two minutes once the request is in: idle
  // keep-alive sockets live longer than that, so agents reuse their connection.
  server.keepAliveTimeout = 130_000;
  const { port } = server.address() as AddressInfo;
  completer.start();
  keepAlive.start();
  return {
    url: `${options.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stop: async () => {
      await Promise.all([completer.stop(), keepAlive.stop()]);
      progressHeartbeats.stop();
      await notifier.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
