/** Step 1: scan the device, plan the install and ask the approval policy. */
import { isCancellation, patched, upsertSearchAttributes } from '@temporalio/workflow';
import type { ScanResult } from '../../domain/device-protocol';
import { planInstall } from '../../domain/install-plan';
import { PatchStatus } from '../../domain/patch-status';
import { PatchKBsAttr } from '../search-attributes';
import { APPROVAL_POLICY_PATCH, BATCHED_EXECUTE_PATCH } from './markers';
import { bookkeeping, deadlinePassed, type InstallRun } from './install-run';

/** False: nothing to do (no patch selected and nothing to remove), or an Automatic Update found the device offline. */
export async function preScan(run: InstallRun): Promise<boolean> {
  const { input, state, auto } = run;
  run.enter('pre-scan', `scanning ${input.deviceName}`);
  let scanned: ScanResult;
  // From the device's last check-in (the rollout's listing) to this answer: a deadline inside it fell while it was away.
  const lastSeenMs = auto?.lastSeenAt ? Date.parse(auto.lastSeenAt) : run.nowMs();
  try {
    scanned = await run.scanDevice('pre-scan', auto?.offlineAfterSeconds);
    run.heardFrom(lastSeenMs);
  } catch (err) {
    if (auto && !isCancellation(err) && deadlinePassed(err)) {
      // An Automatic Update does not wait for an offline device: it is reported offline and
      // picked up by the next run. Nothing reached the device, so nothing needs cleaning up.
      run.offline = true;
      return false;
    }
    throw err;
  }
  // A batched install stores the scan together with the approval selection (recordPreScan below).
  const pre = { scan: scanned, catalog: run.batched ? {} : await bookkeeping.recordScan(input.deviceId, scanned) };
  // Installs started before approval policies existed (recorded histories) take the old path.
  const byPolicy = run.batched || patched(APPROVAL_POLICY_PATCH);
  for (const u of pre.scan.updates) run.uninstallable.set(u.updateId, u.uninstallable);
  const plan = planInstall(pre.scan.updates, input.kbs, { skipSuperseded: byPolicy });
  state.skippedKbs = plan.skippedKbs;
  let patches = plan.patches;
  if (byPolicy) {
    state.supersededKbs = plan.supersededKbs;
    const question = {
      deviceId: input.deviceId,
      candidates: patches.map((u) => u.updateId),
      installed: pre.scan.updates.filter((u) => u.installed).map((u) => u.updateId),
      explicit: Boolean(input.kbs && input.kbs.length > 0),
      ...(auto ? { failureCap: auto.failureCap } : {}),
    };
    let verdict: Awaited<ReturnType<typeof bookkeeping.selectByApproval>>;
    // Asked only by an install that may execute something: every install recorded before it replays as it ran.
    if (run.batched && patches.length > 0) run.batchedExecute = patched(BATCHED_EXECUTE_PATCH);
    // Inside the window the download follows at once: the selected patches are Installing from this write on.
    run.installingWritten = run.batchedExecute && !run.outsideMaintenanceWindow();
    const installing = run.installingWritten ? { workflowId: run.workflowId } : undefined;
    if (run.batched) ({ catalog: pre.catalog, selection: verdict } = await bookkeeping.recordPreScan({ scan: pre.scan, question, ...(installing ? { installing } : {}) }));
    else verdict = await bookkeeping.selectByApproval(question);
    run.priorAttempts = verdict.attempts ?? {};
    if (verdict.availableAt) run.availableAtMs = Date.parse(verdict.availableAt);
    const allowed = new Set(verdict.allowed);
    const remove = new Set(verdict.uninstall);
    state.refused = verdict.refused;
    patches = patches.filter((u) => allowed.has(u.updateId));
    state.removals = pre.scan.updates.filter((u) => u.installed && remove.has(u.updateId))
      .map((u) => ({ updateId: u.updateId, kb: u.kb, title: u.title, status: PatchStatus.Installed }));
  }
  state.patches = patches.map((u) => ({ updateId: u.updateId, kb: u.kb, title: u.title, status: PatchStatus.Pending }));
  // What recordPreScan wrote (the same rules apply: Pending to Installing).
  if (run.installingWritten) run.apply(state.patches.map((p) => run.change(p, PatchStatus.Installing)));
  for (const u of patches) run.files.set(u.updateId, pre.catalog[u.updateId]);
  if (state.patches.length === 0 && (state.removals ?? []).length === 0) return false;
  upsertSearchAttributes([{ key: PatchKBsAttr, value: [...state.patches, ...(state.removals ?? [])].map((p) => p.kb) }]);
  return true;
}
