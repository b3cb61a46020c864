/**
 * Step 7: cleanup, whatever happened before (a stop or a failure included): withdraw what the device
 * has not answered, verify a patch a cancel caught executing, empty both folders, put unreached
 * patches back to Missing and release the device.
 */
import { isCancellation, patched } from '@temporalio/workflow';
import { PatchStatus } from '../../domain/patch-status';
import type { PatchProgress } from '../install.contract';
import { BOUNDED_CLEANUP_PATCH, CANCEL_VERIFY_PATCH } from './markers';
import { bookkeeping, deadlinePassed, type InstallRun } from './install-run';

/** `outcomeError`: what ended the steps before it (undefined when they ran to their end). */
export async function cleanUp(run: InstallRun, outcomeError: unknown): Promise<void> {
  const { state, input, workflowId } = run;
  run.enter('cleanup', `emptying ${input.workingFolder} and ${input.installFolder}`);
  await run.flush(); // results a stop caught before the loop's end
  // Every step that ended normally was answered; only a stop or a failure can leave one open.
  if (!run.batched || outcomeError !== undefined) await bookkeeping.withdrawOpenCommands({ workflowId });
  const interrupted = run.executing;
  if (interrupted && isCancellation(outcomeError) && (run.batched || patched(CANCEL_VERIFY_PATCH))) {
    await verifyAfterCancelDuringExecute(run, interrupted);
    run.enter('cleanup', `emptying ${input.workingFolder} and ${input.installFolder}`);
  }
  await cleanUpFolders(run);
  // Patches the install never reached are Missing again, not stuck in Pending or Installing.
  // (A Pending patch with an error is an Automatic Update retry, waiting for the next run; an
  // Installing patch with an error was cancelled mid-execute and waits for the device's next scan.)
  const unfinished = state.patches.filter((p) => (p.status === PatchStatus.Pending || p.status === PatchStatus.Installing) && !p.error);
  if (run.batched) {
    const changes = run.apply(unfinished.map((p) => run.change(p, PatchStatus.Missing)));
    if (changes.length > 0 || !input.operationHolder) {
      await bookkeeping.finishInstall({ deviceId: input.deviceId, workflowId, changes, release: !input.operationHolder });
    }
  } else {
    await run.record(unfinished.map((p) => run.change(p, PatchStatus.Missing)));
    if (!input.operationHolder) await bookkeeping.releaseDeviceOperation({ deviceId: input.deviceId, workflowId });
  }
}

/**
 * A cancel that lands while patches execute cannot stop the installer on the device: the patch in
 * hand may be installed (and of a batch, the agent stops before the next one, as the withdrawn command
 * gets no go-ahead). A verifying scan decides each; if the device does not answer in time, they stay
 * Installing (with a note) for its next scan to settle, never Missing on a guess.
 */
async function verifyAfterCancelDuringExecute(run: InstallRun, patches: PatchProgress[]): Promise<void> {
  run.enter('post-scan', `verifying ${patches.map((p) => p.kb).join(', ')} after the cancel`);
  try {
    const post = await run.scan('post-scan', run.timing.cleanupDeadlineSeconds);
    await run.record(patches.map((p) => {
      const reported = post.scan.updates.find((u) => u.updateId === p.updateId);
      const installed = !reported || reported.installed;
      return run.change(p, installed ? PatchStatus.Installed : PatchStatus.Missing, installed ? { installedAt: run.now() } : {});
    }));
  } catch (err) {
    if (!deadlinePassed(err)) throw err;
    const error = 'cancelled while executing; the device did not answer the verifying scan, its next scan decides';
    for (const p of patches) p.error = error;
    await bookkeeping.recordPatchStates({
      deviceId: run.input.deviceId, workflowId: run.workflowId,
      changes: patches.map((p) => ({ updateId: p.updateId, kb: p.kb, status: PatchStatus.Installing, error })),
    });
  }
}

/** Cleanup of the device's folders; bounded, so an offline device cannot hold the install (and the device claim) for ever. */
async function cleanUpFolders(run: InstallRun): Promise<void> {
  const { input, timing } = run;
  const payload = { workingFolder: input.workingFolder, installFolder: input.installFolder };
  if (!(run.batched || patched(BOUNDED_CLEANUP_PATCH))) {
    run.cleanup = await run.command('cleanup', payload, 'cleanup working and install folders');
    return;
  }
  try {
    run.cleanup = await run.command('cleanup', payload,
      `cleanup working and install folders (pending for the next check-in after ${timing.cleanupDeadlineSeconds} s)`,
      { deadlineSeconds: timing.cleanupDeadlineSeconds });
  } catch (err) {
    if (!deadlinePassed(err)) throw err;
    // The device is away: its cleanup command stays queued, and it gets it at its next check-in.
    await bookkeeping.queueCleanupForCheckIn({ deviceId: input.deviceId, workflowId: run.workflowId });
    run.state.cleanupPending = `${input.deviceName} did not answer cleanup within ${timing.cleanupDeadlineSeconds} s; it runs at the device's next check-in`;
  }
}
