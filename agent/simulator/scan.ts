/** What Windows Update offers the machine: the scan, and which updates apply yet. */
import type { AgentCommand, CommandOutcome, ScanResult } from '../../domain/device-protocol';
import { catalogFor, findUpdate, normaliseKb } from '../catalog';
import type { SimulatedMachine } from './machine';

/**
 * The prerequisite a KB still waits for, if any: set by the `prerequisites` option, and only while the
 * KB itself is neither installed nor waiting for a restart.
 */
export function missingPrerequisiteOf(m: SimulatedMachine, kb: string): string | undefined {
  const k = normaliseKb(kb);
  const needs = m.prerequisites.get(k);
  if (needs === undefined || m.state.isInstalledOrPending(k)) return undefined;
  return m.state.installed.has(needs) ? undefined : needs;
}

/**
 * Windows does not offer an update that waits for its prerequisite, nor one whose successor is already
 * installed (once March's cumulative update is in, January's is no longer applicable).
 */
export function blockedByPrerequisite(m: SimulatedMachine, kb: string): boolean {
  if (missingPrerequisiteOf(m, kb) !== undefined) return true;
  const successor = findUpdate({ kb })?.supersededBy;
  return successor !== null && successor !== undefined && m.state.installed.has(normaliseKb(successor)) && !m.state.installed.has(kb);
}

/** Applicable KBs that are neither installed nor waiting for a restart (those waiting for a prerequisite excluded). */
export function missingKbs(m: SimulatedMachine): string[] {
  return catalogFor(m.os).map((u) => u.kb).filter((kb) => !m.state.isInstalledOrPending(kb) && !blockedByPrerequisite(m, kb));
}

export function scan(m: SimulatedMachine, command: AgentCommand): CommandOutcome {
  // An update loop: the scan after the one that confirmed the install finds it missing again.
  for (const kb of m.faults.reofferedAtScan(m.state.installed)) {
    m.state.installed.delete(kb);
    m.log.record({ commandId: command.id, type: 'update-loop', kb, detail: `${kb} is offered again after its install reported success` });
  }
  // An update waiting for its prerequisite is not applicable yet: Windows does not report it.
  const updates = catalogFor(m.os).filter((u) => !blockedByPrerequisite(m, u.kb)).map(({ appliesTo: _appliesTo, ...u }) => ({ ...u, installed: m.state.installed.has(u.kb) }));
  const result: ScanResult = {
    bootId: m.state.bootId,
    updates,
    rebootPending: m.state.isRebootPending(),
    freeDiskBytes: m.state.freeDiskBytes(),
    scannedAt: m.now().toISOString(),
  };
  m.log.record({ commandId: command.id, type: command.type, detail: `${updates.length} applicable, ${updates.filter((u) => !u.installed).length} missing` });
  return { status: 'succeeded', result };
}
