import { Role } from '../domain/roles';

/**
 * How a route's target is matched against the key's clients (its tenant):
 * - `global`: catalog data every client shares (patches, KB overrides, feeds): any key.
 * - `all-clients`: the route changes or shows every client at once (a new client, approval across
 *   all policies, a KB override, key rotation, users and keys): keys for all clients only (403).
 * - `device` / `site` / `client` / `policy` / `schedule` / `report` / `request`: the path parameter names one;
 *   another tenant's is a 404, exactly like one that does not exist, so ids do not leak.
 * - `listed`: a list, filtered to the key's clients by the handler.
 * - `body`: the target is in the body (a site, a scope); the handler checks it (api/tenancy.ts).
 */
export const TenantRule = {
  Global: 'global',
  AllClients: 'all-clients',
  Device: 'device',
  Client: 'client',
  Policy: 'policy',
  Schedule: 'schedule',
  Report: 'report',
  Request: 'request',
  ReleasePlan: 'release-plan',
  Site: 'site',
  Listed: 'listed',
  Body: 'body',
} as const;
export type TenantRule = (typeof TenantRule)[keyof typeof TenantRule];

export interface RouteRule {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** express path under /api/v1 (or /metrics), parameters as `:name` */
  path: string;
  role: Role;
  tenant: TenantRule;
  /** the path parameter the tenant rule reads (device, client, policy, schedule, report, request) */
  param?: string;
}

const { Viewer: V, Operator: O, Approver: A, Admin: ADM } = Role;
const T = TenantRule;

/**
 * The one table of what each operators' route needs: the authentication middleware enforces it and
 * the BOLA matrix test (test/integration/access-matrix.test.ts) derives its expectations from it. A
 * route missing here is refused (404) however it is mounted, and a test checks every mounted route is here.
 */
export const ROUTE_ROLES: readonly RouteRule[] = [
  { method: 'GET', path: '/metrics', role: V, tenant: T.AllClients },

  // ---- fleet: clients, sites, devices (api/operators-api.ts)
  { method: 'POST', path: '/clients', role: ADM, tenant: T.AllClients },
  { method: 'GET', path: '/clients', role: V, tenant: T.Listed },
  { method: 'POST', path: '/clients/:clientId/sites', role: ADM, tenant: T.Client, param: 'clientId' },
  { method: 'GET', path: '/sites', role: V, tenant: T.Listed },
  { method: 'PATCH', path: '/sites/:siteId', role: ADM, tenant: T.Site, param: 'siteId' },
  { method: 'POST', path: '/devices', role: ADM, tenant: T.Body },
  { method: 'GET', path: '/devices', role: V, tenant: T.Listed },
  { method: 'GET', path: '/devices/:deviceId', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'PATCH', path: '/devices/:deviceId', role: ADM, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/credential/revoke', role: ADM, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/enrollment-token', role: ADM, tenant: T.Device, param: 'deviceId' },
  { method: 'DELETE', path: '/devices/:deviceId', role: ADM, tenant: T.Device, param: 'deviceId' },
  // an operator fixed what an automatic rollback could not (issue 14 part 6)
  { method: 'POST', path: '/devices/:deviceId/needs-attention/clear', role: O, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/devices/:deviceId/patches', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/installs', role: O, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/devices/:deviceId/installs/:key', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/installs/:key/cancel', role: O, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/initial-update', role: O, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/devices/:deviceId/initial-update', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/initial-update/cancel', role: O, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/scans', role: O, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/devices/:deviceId/patch-test', role: O, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/devices/:deviceId/patch-test', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/devices/:deviceId/scans/:key', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/devices/:deviceId/last-scan', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/devices/:deviceId/approvals', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'POST', path: '/scans', role: O, tenant: T.Body },
  { method: 'GET', path: '/audit', role: V, tenant: T.Listed },

  // ---- approval policies, approvals, KB overrides, actions by scope (api/policies-api.ts)
  { method: 'POST', path: '/policies', role: A, tenant: T.AllClients },
  { method: 'GET', path: '/policies', role: V, tenant: T.Listed },
  { method: 'GET', path: '/policies/:id', role: V, tenant: T.Policy, param: 'id' },
  { method: 'PATCH', path: '/policies/:id', role: A, tenant: T.Policy, param: 'id' },
  { method: 'DELETE', path: '/policies/:id', role: A, tenant: T.Policy, param: 'id' },
  { method: 'GET', path: '/policies/:id/members', role: V, tenant: T.Policy, param: 'id' },
  { method: 'POST', path: '/policies/:id/members', role: A, tenant: T.Policy, param: 'id' },
  { method: 'DELETE', path: '/policies/:id/members', role: A, tenant: T.Policy, param: 'id' },
  { method: 'PUT', path: '/policies/:id/defaults', role: A, tenant: T.Policy, param: 'id' },
  { method: 'DELETE', path: '/policies/:id/defaults', role: A, tenant: T.Policy, param: 'id' },
  { method: 'PUT', path: '/policies/:id/approvals', role: A, tenant: T.Policy, param: 'id' },
  { method: 'PUT', path: '/patches/approval', role: A, tenant: T.AllClients },
  { method: 'POST', path: '/policies/:id/copy-approvals', role: A, tenant: T.Policy, param: 'id' },
  { method: 'GET', path: '/policies/:id/summary', role: V, tenant: T.Policy, param: 'id' },
  { method: 'GET', path: '/patches', role: V, tenant: T.Global },
  { method: 'GET', path: '/kb-overrides', role: V, tenant: T.Global },
  { method: 'PUT', path: '/kb-overrides/:kb', role: A, tenant: T.AllClients },
  { method: 'DELETE', path: '/kb-overrides/:kb', role: A, tenant: T.AllClients },
  { method: 'GET', path: '/patch-actions', role: V, tenant: T.Listed },
  { method: 'PUT', path: '/patch-actions', role: A, tenant: T.Body },

  // ---- release plans and releases through rings (api/releases-api.ts)
  { method: 'POST', path: '/release-plans', role: A, tenant: T.Body },
  { method: 'GET', path: '/release-plans', role: V, tenant: T.Listed },
  { method: 'GET', path: '/release-plans/:planId', role: V, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'DELETE', path: '/release-plans/:planId', role: A, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'POST', path: '/release-plans/:planId/releases', role: A, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'GET', path: '/release-plans/:planId/releases', role: V, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'GET', path: '/release-plans/:planId/releases/:releaseId', role: V, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'POST', path: '/release-plans/:planId/releases/:releaseId/promote', role: A, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'POST', path: '/release-plans/:planId/releases/:releaseId/resume', role: A, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'POST', path: '/release-plans/:planId/releases/:releaseId/retry', role: A, tenant: T.ReleasePlan, param: 'planId' },
  { method: 'POST', path: '/release-plans/:planId/releases/:releaseId/abort', role: A, tenant: T.ReleasePlan, param: 'planId' },

  // ---- schedules (api/schedules-api.ts)
  { method: 'POST', path: '/schedules', role: A, tenant: T.Body },
  { method: 'GET', path: '/schedules', role: V, tenant: T.Listed },
  { method: 'GET', path: '/schedules/:scheduleId', role: V, tenant: T.Schedule, param: 'scheduleId' },
  { method: 'PATCH', path: '/schedules/:scheduleId', role: A, tenant: T.Schedule, param: 'scheduleId' },
  { method: 'DELETE', path: '/schedules/:scheduleId', role: A, tenant: T.Schedule, param: 'scheduleId' },
  { method: 'POST', path: '/schedules/:scheduleId/pause', role: A, tenant: T.Schedule, param: 'scheduleId' },
  { method: 'POST', path: '/schedules/:scheduleId/resume', role: A, tenant: T.Schedule, param: 'scheduleId' },
  { method: 'POST', path: '/schedules/:scheduleId/trigger', role: O, tenant: T.Schedule, param: 'scheduleId' },
  { method: 'POST', path: '/schedules/:scheduleId/backfill', role: A, tenant: T.Schedule, param: 'scheduleId' },
  { method: 'GET', path: '/schedules/:scheduleId/rollouts', role: V, tenant: T.Schedule, param: 'scheduleId' },

  // ---- command keys, catalog (api/command-keys-api.ts, api/catalog-api.ts)
  { method: 'GET', path: '/command-keys', role: V, tenant: T.AllClients },
  { method: 'POST', path: '/command-keys/rotate', role: ADM, tenant: T.AllClients },
  { method: 'GET', path: '/catalog/feeds', role: V, tenant: T.Global },
  { method: 'POST', path: '/catalog/sync', role: O, tenant: T.Global },
  { method: 'GET', path: '/catalog/feeds/:feedId/syncs/:runId', role: V, tenant: T.Global },
  { method: 'POST', path: '/catalog/import', role: ADM, tenant: T.AllClients },

  // ---- reports (api/reports-api.ts); the overview's clientId is checked by the handler
  { method: 'GET', path: '/reports/patch-overview', role: V, tenant: T.Listed },
  { method: 'GET', path: '/reports', role: V, tenant: T.Listed },
  { method: 'GET', path: '/reports/:reportId', role: V, tenant: T.Report, param: 'reportId' },
  { method: 'GET', path: '/reports/:reportId/download', role: V, tenant: T.Report, param: 'reportId' },

  // ---- people and keys (api/access-api.ts): a key for some clients could otherwise mint one for all
  { method: 'POST', path: '/users', role: ADM, tenant: T.AllClients },
  { method: 'GET', path: '/users', role: ADM, tenant: T.AllClients },
  { method: 'POST', path: '/users/:userId/keys', role: ADM, tenant: T.AllClients },
  { method: 'GET', path: '/keys', role: ADM, tenant: T.AllClients },
  { method: 'POST', path: '/keys/:keyId/revoke', role: ADM, tenant: T.AllClients },
  // a person sees who they are, whatever their role
  { method: 'GET', path: '/whoami', role: V, tenant: T.Global },
  // the contract (api/openapi-docs.ts): the same document for every key
  { method: 'GET', path: '/openapi.json', role: V, tenant: T.Global },

  // ---- the kill switch (api/halt-api.ts): a fleet-wide halt stops every client's rollouts, so it is
  // for all-client keys; halting must be easy (operator), resuming is a decision (approver)
  { method: 'GET', path: '/halt', role: V, tenant: T.AllClients },
  { method: 'POST', path: '/halt', role: O, tenant: T.AllClients },
  { method: 'POST', path: '/halt/resume', role: A, tenant: T.AllClients },

  // ---- alerts (api/alerts-api.ts): rules may span clients and post fleet data to a webhook, so
  // they are for all-client keys until rules are filtered per tenant
  { method: 'POST', path: '/alert-rules', role: A, tenant: T.AllClients },
  { method: 'GET', path: '/alert-rules', role: V, tenant: T.AllClients },
  { method: 'GET', path: '/alert-rules/:ruleId', role: V, tenant: T.AllClients },
  { method: 'PATCH', path: '/alert-rules/:ruleId', role: A, tenant: T.AllClients },
  { method: 'DELETE', path: '/alert-rules/:ruleId', role: A, tenant: T.AllClients },
  { method: 'GET', path: '/alerts', role: V, tenant: T.AllClients },
  { method: 'POST', path: '/alerts/evaluate', role: O, tenant: T.AllClients },
  { method: 'GET', path: '/alerts/dead-letters', role: V, tenant: T.AllClients },
  { method: 'POST', path: '/alerts/dead-letters/:deliveryId/retry', role: A, tenant: T.AllClients },

  // ---- the dashboard's read models (api/fleet-summary-api.ts, api/dashboard.ts): lists and figures
  // are filtered to the key's clients by their handlers
  { method: 'GET', path: '/fleet/summary', role: V, tenant: T.Listed },
  { method: 'GET', path: '/fleet/patch-status-counts', role: V, tenant: T.AllClients },
  { method: 'POST', path: '/patch-management/preview', role: V, tenant: T.Body },
  { method: 'GET', path: '/rollouts/progress', role: V, tenant: T.AllClients },
  { method: 'GET', path: '/devices/:deviceId/workflows', role: V, tenant: T.Device, param: 'deviceId' },
  { method: 'GET', path: '/dashboard/config', role: V, tenant: T.Global },

  // ---- what-if (api/what-if-api.ts): a read, but over every schedule's devices
  { method: 'POST', path: '/what-if', role: V, tenant: T.AllClients },

  // ---- two-person rule (api/approval-requests-api.ts): the role to decide is the action's own
  { method: 'GET', path: '/approval-requests', role: V, tenant: T.Listed },
  { method: 'GET', path: '/approval-requests/:requestId', role: V, tenant: T.Request, param: 'requestId' },
  { method: 'POST', path: '/approval-requests/:requestId/approve', role: O, tenant: T.Request, param: 'requestId' },
  { method: 'POST', path: '/approval-requests/:requestId/refuse', role: O, tenant: T.Request, param: 'requestId' },
];

const segmentsOf = (p: string) => p.split('/').filter(Boolean);

/** The rule for a request's method and path (relative to /api/v1, or /metrics), or undefined. */
export function ruleFor(method: string, path: string): { rule: RouteRule; params: Record<string, string> } | undefined {
  const given = segmentsOf(path);
  for (const rule of ROUTE_ROLES) {
    if (rule.method !== method && !(method === 'HEAD' && rule.method === 'GET')) continue;
    const pattern = segmentsOf(rule.path);
    if (pattern.length !== given.length) continue;
    const params: Record<string, string> = {};
    const matches = pattern.every((seg, i) => {
      if (seg.startsWith(':')) {
        params[seg.slice(1)] = given[i];
        return true;
      }
      return seg === given[i];
    });
    // A literal segment wins over a parameter (GET /reports/patch-overview over /reports/:reportId): literals come first above.
    if (matches) return { rule, params };
  }
  return undefined;
}
