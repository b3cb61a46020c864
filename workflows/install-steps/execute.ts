/** Step 4: run the installers (one execute_patches command, or one execute each); 4b: an operator's Uninstall actions. */
import { isCancellation, log, setCurrentDetails, sleep } from '@temporalio/workflow';
import { CommandErrorCode, NotStartedReason, type ExecutePatchesResult, type GoAhead, type PatchExecution, type PatchStart } from '../../domain/device-protocol';
import { ExecutionOutcome, interpretExitCode, interpretUninstallExitCode } from '../../domain/exit-codes';
import { PatchStatus } from '../../domain/patch-status';
import type { PatchProgress } from '../install.contract';
import { bookkeeping, failureText, type Change, type InstallRun } from './install-run';

/** Each downloaded patch, while the window is open and no halt stops the run; results written after the loop. */
export async function execute(run: InstallRun, downloaded: PatchProgress[]): Promise<void> {
  if (downloaded.length === 0) return;
  if (run.batchedExecute) await executeInOneCommand(run, downloaded);
  else await executeOneByOne(run, downloaded);
  await run.flush();
}

/**
 * The install's answer to "may the device start this patch now?" (executeGoAheadQuery): the checks the
 * per-patch loop makes before each patch (the kill switch, the patch's KB halt, the maintenance
 * window at the gateway's clock), for a patch of the batch in flight only.
 */
export function goAheadFor(run: InstallRun, start: PatchStart & { at: string }): GoAhead {
  const { state } = run;
  const p = run.executing?.find((x) => x.updateId === start.updateId);
  if (state.step !== 'execute' || !p) return { proceed: false, reason: NotStartedReason.Withdrawn, message: 'the install is not waiting for this patch' };
  if (state.cancelRequested) return { proceed: false, reason: NotStartedReason.Withdrawn, message: 'the install was cancelled' };
  if (state.halted) return { proceed: false, reason: NotStartedReason.Halted, message: `halted by ${state.halted.by}: ${state.halted.reason}` };
  const halt = run.kbHalt(p);
  if (halt) return { proceed: false, reason: NotStartedReason.KbHalted, message: `${p.kb} halted by ${halt.by}: ${halt.reason}` };
  const at = new Date(start.at);
  if (Number.isNaN(at.getTime())) return { proceed: false, reason: NotStartedReason.NoGoAhead, message: `the gateway's clock "${start.at}" is not a time` };
  if (run.outsideMaintenanceWindow(at)) return { proceed: false, reason: NotStartedReason.WindowClosed, message: 'the maintenance window has closed' };
  return { proceed: true };
}

/**
 * One execute_patches command for the patches no halt has taken out (the device asks for a go-ahead
 * before each one); the busy ones, only those, again in a new command after the backoff.
 */
async function executeInOneCommand(run: InstallRun, downloaded: PatchProgress[]): Promise<void> {
  const { timing } = run;
  let batch = await admitted(run, downloaded);
  for (let round = 0; batch.length > 0; round++) {
    const busy = await executeBatch(run, batch, round);
    // Halted while the installer mutex was held: those patches never ran, so they are simply not retried.
    if (busy.length === 0 || run.state.halted) return;
    if (round >= timing.busyRetries) {
      await run.recordLater(busy.map(({ p, exitCode, why }) => run.change(p, PatchStatus.Failed, {
        ...(exitCode === undefined ? {} : { exitCode }), error: `${why} (still ${exitCode === undefined ? 'not started' : 'busy'} after ${round + 1} tries)`, countFailure: true,
      })));
      return;
    }
    // Another installer holds the Windows Installer mutex (or the device could not ask): wait, retry, count no failure.
    await run.flush(); // what is known is written before a wait
    await sleep(`${timing.busyBackoffSeconds} seconds`);
    batch = await admitted(run, busy.map(({ p }) => p));
  }
}

/** The patches that may go to the device now, in order: as the per-patch loop checks before each one. */
async function admitted(run: InstallRun, patches: PatchProgress[]): Promise<PatchProgress[]> {
  const out: PatchProgress[] = [];
  for (const p of patches) {
    const verdict = await checkBeforeExecute(run, p, { later: true });
    if (verdict === 'stop') break;
    if (verdict === 'go') out.push(p);
  }
  return out;
}

/**
 * The checks before a patch goes to the device, in order: the kill switch and the window closing stop
 * the run (what has not run stays for a later one: cleanup turns it back to Missing); the patch's KB
 * halt skips it, written now or with the step's other results (`later`, the batched path's).
 */
async function checkBeforeExecute(run: InstallRun, p: PatchProgress, { later }: { later: boolean }): Promise<'go' | 'skip' | 'stop'> {
  if (run.state.halted) {
    // The kill switch: the patch in hand has finished; the rest stay for a later run.
    log.info('halted; remaining patches are not executed', { kb: p.kb });
    return 'stop';
  }
  const halt = run.kbHalt(p);
  if (halt) {
    await run.skipHaltedKb(p, halt, { later });
    return 'skip';
  }
  if (run.outsideMaintenanceWindow()) {
    log.info('maintenance window closed; remaining patches wait for the next run', { kb: p.kb });
    return 'stop';
  }
  return 'go';
}

/** A patch to try again: its installer answered Busy (that exit code), or the device got no go-ahead. */
interface Retry { p: PatchProgress; exitCode?: number; why: string }

/** One execute_patches command; returns the patches to try again (Busy, or no go-ahead). */
async function executeBatch(run: InstallRun, batch: PatchProgress[], round: number): Promise<Retry[]> {
  const { input, timing } = run;
  const kbs = batch.map((p) => p.kb).join(', ');
  const retry = round > 0 ? ` (busy, try ${round + 1} of ${timing.busyRetries + 1})` : '';
  run.enter('execute', `${batch.length} ${batch.length === 1 ? 'patch' : 'patches'} in order: ${kbs}${retry}; the device asks before each one`);
  let got: ExecutePatchesResult;
  try {
    run.executing = batch;
    got = await run.command('execute_patches', { patches: batch.map((p) => run.files.get(p.updateId)!), installFolder: input.installFolder },
      `execute ${batch.length} ${batch.length === 1 ? 'patch' : 'patches'}: ${kbs}${retry}`,
      // Each attempt may take as long as one execute per patch did.
      { extraSeconds: timing.commandTimeoutSeconds.execute * (batch.length - 1) });
  } catch (err) {
    if (isCancellation(err)) throw err; // `executing` stays set: the device may have run any of them
    run.executing = undefined;
    const f = failureText(err);
    if (f.type === CommandErrorCode.UnknownCommand) {
      // An agent from before execute_patches refused it before running anything: one command per patch.
      log.info('the agent does not know execute_patches; one execute command per patch', { kbs });
      await executeOneByOne(run, batch);
      return [];
    }
    await run.recordLater(batch.map((p) => run.change(p, PatchStatus.Failed, { error: `not executed: ${f.message}`, countFailure: true })));
    return [];
  }
  run.executing = undefined;
  const answers = new Map(got.patches.map((a) => [a.updateId, a]));
  const busy: Retry[] = [];
  const told: string[] = [];
  for (const p of batch) {
    const a = answers.get(p.updateId);
    told.push(`${p.kb} ${a ? answerText(a) : 'not answered'}`);
    if (!a) {
      await run.recordLater([run.change(p, PatchStatus.Failed, { error: 'not executed: the device did not answer for this patch', countFailure: true })]);
    } else if (a.status === 'executed') {
      const change = exitCodeChange(run, p, a.exitCode);
      if (change) await run.recordLater([change]);
      else busy.push({ p, exitCode: a.exitCode, why: exitCodeText(a.exitCode) });
    } else if (a.status === 'failed') {
      await run.recordLater([run.change(p, PatchStatus.Failed, { error: `not executed: ${a.error.message}`, countFailure: true })]);
    } else if (a.reason === NotStartedReason.NoGoAhead || a.reason === NotStartedReason.Withdrawn) {
      // The device could not get the install's answer (the gateway or Temporal away, the step between two
      // attempts): nothing ran, and the install still waits for it; as busy, the checks run again first.
      busy.push({ p, why: `not executed: ${a.message}` });
    } else {
      await notStarted(run, p, a);
    }
  }
  setCurrentDetails(`**execute**: ${told.join('; ')}`);
  return busy;
}

/**
 * A patch the device did not start because the install said no: a halt or the window closing leave it
 * for a later run (cleanup puts it back to Missing), as the per-patch loop's stop did; a KB halt skips it.
 */
async function notStarted(run: InstallRun, p: PatchProgress, a: Extract<PatchExecution, { status: 'not_started' }>): Promise<void> {
  switch (a.reason) {
    case NotStartedReason.KbHalted: {
      const halt = run.kbHalt(p);
      if (halt) await run.skipHaltedKb(p, halt, { later: true });
      return;
    }
    case NotStartedReason.Halted:
    case NotStartedReason.WindowClosed:
      log.info('patch not started; it waits for a later run', { kb: p.kb, reason: a.reason });
      return;
    default:
      await run.recordLater([run.change(p, PatchStatus.Failed, { error: `not executed: ${a.message}`, countFailure: true })]);
  }
}

const answerText = (a: PatchExecution): string =>
  a.status === 'executed' ? `exit ${interpretExitCode(a.exitCode).display}` : a.status === 'failed' ? `refused (${a.error.code})` : `not started (${a.reason})`;

/** Installs before the batched execute (or with an agent that predates it): one execute command per patch. */
async function executeOneByOne(run: InstallRun, downloaded: PatchProgress[]): Promise<void> {
  for (const p of downloaded) {
    const verdict = await checkBeforeExecute(run, p, { later: false });
    if (verdict === 'stop') break;
    if (verdict === 'skip') continue;
    run.enter('execute', `${p.kb} (${downloaded.indexOf(p) + 1} of ${downloaded.length})`);
    await executeOne(run, p);
  }
}

/** What an exit code means, for an operator: "0x80070643 ERROR_INSTALL_FAILURE: …". */
function exitCodeText(exitCode: number): string {
  const meaning = interpretExitCode(exitCode);
  return `${meaning.display} ${meaning.name}: ${meaning.description}${meaning.hint ? ` ${meaning.hint}` : ''}`;
}

/** The status change an installer's exit code decides; undefined for Busy (the caller retries or gives up). */
function exitCodeChange(run: InstallRun, p: PatchProgress, exitCode: number): Change | undefined {
  const error = exitCodeText(exitCode);
  switch (interpretExitCode(exitCode).outcome) {
    case ExecutionOutcome.Installed:
      run.installedThisRun.push(p);
      return run.change(p, PatchStatus.Installed, { exitCode, installedAt: run.now() });
    case ExecutionOutcome.AlreadyInstalled:
      // Windows had it already: Installed, but with no install date, since Patchflow did not install it.
      return run.change(p, PatchStatus.Installed, { exitCode });
    case ExecutionOutcome.InstalledPendingReboot:
      run.installedThisRun.push(p);
      return run.change(p, PatchStatus.RebootRequired, { exitCode });
    case ExecutionOutcome.NotApplicable:
      return run.change(p, PatchStatus.Missing, { exitCode, error });
    case ExecutionOutcome.Busy:
      return undefined;
    default:
      return run.change(p, PatchStatus.Failed, { exitCode, error, countFailure: true });
  }
}

/** One installer, retried while Windows Installer is busy; its exit code decides the patch's status. */
async function executeOne(run: InstallRun, p: PatchProgress): Promise<void> {
  const { timing } = run;
  for (let busy = 0; ; busy++) {
    let exitCode: number;
    try {
      run.executing = [p];
      const r = await run.command('execute', { patch: run.files.get(p.updateId)!, installFolder: run.input.installFolder }, `execute ${p.kb}`);
      exitCode = r.exitCode;
    } catch (err) {
      if (isCancellation(err)) throw err; // `executing` stays set: the device may have run it
      run.executing = undefined;
      await run.recordLater([run.change(p, PatchStatus.Failed, { error: `not executed: ${failureText(err).message}`, countFailure: true })]);
      return;
    }
    run.executing = undefined;
    const change = exitCodeChange(run, p, exitCode);
    if (change) return run.recordLater([change]);
    // Busy. Halted while the installer mutex was held: the patch never ran, so it is simply not retried.
    if (run.state.halted) return;
    if (busy < timing.busyRetries) {
      // Another installer holds the Windows Installer mutex (or the device could not ask): wait, retry, count no failure.
      await run.flush(); // what is known is written before a wait
      await sleep(`${timing.busyBackoffSeconds} seconds`);
      continue;
    }
    return run.recordLater([run.change(p, PatchStatus.Failed, { exitCode, error: `${exitCodeText(exitCode)} (still busy after ${busy + 1} tries)`, countFailure: true })]);
  }
}

/** True when a removal asks for a restart. */
export async function uninstall(run: InstallRun): Promise<boolean> {
  const { state, input } = run;
  let removalNeedsReboot = false;
  for (const r of state.removals ?? []) {
    if (state.halted) break;
    run.enter('uninstall', `${r.kb} (an operator's Uninstall action)`);
    const result = await run.command('uninstall', { updateId: r.updateId, kb: r.kb }, `uninstall ${r.kb}`);
    const meaning = interpretUninstallExitCode(result.exitCode, result.notInstalled);
    r.exitCode = result.exitCode;
    if (meaning.removed) {
      removalNeedsReboot ||= meaning.pendingReboot;
    } else {
      r.error = meaning.description;
      await bookkeeping.recordPatchStates({
        deviceId: input.deviceId, workflowId: run.workflowId,
        changes: [{ updateId: r.updateId, kb: r.kb, status: PatchStatus.Installed, exitCode: result.exitCode, error: `uninstall failed: ${meaning.description}` }],
      });
    }
  }
  return removalNeedsReboot;
}
