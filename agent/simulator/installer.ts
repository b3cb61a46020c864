/**
 * Running and removing updates (wusa.exe and its exit codes): the installed state is re-checked before
 * every run, the file's hash is checked right before it runs, and what each exit code means comes from
 * the domain's table (domain/exit-codes.ts), as the server reads it.
 */
import { readFile } from 'node:fs/promises';
import { CommandErrorCode, RebootBehavior, type AgentCommand, type CommandOutcome, type ExecutePayload } from '../../domain/device-protocol';
import { ExecutionOutcome, ExitCode, formatExitCode, interpretExitCode } from '../../domain/exit-codes';
import { FolderRole } from '../../domain/folders';
import { findUpdate, normaliseKb, sha256Of, type CatalogUpdate } from '../catalog';
import { fileExists, windowsJoin } from '../sandbox';
import { sleep } from '../timing';
import { safeFolder } from './folders';
import type { SimulatedMachine } from './machine';
import { blockedByPrerequisite, missingPrerequisiteOf } from './scan';

const outcomeOf = (code: number): ExecutionOutcome => interpretExitCode(code).outcome;
/** Installed and effective now (0, or Windows saying it was already there). */
const installsNow = (code: number): boolean => INSTALLED_NOW.has(outcomeOf(code));
const INSTALLED_NOW = new Set<ExecutionOutcome>([ExecutionOutcome.Installed, ExecutionOutcome.AlreadyInstalled]);
/** Installed; effective after the next restart (3010, 1641, 0x00240005). */
export const pendsReboot = (code: number): boolean => outcomeOf(code) === ExecutionOutcome.InstalledPendingReboot;
/** Another installation held the lock: nothing was installed, and a later delivery may run the step. */
export const isBusy = (code: number): boolean => outcomeOf(code) === ExecutionOutcome.Busy;

interface ExecuteAnswer {
  kb: string;
  exitCode: number;
  durationMs: number;
  alreadyInstalled: boolean;
  /** what the device's log says */
  detail: string;
}

function answerExecute(m: SimulatedMachine, command: AgentCommand, { kb, exitCode, durationMs, alreadyInstalled, detail }: ExecuteAnswer): CommandOutcome {
  m.log.record({ commandId: command.id, type: command.type, kb, detail });
  return { status: 'succeeded', result: { kb, exitCode: exitCode >>> 0, durationMs, alreadyInstalled } };
}

export async function execute(m: SimulatedMachine, command: AgentCommand<'execute'>): Promise<CommandOutcome> {
  const { patch }: ExecutePayload = command.payload;
  const kb = normaliseKb(patch.kb);
  const installFolder = safeFolder(command.payload.installFolder, FolderRole.Install);
  if (typeof installFolder !== 'string') return m.log.refuse(command, { code: CommandErrorCode.UnsafeFolder, message: installFolder.refused, retryable: false, kb });
  const file = m.sandbox.localFile(installFolder, patch.fileName);
  const windowsPath = windowsJoin(installFolder, patch.fileName);
  if (!(await fileExists(file))) {
    return m.log.refuse(command, { code: CommandErrorCode.FileMissing, message: `${windowsPath} is missing; copy ${kb} again`, retryable: true, kb });
  }
  // Checked again right before running: nothing runs whose hash does not match the catalog, even if
  // the file changed between download and execute.
  const actual = sha256Of(await readFile(file));
  const expected = patch.sha256.toLowerCase();
  if (actual !== expected) {
    return m.log.refuse(command, { code: CommandErrorCode.HashMismatch, message: `SHA-256 of ${windowsPath} is ${actual}, catalog says ${expected}; not executed`, retryable: false, kb });
  }

  /** The installer does not run: Windows answers at once. */
  const notRun = (answer: Omit<ExecuteAnswer, 'kb' | 'durationMs'>): CommandOutcome => answerExecute(m, command, { kb, durationMs: 0, ...answer });
  const update = findUpdate(patch);
  if (!update || !update.appliesTo.includes(m.os)) return notRun({ exitCode: ExitCode.NotApplicable, alreadyInstalled: false, detail: `${kb} does not apply to ${m.os}` });
  // Installed state is re-checked before every run: a retry whose first run did install must not run again.
  if (m.state.isInstalledOrPending(kb)) return notRun({ exitCode: ExitCode.AlreadyInstalled, alreadyInstalled: true, detail: `${kb} is already installed; installer not run` });
  const prerequisite = missingPrerequisiteOf(m, kb);
  if (prerequisite !== undefined) {
    return notRun({ exitCode: ExitCode.NotApplicable, alreadyInstalled: false, detail: `${kb} is not applicable until ${prerequisite} is installed; installer not run` });
  }
  if (blockedByPrerequisite(m, kb)) {
    return notRun({ exitCode: ExitCode.NotApplicable, alreadyInstalled: false, detail: `${kb} is superseded by an installed update; installer not run` });
  }

  const exitCode = nextExitCode(m, update);
  if (!isBusy(exitCode)) m.state.executions.set(kb, (m.state.executions.get(kb) ?? 0) + 1);
  await sleep(m.executeDurationMs);
  if (installsNow(exitCode)) m.state.installed.add(kb);
  else if (pendsReboot(exitCode)) m.state.awaitingReboot.add(kb);
  if (installsNow(exitCode) || pendsReboot(exitCode)) m.faults.installReported(kb);
  return answerExecute(m, command, { kb, exitCode, durationMs: m.executeDurationMs, alreadyInstalled: false, detail: `installer exited ${formatExitCode(exitCode)}` });
}

/** The configured sequence first; then a seeded random failure; then what the update normally does. */
function nextExitCode(m: SimulatedMachine, update: CatalogUpdate): number {
  const queued = m.faults.nextExitCode(update.kb);
  if (queued !== undefined) return queued;
  if (m.faults.randomFailure()) return ExitCode.InstallFailure;
  return update.rebootBehavior === RebootBehavior.AlwaysRequiresReboot ? ExitCode.RebootRequired : ExitCode.Success;
}

/** wusa /uninstall: removes an installed, uninstallable update; re-checks installed state first. */
export async function uninstall(m: SimulatedMachine, command: AgentCommand<'uninstall'>): Promise<CommandOutcome> {
  const kb = normaliseKb(command.payload.kb);
  const update = findUpdate({ kb, updateId: command.payload.updateId });
  const answer = ({ exitCode, notInstalled, detail }: { exitCode: number; notInstalled: boolean; detail: string }): CommandOutcome => {
    m.log.record({ commandId: command.id, type: command.type, kb, detail });
    return { status: 'succeeded', result: { kb, exitCode: exitCode >>> 0, durationMs: m.executeDurationMs, notInstalled } };
  };
  if (!m.state.isInstalledOrPending(kb)) return answer({ exitCode: ExitCode.AlreadyUninstalled, notInstalled: true, detail: `${kb} is not installed; nothing removed` });
  if (!update?.uninstallable) return answer({ exitCode: ExitCode.UninstallNotAllowed, notInstalled: false, detail: `${kb} cannot be uninstalled` });
  await sleep(m.executeDurationMs);
  const queued = m.faults.nextUninstallExitCode(kb);
  if (queued !== undefined && queued !== ExitCode.Success && !pendsReboot(queued)) {
    return answer({ exitCode: queued, notInstalled: false, detail: `wusa /uninstall of ${kb} exited ${formatExitCode(queued)}; nothing removed` });
  }
  m.state.installed.delete(kb);
  m.state.awaitingReboot.delete(kb);
  m.state.uninstalls.set(kb, (m.state.uninstalls.get(kb) ?? 0) + 1);
  return answer({ exitCode: queued ?? ExitCode.Success, notInstalled: false, detail: `${kb} removed` });
}
