import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import express, { type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { Db } from '../db/database';
import type { InstallTimingInput } from '../workflows/install.contract';
import { createAgentGateway } from './agent-gateway';
import { createCatalogApi } from './catalog-api';
import type { CatalogConfig } from './catalog-service';
import { CommandNotifier } from './command-notifier';
import { sameString } from './credentials';
import { errorMiddleware, notFoundHandler } from './errors';
import { createMetrics, type Metrics } from './metrics';
import { createOperatorsApi } from './operators-api';
import { createSchedulesApi } from './schedules-api';
import { createPoliciesApi } from './policies-api';
import type { ScanServiceDeps } from './scan-service';
import type { InitialUpdateDeps } from './initial-update-service';

export interface AppDeps {
  db: Db;
  databaseUrl: string;
  client: Client;
  log: Logger;
  taskQueue: string;
  /** the operators' API key (role admin) */
  apiKey: string;
  pollWaitSeconds: number;
  installTiming?: InstallTimingInput;
  scanTiming?: ScanServiceDeps['scanTiming'];
  initialUpdateRetry?: InitialUpdateDeps['initialUpdateRetry'];
  initialUpdateHistoryLimit?: number;
  rolloutOfflineAfterSeconds?: number;
  /** the catalog feeds this server syncs (none: POST /api/v1/catalog/sync answers 404) */
  catalog?: CatalogConfig;
}

/** Operators authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function operatorAuth(apiKey: string): RequestHandler {
  return (req, res, next) => {
    const presented = req.get('x-api-key') ?? (req.get('authorization') ?? '').replace(/^Bearer\s+/i, '');
    if (!presented) {
      res.status(401).json({ error: 'missing API key (Authorization: Bearer <key> or X-API-Key)' });
      return;
    }
    if (!sameString(presented, apiKey)) {
      res.status(401).json({ error: 'API key is not valid' });
      return;
    }
    res.locals.actor = 'api-key:admin';
    next();
  };
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

export function createApp(deps: AppDeps, notifier: CommandNotifier, metrics: Metrics): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestMetrics(metrics));
  app.use(express.json({ limit: '5mb' }));
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/metrics', operatorAuth(deps.apiKey), async (_req, res) => {
    metrics.agentsPolling.set(notifier.waiting);
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use('/agent/v1', createAgentGateway({ ...deps, notifier, metrics, pollWaitSeconds: deps.pollWaitSeconds }));
  app.use('/api/v1', operatorAuth(deps.apiKey), createOperatorsApi({ ...deps, metrics }));
  app.use('/api/v1', operatorAuth(deps.apiKey), createPoliciesApi(deps));
  app.use('/api/v1', operatorAuth(deps.apiKey), createSchedulesApi(deps));
  app.use('/api/v1', operatorAuth(deps.apiKey), createCatalogApi(deps));
  app.use(notFoundHandler);
  app.use(errorMiddleware(deps.log));
  return app;
}

export interface RunningServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts the API and gateway on `port` (0: any free port, for tests). */
export async function startServer(deps: AppDeps, options: { port: number; host?: string }): Promise<RunningServer> {
  const notifier = new CommandNotifier(deps.databaseUrl, deps.log.child({ component: 'command-notifier' }));
  await notifier.start();
  const app = createApp(deps, notifier, createMetrics());
  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port, host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  // Long polls hold a request open for up to two minutes: keep idle sockets longer than that.
  server.keepAliveTimeout = 130_000;
  server.headersTimeout = 131_000;
  server.requestTimeout = 0;
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    port,
    stop: async () => {
      await notifier.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
