/** Step 4: run each installer in turn; 4b: an operator's Uninstall actions. */
import { isCancellation, log, sleep } from '@temporalio/workflow';
import { ExecutionOutcome, interpretExitCode, interpretUninstallExitCode } from '../../domain/exit-codes';
import { PatchStatus } from '../../domain/patch-status';
import type { PatchProgress } from '../install.contract';
import { bookkeeping, failureText, type InstallRun } from './install-run';

/** Each downloaded patch, while the window is open and no halt stops the run; results written after the loop. */
export async function execute(run: InstallRun, downloaded: PatchProgress[]): Promise<void> {
  if (downloaded.length === 0) return;
  for (const p of downloaded) {
    if (run.state.halted) {
      // The kill switch: the patch in hand has finished; the rest stay for a later run.
      log.info('halted; remaining patches are not executed', { kb: p.kb });
      break;
    }
    const halt = run.kbHalt(p);
    if (halt) {
      await run.skipHaltedKb(p, halt);
      continue;
    }
    if (run.outsideMaintenanceWindow()) {
      // The window closed: what has not run stays for the next run (cleanup turns it back to Missing).
      log.info('maintenance window closed; remaining patches wait for the next run', { kb: p.kb });
      break;
    }
    run.enter('execute', `${p.kb} (${downloaded.indexOf(p) + 1} of ${downloaded.length})`);
    await executeOne(run, p);
  }
  await run.flush();
}

/** One installer, retried while Windows Installer is busy; its exit code decides the patch's status. */
async function executeOne(run: InstallRun, p: PatchProgress): Promise<void> {
  const { timing } = run;
  for (let busy = 0; ; busy++) {
    let exitCode: number;
    try {
      run.executing = p;
      const r = await run.command('execute', { patch: run.files.get(p.updateId)!, installFolder: run.input.installFolder }, `execute ${p.kb}`);
      exitCode = r.exitCode;
    } catch (err) {
      if (isCancellation(err)) throw err; // `executing` stays set: the device may have run it
      run.executing = undefined;
      await run.recordLater([run.change(p, PatchStatus.Failed, { error: `not executed: ${failureText(err).message}`, countFailure: true })]);
      return;
    }
    run.executing = undefined;
    const meaning = interpretExitCode(exitCode);
    const error = `${meaning.display} ${meaning.name}: ${meaning.description}${meaning.hint ? ` ${meaning.hint}` : ''}`;
    switch (meaning.outcome) {
      case ExecutionOutcome.Installed:
        run.installedThisRun.push(p);
        return run.recordLater([run.change(p, PatchStatus.Installed, { exitCode, installedAt: run.now() })]);
      case ExecutionOutcome.AlreadyInstalled:
        // Windows had it already: Installed, but with no install date, since Patchflow did not install it.
        return run.recordLater([run.change(p, PatchStatus.Installed, { exitCode })]);
      case ExecutionOutcome.InstalledPendingReboot:
        run.installedThisRun.push(p);
        return run.recordLater([run.change(p, PatchStatus.RebootRequired, { exitCode })]);
      case ExecutionOutcome.NotApplicable:
        return run.recordLater([run.change(p, PatchStatus.Missing, { exitCode, error })]);
      case ExecutionOutcome.Busy:
        // Halted while the installer mutex was held: the patch never ran, so it is simply not retried.
        if (run.state.halted) return;
        if (busy < timing.busyRetries) {
          // Another installer holds the Windows Installer mutex: wait, retry, count no failure.
          await run.flush(); // what is known is written before a wait
          await sleep(`${timing.busyBackoffSeconds} seconds`);
          continue;
        }
        return run.recordLater([run.change(p, PatchStatus.Failed, { exitCode, error: `${error} (still busy after ${busy + 1} tries)`, countFailure: true })]);
      default:
        return run.recordLater([run.change(p, PatchStatus.Failed, { exitCode, error, countFailure: true })]);
    }
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
