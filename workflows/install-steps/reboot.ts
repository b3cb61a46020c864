/** Step 5: restart the device when a patch (or a removal) needs it and the install may. */
import { patched, sleep } from '@temporalio/workflow';
import type { RebootResult } from '../../domain/device-protocol';
import { enforcementOf } from '../../domain/install-deadline';
import { PatchStatus } from '../../domain/patch-status';
import { describeRebootAction, describeRebootSkip, planReboot, rebootInteractionSeconds, type RebootActionConfig } from '../../domain/reboot-actions';
import { afterAnswer, initialUserDeferralState, nextUserDeferralStep } from '../../domain/reboot-deferral';
import { USER_DEFERRAL_PATCH } from './markers';
import type { InstallRun } from './install-run';

export async function reboot(run: InstallRun, removalNeedsReboot: boolean): Promise<void> {
  const { state, input } = run;
  const needsReboot = removalNeedsReboot || state.patches.some((p) => p.status === PatchStatus.RebootRequired);
  if (needsReboot && state.halted) {
    // A halted install does no more to the device than finish the patch in hand.
    state.rebootSkipped = `halted by ${state.halted.by}: ${state.halted.reason}; patches stay Reboot Required`;
  } else if (needsReboot && input.rebootAllowed && run.auto) {
    await rebootAsTheActionSays(run);
  } else if (needsReboot && input.rebootAllowed) {
    run.enter('reboot', `restarting ${input.deviceName} to finish ${state.patches.filter((p) => p.status === PatchStatus.RebootRequired).length} patches`);
    await run.command('reboot', { reason: 'patches installed pending reboot' }, `reboot ${input.deviceName}`);
    state.rebooted = true;
  }
}

const OUTSIDE_WINDOW = 'outside the maintenance window; patches stay Reboot Required';

/** One reboot after all patches, as the Automatic Update's reboot action says (Kaseya's eight). */
async function rebootAsTheActionSays(run: InstallRun): Promise<void> {
  const { state, input } = run;
  const a = run.auto!;
  if (a.rebootAction.action === 'ask_user_allow_deferrals' && patched(USER_DEFERRAL_PATCH)) {
    if (run.outsideMaintenanceWindow()) {
      state.rebootSkipped = OUTSIDE_WINDOW;
      return;
    }
    await rebootWithUserDeferrals(run, a.rebootAction);
    return;
  }
  const plan = planReboot(a.rebootAction, { rebootNeeded: true, now: new Date(), timezone: a.timezone, reason: 'patches installed pending reboot' });
  if (plan.kind === 'none') {
    state.rebootSkipped = plan.detail;
    return;
  }
  let payload = plan.kind === 'command' ? plan.payload : plan.then;
  if (plan.kind === 'wait_until') {
    run.enter('reboot', `reboot scheduled for ${plan.at.toISOString()} (${describeRebootAction(a.rebootAction)})`);
    await sleep(Math.max(1000, plan.at.getTime() - new Date().getTime()));
    payload = plan.then;
  }
  if (run.outsideMaintenanceWindow()) {
    state.rebootSkipped = OUTSIDE_WINDOW;
    return;
  }
  run.enter('reboot', `${describeRebootAction(a.rebootAction)} on ${input.deviceName}`);
  // A warning or a prompt can keep the device up for as long as the action allows.
  const result: RebootResult = await run.command('reboot', payload, `reboot ${input.deviceName}: ${describeRebootAction(a.rebootAction)}`,
    { extraSeconds: rebootInteractionSeconds(a.rebootAction) });
  if (result.skipped) state.rebootSkipped = describeRebootSkip(result.skipped.reason);
  else state.rebooted = true;
}

/**
 * The user-deferral reboot (issue 14 part 4), one step of domain/reboot-deferral.ts at a time: ask
 * the logged-on user; a postponement waits on a durable timer and asks again; the restart is forced
 * once the postponements are used up, or from the deadline on (a device that was offline at the
 * deadline gets its grace period from when it came back, domain/install-deadline.ts). The deadline
 * is computed again after every answer, since an answer that came late is an absence.
 */
async function rebootWithUserDeferrals(run: InstallRun, config: Extract<RebootActionConfig, { action: 'ask_user_allow_deferrals' }>): Promise<void> {
  const { state, input } = run;
  const what = describeRebootAction(config);
  const reason = 'patches installed pending reboot';
  let st = initialUserDeferralState();
  const notePostponements = () => {
    state.rebootDeferrals = {
      ...state.rebootDeferrals,
      postponed: st.history.map((h) => ({ at: new Date(h.atMs).toISOString(), minutes: h.minutes })),
    };
  };
  for (;;) {
    const deadline = config.deadlineDays === undefined || run.availableAtMs === undefined ? undefined
      : enforcementOf({ deadlineDays: config.deadlineDays, graceDays: config.graceDays }, run.availableAtMs, run.silences);
    if (deadline) {
      state.rebootDeferrals = {
        postponed: [], ...state.rebootDeferrals, deadline: new Date(deadline.deadlineMs).toISOString(),
        forceAt: new Date(deadline.forceAtMs).toISOString(), offlineAtDeadline: deadline.offlineAtDeadline,
        ...(deadline.cameBackMs === undefined ? {} : { cameBackAt: new Date(deadline.cameBackMs).toISOString() }),
      };
    }
    const step = nextUserDeferralStep(config, st, run.nowMs(), deadline?.forceAtMs, reason);
    if (step.kind === 'done') break;
    if (step.kind === 'wait') {
      run.enter('reboot', `postponed by the user until ${new Date(step.untilMs).toISOString()} (${st.deferralsUsed} of ${config.deferrals})`);
      await sleep(Math.max(1000, step.untilMs - run.nowMs()));
      continue;
    }
    if (step.kind === 'force' && deadline && run.nowMs() >= deadline.forceAtMs && run.lastContactMs < deadline.deadlineMs) {
      // Not heard from since before the deadline: is the device there? A scan answers at once when it
      // is; an answer that comes late means it was away at the deadline, and its grace counts from now.
      run.enter('reboot', `deadline passed: checking that ${input.deviceName} is online before forcing the restart`);
      const sentMs = run.nowMs();
      await run.scanDevice('presence check at the reboot deadline');
      run.heardFrom(sentMs);
      continue;
    }
    if (step.kind === 'force') {
      const why = deadline && step.why.startsWith('the deadline') ? `${step.why}: ${deadline.why}` : step.why;
      run.enter('reboot', `forced restart of ${input.deviceName}: ${why}`);
      await run.command('reboot', step.payload, `reboot ${input.deviceName}: forced (${why})`);
      state.rebootDeferrals = { postponed: [], ...state.rebootDeferrals, forced: why };
      notePostponements();
      state.rebooted = true;
      return;
    }
    run.enter('reboot', `${what} on ${input.deviceName}`);
    const sentMs = run.nowMs();
    const result: RebootResult = await run.command('reboot', step.payload, `reboot ${input.deviceName}: ${what}`,
      { extraSeconds: rebootInteractionSeconds(config) });
    run.heardFrom(sentMs, (result.waitedMinutes ?? 0) * 60_000);
    st = afterAnswer(config, st, result, run.nowMs());
    notePostponements();
  }
  state.rebooted = true;
}
