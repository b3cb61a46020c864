/**
 * Health checks (issue 14 part 6): after an install's post-scan, the device is asked whether it is
 * still healthy, and a failed check rolls back what the install just installed.
 *
 * A check is never a script: it is one of a fixed, named set of checks every agent knows, with
 * parameters that are validated here (by the API before it is stored, and again by each agent before
 * it runs anything). No agent builds a shell line from them.
 * - `services_running`: each named service is running (Windows: Get-Service; the simulator models it).
 * - `processes_running`: a process of each name is running (Linux: /proc/<pid>/comm; no systemd needed).
 * Imported by workflow code: pure, no clock.
 */

export const HealthCheckKind = {
  ServicesRunning: 'services_running',
  ProcessesRunning: 'processes_running',
} as const;
export type HealthCheckKind = (typeof HealthCheckKind)[keyof typeof HealthCheckKind];

export type HealthCheckSpec =
  | { kind: 'services_running'; services: string[] }
  | { kind: 'processes_running'; processes: string[] };

/** What a schedule (or a manual install) asks for: the check, and how long services get to start first. */
export interface HealthCheckSettings {
  check: HealthCheckSpec;
  /** seconds to wait after the post-scan (and after a rollback's restart) before checking; default 0 */
  settleSeconds?: number;
}

/** A service or process name: letters, digits and `_ . @ -`, as Windows service names and Linux comm names are. */
export const HEALTH_CHECK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}$/;
export const MAX_HEALTH_CHECK_NAMES = 20;
export const MAX_SETTLE_SECONDS = 3600;

/** The names a check looks at. */
export function checkNames(check: HealthCheckSpec): string[] {
  return check.kind === 'services_running' ? check.services : check.processes;
}

/** Why a check cannot be run (the field and the problem), or undefined: the API and every agent use it. */
export function healthCheckProblem(value: unknown): { field: string; problem: string } | undefined {
  if (!value || typeof value !== 'object') return { field: 'check', problem: 'must be an object with a kind' };
  const v = value as { kind?: unknown; services?: unknown; processes?: unknown };
  const field = v.kind === HealthCheckKind.ServicesRunning ? 'services' : v.kind === HealthCheckKind.ProcessesRunning ? 'processes' : undefined;
  if (!field) return { field: 'check.kind', problem: `must be ${Object.values(HealthCheckKind).join(' or ')}, got ${JSON.stringify(v.kind)}` };
  const names = (v as Record<string, unknown>)[field];
  if (!Array.isArray(names) || names.length === 0 || names.length > MAX_HEALTH_CHECK_NAMES) {
    return { field: `check.${field}`, problem: `must list 1 to ${MAX_HEALTH_CHECK_NAMES} names` };
  }
  for (const [i, n] of names.entries()) {
    if (typeof n !== 'string' || !HEALTH_CHECK_NAME.test(n)) {
      return { field: `check.${field}[${i}]`, problem: 'must be a name of letters, digits and _ . @ - (at most 80), starting with a letter or digit' };
    }
  }
  if (new Set(names.map((n: string) => n.toLowerCase())).size !== names.length) return { field: `check.${field}`, problem: 'must not repeat a name' };
  for (const k of Object.keys(v)) {
    if (k !== 'kind' && k !== field) return { field: `check.${k}`, problem: `is not a field of a ${String(v.kind)} check` };
  }
  return undefined;
}

export interface HealthCheckPayload {
  check: HealthCheckSpec;
  /** why it runs ("after install", "after rollback") */
  reason: string;
}

/** One name's state: "running", "stopped", "not found", ... as the device reports it. */
export interface HealthCheckItem {
  name: string;
  ok: boolean;
  state: string;
}

export interface HealthCheckResult {
  healthy: boolean;
  /** one line per name, for operators: "Spooler: stopped (expected running)" */
  output: string;
  items: HealthCheckItem[];
}

/** The result of a check from each name's state; healthy only when every name is ok. */
export function healthCheckResult(check: HealthCheckSpec, states: ReadonlyMap<string, string>, okState: string): HealthCheckResult {
  const items = checkNames(check).map((name) => {
    const state = states.get(name.toLowerCase()) ?? 'not found';
    return { name, ok: state === okState, state };
  });
  return {
    healthy: items.every((i) => i.ok),
    output: items.map((i) => `${i.name}: ${i.state}${i.ok ? '' : ` (expected ${okState})`}`).join('; '),
    items,
  };
}

/** "services running: Spooler, W32Time": a check in an operator's words. */
export function describeHealthCheck(check: HealthCheckSpec): string {
  return `${check.kind === 'services_running' ? 'services' : 'processes'} running: ${checkNames(check).join(', ')}`;
}

/** The reason a rolled-back patch carries (its last error): what failed, and what the check said. */
export function rolledBackReason(output: string): string {
  return `rolled back: health check failed: ${output}`;
}

/**
 * Each service's state from Get-Service's rows (the Windows executor): "Running" is "running",
 * "StartPending" "start pending", a service that does not exist "not found".
 */
export function windowsServiceStates(rows: readonly { name: string; found: boolean; status: string | null }[]): Map<string, string> {
  return new Map(rows.map((r) => [r.name.toLowerCase(),
    !r.found ? 'not found' : (r.status ?? 'unknown').replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase()]));
}
