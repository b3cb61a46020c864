/**
 * Step 6b (installs with a health check): ask the device whether it is still healthy. When it is not,
 * uninstall what this run installed, newest first, skipping what Windows cannot remove; restart if a
 * removal asks for it; check once more. The removed patches are Failed "rolled back: health check
 * failed" with the check's output (a failure for the rollout and a ring's gate). An uninstall that
 * fails, or a device still unhealthy after the rollback, leaves the device "needs attention": nothing
 * is retried here, so it can never loop.
 */
import { isCancellation, sleep } from '@temporalio/workflow';
import { interpretUninstallExitCode } from '../../domain/exit-codes';
import { describeHealthCheck, rolledBackReason, type HealthCheckResult, type HealthCheckSettings } from '../../domain/health-check';
import { PatchStatus } from '../../domain/patch-status';
import type { PatchProgress } from '../install.contract';
import { bookkeeping, failureText, type InstallRun } from './install-run';

export async function healthCheckAndRollBack(run: InstallRun, settings: HealthCheckSettings): Promise<void> {
  const { state, input } = run;
  const installed = run.installedThisRun.filter((p) => p.status === PatchStatus.Installed || p.status === PatchStatus.RebootRequired);
  if (installed.length === 0) return;
  const what = describeHealthCheck(settings.check);
  async function check(reason: string): Promise<HealthCheckResult> {
    run.enter('health-check', `${what} (${reason})`);
    if (settings.settleSeconds) await sleep(settings.settleSeconds * 1000);
    return run.command('health_check', { check: settings.check, reason }, `health check of ${input.deviceName} ${reason}: ${what}`);
  }
  const first = await check('after install');
  state.healthCheck = { check: what, healthy: first.healthy, output: first.output };
  if (first.healthy) return;

  const removed: PatchProgress[] = [];
  const problems: string[] = [];
  let removalNeedsReboot = false;
  for (const p of [...installed].reverse()) {
    if (!run.uninstallable.get(p.updateId)) {
      problems.push(`${p.kb} cannot be uninstalled`);
      continue;
    }
    run.enter('rollback', `uninstalling ${p.kb}: health check failed`);
    let meaning: ReturnType<typeof interpretUninstallExitCode>;
    try {
      const r = await run.command('uninstall', { updateId: p.updateId, kb: p.kb }, `roll back ${p.kb}: health check failed`);
      meaning = interpretUninstallExitCode(r.exitCode, r.notInstalled);
    } catch (err) {
      if (isCancellation(err)) throw err;
      meaning = { removed: false, pendingReboot: false, description: failureText(err).message };
    }
    if (!meaning.removed) {
      // The first removal that fails stops the rollback: what is older stays as it is, for a person.
      problems.push(`uninstall of ${p.kb} failed: ${meaning.description}`);
      break;
    }
    removed.push(p);
    removalNeedsReboot ||= meaning.pendingReboot;
  }
  if (removalNeedsReboot && input.rebootAllowed && !state.halted) {
    run.enter('reboot', `restarting ${input.deviceName} to finish the rollback`);
    await run.command('reboot', { reason: 'rollback after a failed health check' }, `reboot ${input.deviceName}: finish the rollback`);
    state.rebooted = true;
  } else if (removalNeedsReboot) {
    problems.push('the rollback waits for a restart the install may not do');
  }
  if (removed.length > 0) {
    const after = await check('after rollback');
    state.healthCheck.afterRollback = { healthy: after.healthy, output: after.output };
    if (!after.healthy) problems.push(`still unhealthy after the rollback: ${after.output}`);
  } else if (problems.length === 0) {
    problems.push('nothing could be rolled back');
  }
  state.rolledBack = removed.map((p) => p.kb);
  const changes = run.apply(removed.map((p) => ({
    updateId: p.updateId, kb: p.kb, status: PatchStatus.Failed, error: rolledBackReason(first.output), countFailure: true, rolledBack: true,
  })));
  if (problems.length > 0) state.needsAttention = `health check failed (${first.output}); ${problems.join('; ')}`;
  await bookkeeping.recordRollback({
    deviceId: input.deviceId, workflowId: run.workflowId, changes, ...(state.needsAttention ? { needsAttention: state.needsAttention } : {}),
  });
}
