import { CancellationScope, patched } from '@temporalio/workflow';
import type { DeviceInstallInput, InstallResult } from './install.contract';
import { bookkeeping, InstallRun } from './install-steps/install-run';
import { registerHandlers } from './install-steps/handlers';
import { preScan } from './install-steps/pre-scan';
import { download } from './install-steps/download';
import { copy } from './install-steps/copy';
import { execute, uninstall } from './install-steps/execute';
import { reboot } from './install-steps/reboot';
import { postScan } from './install-steps/post-scan';
import { healthCheckAndRollBack } from './install-steps/health-check';
import { cleanUp } from './install-steps/cleanup';
import { resultOf } from './install-steps/outcome';
import { BATCHED_BOOKKEEPING_PATCH, HEALTH_CHECK_PATCH } from './install-steps/markers';

export * from './install-steps/markers';

/**
 * Installs patches on one device, step by step as an operator's runbook says:
 * pre-scan → download (working folder, SHA-256 checked) → copy (install folder) → execute → reboot
 * (when a patch needs it and the install may) → post-scan (verify) → cleanup (always).
 * Each device step is an activity the device's agent completes; an offline device is simply waited for.
 * Each step is a module of install-steps/; they share the install's state through InstallRun.
 */
export async function deviceInstallWorkflow(input: DeviceInstallInput): Promise<InstallResult> {
  // First, before any handler can run: every later decision between old and new paths reads it.
  const run = new InstallRun(input, patched(BATCHED_BOOKKEEPING_PATCH));
  registerHandlers(run);
  const { workflowId } = run;
  await bookkeeping.claimDeviceOperation({ deviceId: input.deviceId, workflowId: input.operationHolder ?? workflowId, operation: 'install' });

  let outcomeError: unknown;
  try {
    // Steps 1–6 can be cancelled (a cancel, a halt before execute); a step that leaves nothing for the next ends them.
    await run.work.run(async () => {
      if (!(await preScan(run))) return;
      const downloaded = await download(run);
      if (downloaded.length === 0 && (run.state.removals ?? []).length === 0) return;
      await copy(run, downloaded);
      await execute(run, downloaded);
      const removalNeedsReboot = await uninstall(run);
      await reboot(run, removalNeedsReboot);
      await postScan(run);
      // Only an install that has a check asks the marker: every install recorded before it replays as it ran.
      if (input.healthCheck && patched(HEALTH_CHECK_PATCH)) await healthCheckAndRollBack(run, input.healthCheck);
    });
  } catch (err) {
    outcomeError = err;
  } finally {
    // Step 7. Cleanup cannot itself be cancelled. An offline Automatic Update staged nothing: no cleanup.
    if (!run.offline) await CancellationScope.nonCancellable(() => cleanUp(run, outcomeError));
    run.enter('done', run.state.cleanupPending ? 'cleanup pending until the device checks in' : 'finished');
  }
  return resultOf(run, outcomeError);
}
