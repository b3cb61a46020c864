/** How an install ended, from its progress and what stopped its steps (if anything). */
import { isCancellation } from '@temporalio/workflow';
import { PatchStatus } from '../../domain/patch-status';
import type { InstallOutcome, InstallProgress, InstallResult } from '../install.contract';
import { bookkeeping, type InstallRun } from './install-run';

/** Rethrows a failure that was not a cancel or a halt; an offline Automatic Update gives its claim back here. */
export async function resultOf(run: InstallRun, outcomeError: unknown): Promise<InstallResult> {
  const { state, cleanup } = run;
  if (outcomeError !== undefined) {
    if (isCancellation(outcomeError) && state.halted && !state.cancelRequested) return { ...state, outcome: 'halted', cleanup };
    if (isCancellation(outcomeError) && state.cancelRequested) {
      return { ...state, outcome: state.cleanupPending ? 'cleanup_pending' : 'cancelled', cleanup };
    }
    throw outcomeError;
  }
  if (run.offline) {
    // Patches never reached: no status changed, nothing was staged; the claim goes back.
    await bookkeeping.releaseDeviceOperation({ deviceId: run.input.deviceId, workflowId: run.workflowId });
    return { ...state, outcome: 'offline', cleanup };
  }
  if (state.halted && !['post-scan', 'reboot', 'health-check', 'rollback'].includes(state.halted.step)) return { ...state, outcome: 'halted', cleanup };
  return { ...state, outcome: state.cleanupPending ? 'cleanup_pending' : outcomeOf(state), cleanup };
}

function outcomeOf(state: InstallProgress): InstallOutcome {
  if (state.patches.length === 0) return 'nothing_to_install';
  const failed = state.patches.filter((p) => p.status === PatchStatus.Failed).length;
  if (failed === 0) return 'succeeded';
  return failed === state.patches.length ? 'failed' : 'partially_failed';
}
