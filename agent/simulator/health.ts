/** The machine's services and processes, as the health checks after an install see them. */
import type { AgentCommand, CommandOutcome } from '../../domain/device-protocol';
import { healthCheckProblem, healthCheckResult } from '../../domain/health-check';
import { INVALID_PAYLOAD } from './device-log';
import type { SimulatedMachine } from './machine';

/** The services a simulated machine runs unless told otherwise. */
export const DEFAULT_SERVICES = ['Spooler', 'W32Time', 'Dnscache', 'LanmanServer', 'EventLog', 'wuauserv'];

/** Services that do not start now: those a bad update that is installed (effective) breaks. */
export function stoppedServices(m: SimulatedMachine): string[] {
  const stopped = m.faults.servicesStoppedBy(m.state.installed);
  return m.services.filter((s) => stopped.has(s.toLowerCase()));
}

/**
 * A named health check (domain/health-check.ts), its parameters checked again here: services running
 * (the machine's services, less those a bad update stops) or processes running (a running service's
 * process counts, as does the shell).
 */
export function healthCheck(m: SimulatedMachine, command: AgentCommand<'health_check'>): CommandOutcome {
  const problem = healthCheckProblem(command.payload?.check);
  if (problem) return m.log.refuse(command, { code: INVALID_PAYLOAD, message: `refused by the device: ${problem.field} ${problem.problem}`, retryable: false });
  const check = command.payload.check;
  const stopped = new Set(stoppedServices(m).map((s) => s.toLowerCase()));
  const running = new Map(m.services.map((s) => [s.toLowerCase(), stopped.has(s.toLowerCase()) ? 'stopped' : 'running']));
  if (check.kind === 'processes_running') for (const p of ['explorer', 'svchost', 'lsass']) running.set(p, 'running');
  const result = healthCheckResult(check, running, 'running');
  m.log.record({ commandId: command.id, type: command.type, detail: `${result.healthy ? 'healthy' : 'unhealthy'}: ${result.output}` });
  return { status: 'succeeded', result };
}
