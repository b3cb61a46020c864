import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of the API and gateway, on their own registry (several apps can share a process in tests). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'patchflow_' });
  return {
    registry,
    httpRequests: new Histogram({
      name: 'patchflow_http_request_duration_seconds',
      help: 'HTTP requests by route and status (long polls included)',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.005, 0.02, 0.1, 0.5, 2, 10, 30],
      registers: [registry],
    }),
    commandsDelivered: new Counter({
      name: 'patchflow_agent_commands_delivered_total',
      help: 'Device commands handed to agents by long polls',
      registers: [registry],
    }),
    checkIns: new Counter({
      name: 'patchflow_agent_check_ins_total',
      help: 'Device check-ins sent to PostgreSQL (group-committed: see patchflow_agent_check_in_statements_total)',
      registers: [registry],
    }),
    checkInStatements: new Counter({
      name: 'patchflow_agent_check_in_statements_total',
      help: 'Statements that carried the check-ins (check-ins per statement is the group commit\'s batch size)',
      registers: [registry],
    }),
    commandResults: new Counter({
      name: 'patchflow_agent_command_results_total',
      help: 'Results agents posted, by command type and status',
      labelNames: ['type', 'status'] as const,
      registers: [registry],
    }),
    installsStarted: new Counter({
      name: 'patchflow_installs_started_total',
      help: 'Install workflows started through the API',
      registers: [registry],
    }),
    resultsUndelivered: new Gauge({
      name: 'patchflow_agent_results_undelivered',
      help: 'Device answers stored in PostgreSQL that Temporal has not accepted yet (the result completer owes them)',
      registers: [registry],
    }),
    oldestUndeliveredSeconds: new Gauge({
      name: 'patchflow_agent_results_oldest_undelivered_seconds',
      help: 'How long the oldest undelivered device answer has waited since it was stored (0 when none)',
      registers: [registry],
    }),
    resultDeliveryLag: new Histogram({
      name: 'patchflow_agent_result_delivery_lag_seconds',
      help: 'From storing a device answer to the completer handing it to Temporal (answers the gateway could not deliver at once)',
      buckets: [1, 5, 15, 30, 60, 300, 1800, 3600],
      registers: [registry],
    }),
    resultDeliveries: new Counter({
      name: 'patchflow_agent_result_deliveries_total',
      help: 'Deliveries of stored answers to Temporal: delivered, late (the attempt was gone), retry (Temporal unreachable)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    progressHeartbeats: new Counter({
      name: 'patchflow_progress_heartbeats_total',
      help: "Devices' progress reports by how they ended: sent (heartbeated to the step's activity), replaced (held within the heartbeat interval, then a newer report of the command came), superseded (held, then the command's result came)",
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    keepAliveHeartbeats: new Counter({
      name: 'patchflow_command_keepalive_heartbeats_total',
      help: 'Heartbeats the gateway sent for device steps waiting on their device',
      registers: [registry],
    }),
    fileCacheRequests: new Counter({
      name: 'patchflow_file_cache_requests_total',
      help: 'Patch file requests to the Patchflow cache by result: hit, miss (fetched from the origin), corrupt (stored file failed its hash, refetched), refused (origin bytes failed the hash); hit rate = hit / (hit + miss + corrupt)',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    fileCacheBytesServed: new Counter({
      name: 'patchflow_file_cache_served_bytes_total',
      help: 'Bytes of patch files the Patchflow cache served to devices (GET /agent/v1/files/:sha256)',
      registers: [registry],
    }),
    fileCacheOriginBytes: new Counter({
      name: 'patchflow_file_cache_origin_bytes_total',
      help: 'Bytes the Patchflow cache fetched from the catalog origin (each file once while it stays cached)',
      registers: [registry],
    }),
    fileCacheStoredBytes: new Gauge({
      name: 'patchflow_file_cache_stored_bytes',
      help: 'Bytes of patch files held in the Patchflow cache (bounded by FILE_CACHE_MAX_MB)',
      registers: [registry],
    }),
    fileCacheFiles: new Gauge({
      name: 'patchflow_file_cache_files',
      help: 'Patch files held in the Patchflow cache',
      registers: [registry],
    }),
    fileCacheHitRatio: new Gauge({
      name: 'patchflow_file_cache_hit_ratio',
      help: 'Share of cache requests served without fetching from the origin since this process started: hit / (hit + miss + corrupt); 0 before any request',
      registers: [registry],
    }),
    agentsPolling: new Gauge({
      name: 'patchflow_agents_long_polling',
      help: 'Agents currently waiting in a long poll on this replica',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
