import {
  ActivityFailure,
  CancellationScope,
  TimeoutFailure,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeviceCommandActivities, InstallBookkeepingActivities, PatchTestActivities } from '../activities';
import type { CleanupResult, CommandPayloads, CommandResults, PatchFile } from '../domain/device-protocol';
import { planInstall } from '../domain/install-plan';
import { PatchTestCheck, type PatchTestOutcome } from '../domain/patch-test';
import { resolveTiming } from './install.contract';
import {
  DEFAULT_PATCH_TEST_TIMEOUT_SECONDS,
  patchTestProgressQuery,
  type PatchTestInput,
  type PatchTestProgress,
  type PatchTestStep,
  type PatchTestWorkflowResult,
} from './patch-test.contract';
import { BOOKKEEPING_RETRY } from './retry-policies';
import { stepOptions } from './step-options';

const bookkeeping = proxyLocalActivities<InstallBookkeepingActivities & PatchTestActivities>({
  startToCloseTimeout: '30 seconds',
  retry: BOOKKEEPING_RETRY,
});

/**
 * The Patch Test (Kaseya; seed 003): every step of an install except execute and reboot, on one device.
 * claim → pre-scan (the approved missing patches an install would pick now) → patch-test (the device
 * reports its credential, working folder and its access rules, free space, what each file source
 * serves and its SHA-256, the Windows Update services) → evaluate and store (domain/patch-test.ts, in
 * an activity, so the verdict is in the history and replays as it was decided) → cleanup → release.
 * Nothing is executed or staged. A failed result blocks Automatic Update on the device until a later
 * Patch Test passes (activities/rollout-activities.ts).
 */
export async function patchTestWorkflow(input: PatchTestInput): Promise<PatchTestWorkflowResult> {
  const timing = resolveTiming(input.timing);
  const { workflowId } = workflowInfo();
  const state: PatchTestProgress = { step: 'claim', kbs: [] };
  setHandler(patchTestProgressQuery, () => state);
  const device = proxyActivities<DeviceCommandActivities>(stepOptions(timing, { attemptSeconds: 3600 }));

  async function command<T extends 'scan' | 'patch_test' | 'cleanup'>(
    type: T, payload: CommandPayloads[T], summary: string, attemptSeconds: number, deadlineSeconds?: number,
  ): Promise<CommandResults[T]> {
    const options = stepOptions(timing, { attemptSeconds, summary, ...(deadlineSeconds === undefined ? {} : { deadlineSeconds }) });
    return (await device.deviceCommand.executeWithOptions(options, [input.deviceId, type, payload])) as CommandResults[T];
  }
  function enter(step: PatchTestStep, details: string): void {
    state.step = step;
    setCurrentDetails(`**${step}**: ${details}`);
  }

  let outcome: PatchTestOutcome | undefined;
  let testedAt = '';
  let cleanup: CleanupResult | null = null;
  let cleanupSkipped: string | undefined;
  let cleanupPending: string | undefined;

  async function runSteps(): Promise<void> {
    enter('pre-scan', `scanning ${input.deviceName}`);
    const scan = await command('scan', { reason: 'pre-scan' }, `pre-scan of ${input.deviceName} (Patch Test)`, timing.commandTimeoutSeconds.scan);
    const plan = planInstall(scan.updates, undefined, { skipSuperseded: true });
    const { catalog, selection } = await bookkeeping.recordPatchTestPreScan({
      scan,
      question: {
        deviceId: input.deviceId, candidates: plan.patches.map((u) => u.updateId),
        installed: scan.updates.filter((u) => u.installed).map((u) => u.updateId), explicit: false,
      },
    });
    const allowed = new Set(selection.allowed);
    const patches: PatchFile[] = plan.patches.filter((u) => allowed.has(u.updateId) && catalog[u.updateId]).map((u) => catalog[u.updateId]!);
    state.kbs = patches.map((p) => p.kb);
    enter('patch-test', `credentials, ${input.workingFolder}, disk space, ${patches.length} file sources, update services`);
    const observation = await command(
      'patch_test', { workingFolder: input.workingFolder, installFolder: input.installFolder, patches },
      `patch test of ${input.deviceName}: ${patches.length} patches`, input.timing?.patchTestTimeoutSeconds ?? DEFAULT_PATCH_TEST_TIMEOUT_SECONDS,
    );
    testedAt = new Date().toISOString(); // workflow time: the same on replay
    outcome = await bookkeeping.recordPatchTestResult({
      deviceId: input.deviceId, workflowId, requestedBy: input.requestedBy, testedAt, patches, observation,
    });
  }

  /** Cleanup as an install does it, bounded; never through a working folder that resolves to a protected one. */
  async function cleanUp(failed: boolean): Promise<void> {
    enter('cleanup', `emptying ${input.workingFolder} and ${input.installFolder}`);
    if (failed) await bookkeeping.withdrawOpenCommands({ workflowId });
    const protectedFolder = outcome?.checks.find((c) => c.check === PatchTestCheck.FolderProtected && !c.passed);
    if (protectedFolder) {
      // Emptying it would empty the protected folder it leads to; the test staged nothing there anyway.
      cleanupSkipped = `not emptied: ${protectedFolder.reason}`;
    } else {
      try {
        cleanup = await command('cleanup', { workingFolder: input.workingFolder, installFolder: input.installFolder },
          `cleanup working and install folders (pending for the next check-in after ${timing.cleanupDeadlineSeconds} s)`,
          timing.commandTimeoutSeconds.cleanup, timing.cleanupDeadlineSeconds);
      } catch (err) {
        if (!(err instanceof ActivityFailure && err.cause instanceof TimeoutFailure)) throw err;
        await bookkeeping.queueCleanupForCheckIn({ deviceId: input.deviceId, workflowId });
        cleanupPending = `${input.deviceName} did not answer cleanup within ${timing.cleanupDeadlineSeconds} s; it runs at the device's next check-in`;
      }
    }
    await bookkeeping.releaseDeviceOperation({ deviceId: input.deviceId, workflowId });
  }

  await bookkeeping.claimDeviceOperation({ deviceId: input.deviceId, workflowId, operation: 'patch-test' });
  let failure: unknown;
  try {
    await runSteps();
  } catch (err) {
    failure = err;
  } finally {
    await CancellationScope.nonCancellable(() => cleanUp(failure !== undefined));
  }
  if (failure !== undefined || !outcome) throw failure;

  const failed = outcome.checks.filter((c) => !c.passed);
  enter('done', outcome.passed
    ? `passed: all ${outcome.checks.length} checks`
    : `FAILED (Automatic Update blocked): ${failed.map((c) => `${c.check}: ${c.reason}`).join('; ')}`);
  return {
    ...state, passed: outcome.passed, checks: outcome.checks, testedAt, cleanup,
    ...(cleanupSkipped ? { cleanupSkipped } : {}), ...(cleanupPending ? { cleanupPending } : {}),
  };
}
