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
    agentsPolling: new Gauge({
      name: 'patchflow_agents_long_polling',
      help: 'Agents currently waiting in a long poll on this replica',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
