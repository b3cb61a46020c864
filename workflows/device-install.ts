import {
  ActivityFailure,
  TimeoutFailure,
  patched,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeviceCommandActivities, InstallBookkeepingActivities } from '../activities';
import type { PatchStateChange } from '../db/patch-repository';
import type { CleanupResult, CommandPayloads, CommandResults, PatchFile, RebootResult, ScanResult } from '../domain/device-protocol';
import { isInsideWindow, nextWindowStart } from '../domain/maintenance-window';
import { downloadSummary } from '../domain/file-source';
import { describeRebootAction, describeRebootSkip, planReboot, rebootInteractionSeconds, type RebootActionConfig } from '../domain/reboot-actions';
import { afterAnswer, initialUserDeferralState, nextUserDeferralStep } from '../domain/reboot-deferral';
import { enforcementOf, silenceOf, type Silence } from '../domain/install-deadline';
import { ExecutionOutcome, interpretExitCode, interpretUninstallExitCode } from '../domain/exit-codes';
import { planInstall } from '../domain/install-plan';
import { canTransition, PatchStatus } from '../domain/patch-status';
import { describeHealthCheck, rolledBackReason, type HealthCheckResult, type HealthCheckSettings } from '../domain/health-check';
import {
  resolveTiming,
  cancelInstallUpdate,
  haltInstallSignal,
  progressQuery,
  type InstallHalt,
  type DeviceInstallInput,
  type InstallCommandType,
  type InstallOutcome,
  type InstallProgress,
  type InstallResult,
  type InstallStep,
  type PatchProgress,
} from './install.contract';
import { PatchKBsAttr } from './search-attributes';
import { stepOptions } from './step-options';
import { BOOKKEEPING_RETRY } from './retry-policies';

/** patched() marker: patch selection by approval policy, superseded skips and uninstalls (issue 4). */
export const APPROVAL_POLICY_PATCH = 'approval-policy-selection';
/** patched() marker: cleanup has a deadline; past it the install ends "cleanup pending" (issue 11). */
export const BOUNDED_CLEANUP_PATCH = 'bounded-cleanup';
/** patched() marker: after a cancel during execute, a verifying scan decides that patch's status (issue 11). */
export const CANCEL_VERIFY_PATCH = 'cancel-during-execute-verified';
/** patched() marker: the kill switch's halt signal stops the install (issue 14 part 2). */
export const HALT_PATCH = 'halt-signal';
/**
 * patched() marker: bookkeeping in fewer, batched local activities (issue 15, ≤ 60 events): the scan and
 * the approval selection in one write, execute results written once after the loop, the post-scan and
 * its verdicts in one, the end (unreached patches, release) in one. Installs with it also take every
 * earlier marker's new path without asking (each patched() costs two history events).
 */
export const BATCHED_BOOKKEEPING_PATCH = 'batched-bookkeeping';
/**
 * patched() marker: after the post-scan, an install whose input has a health check runs it, and on a
 * failure rolls back what it installed (issue 14 part 6). Asked only by installs that have a check.
 */
export const HEALTH_CHECK_PATCH = 'health-check-rollback';
/**
 * patched() marker: the user-deferral reboot action (issue 14 part 4): ask, wait out each postponement
 * on a durable timer, force when they are used up or the deadline passed. Asked only by installs whose
 * reboot action is that one, which no install before it can have.
 */
export const USER_DEFERRAL_PATCH = 'reboot-user-deferral';
/** An agent polls at least every two minutes: a wait longer than this (less a prompt's time) is an absence. */
const SILENCE_SLACK_MS = 5 * 60_000;

/** Steps before anything runs on the device: a fleet-wide halt here cancels them and cleans up. */
const BEFORE_EXECUTE: ReadonlySet<InstallStep> = new Set(['claim', 'pre-scan', 'download', 'copy']);
const normaliseKb = (kb: string) => kb.trim().toUpperCase().replace(/^(\d)/, 'KB$1');

const bookkeeping = proxyLocalActivities<InstallBookkeepingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: BOOKKEEPING_RETRY,
});

/** Text of an activity failure's cause, for an operator: "HashMismatch: SHA-256 of … is …". */
function failureText(err: unknown): { type?: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? undefined, message: cause.message };
  return { message: cause instanceof Error ? cause.message : String(cause) };
}

/**
 * Installs patches on one device, step by step as an operator's runbook says:
 * pre-scan → download (working folder, SHA-256 checked) → copy (install folder) → execute → reboot
 * (when a patch needs it and the install may) → post-scan (verify) → cleanup (always).
 * Each device step is an activity the device's agent completes; an offline device is simply waited for.
 */
export async function deviceInstallWorkflow(input: DeviceInstallInput): Promise<InstallResult> {
  const timing = resolveTiming(input.timing);
  const { workflowId } = workflowInfo();
  // First, before any handler can run: every later decision between old and new paths reads it.
  const batched = patched(BATCHED_BOOKKEEPING_PATCH);
  const state: InstallProgress = { step: 'claim', patches: [], skippedKbs: [], cancelRequested: false, rebooted: false };
  const work = new CancellationScope();
  const files = new Map<string, PatchFile>();
  const auto = input.automatic;
  let offline = false;
  let priorAttempts: Record<string, number> = {};
  /** the patch whose execute is in flight: a cancel landing now may leave it installed */
  let executing: PatchProgress | undefined;
  /** patches this run's installers reported installed, in the order they ran (a rollback goes backwards) */
  const installedThisRun: PatchProgress[] = [];
  /** whether Windows can remove each scanned update (the catalog's `uninstallable`) */
  const uninstallable = new Map<string, boolean>();
  /** when the selected patches were first offered to the device (a deadline counts from it) */
  let availableAtMs: number | undefined;
  /**
   * Stretches the device did not answer, as this install saw them (workflow time): from its last
   * check-in before the install to the pre-scan's answer, and any reboot question answered late.
   */
  const silences: Silence[] = [];
  /** Workflow time in ms (the task's timestamp, the same on replay). */
  const nowMs = () => new Date().getTime();
  /** Notes a device answer: a wait longer than the device's own time plus the slack was an absence. */
  function heardFrom(sentMs: number, busyMs = 0): void {
    const silence = silenceOf(sentMs, nowMs(), busyMs, SILENCE_SLACK_MS);
    if (silence) silences.push(silence);
    lastContactMs = nowMs();
  }
  /** the device's last answer to this install (workflow time) */
  let lastContactMs = 0;

  setHandler(progressQuery, () => state);
  /** halts of one KB each, by normalised KB: that patch is skipped unless it already runs */
  const haltedKbs = new Map<string, InstallHalt>();
  // Only an install that records the marker acts on a halt: one that got the signal on older code
  // (no handler, the signal ignored) replays as it ran.
  setHandler(haltInstallSignal, ({ reason, by, kb }) => {
    if (state.step === 'cleanup' || state.step === 'done' || !(batched || patched(HALT_PATCH))) return;
    log.info('halt received', { reason, by, kb, step: state.step });
    if (kb !== undefined) {
      if (!haltedKbs.has(normaliseKb(kb))) haltedKbs.set(normaliseKb(kb), { reason, by });
      return;
    }
    if (state.halted) return;
    state.halted = { reason, by, step: state.step };
    // Nothing has run on the device yet: stop the steps now (cleanup still runs). From execute on,
    // the patch in hand finishes and the loops stop before the next one.
    if (BEFORE_EXECUTE.has(state.step)) work.cancel();
  });
  /** The halt of this patch's KB, if one arrived. */
  const kbHalt = (p: PatchProgress) => haltedKbs.get(normaliseKb(p.kb));
  /** Marks a patch a KB halt took out: Missing again, with who halted it and why. */
  async function skipHaltedKb(p: PatchProgress, halt: InstallHalt): Promise<void> {
    (state.haltedKbs ??= []).push({ kb: p.kb, ...halt });
    await record([{ updateId: p.updateId, kb: p.kb, status: PatchStatus.Missing, error: `halted by ${halt.by}: ${halt.reason}` }]);
  }
  setHandler(
    cancelInstallUpdate,
    ({ reason }) => {
      state.cancelRequested = true;
      log.info('cancel requested', { reason });
      work.cancel();
      return { accepted: true, step: state.step };
    },
    {
      validator: (_request) => {
        if (state.step === 'cleanup' || state.step === 'done') throw new Error(`install is already at ${state.step}`);
      },
    },
  );

  const device = proxyActivities<DeviceCommandActivities>(stepOptions(timing, { attemptSeconds: 3600 }));

  /**
   * One device step, with its own per-attempt timeout (the step's, plus `extraSeconds`), an optional
   * deadline for the whole step, and a summary the Web UI shows. Every device step goes through here.
   */
  async function command<T extends InstallCommandType>(
    type: T, payload: CommandPayloads[T], summary: string, limits: { deadlineSeconds?: number; extraSeconds?: number } = {},
  ): Promise<CommandResults[T]> {
    const attemptSeconds = timing.commandTimeoutSeconds[type] + (limits.extraSeconds ?? 0);
    const options = stepOptions(timing, { attemptSeconds, summary, ...(limits.deadlineSeconds === undefined ? {} : { deadlineSeconds: limits.deadlineSeconds }) });
    return (await device.deviceCommand.executeWithOptions(options, [input.deviceId, type, payload])) as CommandResults[T];
  }

  function enter(step: InstallStep, details: string): void {
    state.step = step;
    setCurrentDetails(`**${step}**: ${details}`);
  }

  /** Applies status changes to the progress and writes them; a change the status rules forbid is logged and dropped. */
  async function record(changes: (PatchStateChange & { kb: string })[]): Promise<void> {
    await bookkeeping.recordPatchStates({ deviceId: input.deviceId, workflowId, changes: apply(changes) });
  }

  /** Status changes decided but not yet written (batched installs write execute results after the loop). */
  const unwritten: (PatchStateChange & { kb: string })[] = [];
  /** Like record; a batched install keeps the changes for the next flush. */
  async function recordLater(changes: (PatchStateChange & { kb: string })[]): Promise<void> {
    if (!batched) return record(changes);
    unwritten.push(...apply(changes));
  }
  async function flush(): Promise<void> {
    if (unwritten.length === 0) return;
    await bookkeeping.recordPatchStates({ deviceId: input.deviceId, workflowId, changes: unwritten.splice(0) });
  }

  /** Applies status changes to the progress; returns those the status rules allow (the others are logged and dropped). */
  function apply(changes: (PatchStateChange & { kb: string })[]): (PatchStateChange & { kb: string })[] {
    const allowed = changes.filter((c) => {
      const p = state.patches.find((x) => x.updateId === c.updateId);
      if (!p || canTransition(p.status, c.status)) return true;
      log.warn('status change refused by the status rules', { kb: c.kb, from: p.status, to: c.status });
      return false;
    });
    for (const c of allowed) {
      const p = state.patches.find((x) => x.updateId === c.updateId);
      if (p) {
        p.status = c.status;
        if (c.exitCode !== undefined) p.exitCode = c.exitCode;
        if (c.error !== undefined) p.error = c.error;
      }
    }
    return allowed;
  }

  const change = (p: PatchProgress, status: PatchStatus, extra: Partial<PatchStateChange> = {}) => {
    // Automatic Update retries a failed patch at its next scheduled runs: it shows Pending, with the
    // error, until the failures reach the cap; only then is it Failed (N-able's reprocessing).
    if (auto && status === PatchStatus.Failed && (priorAttempts[p.updateId] ?? 0) + 1 < auto.failureCap) {
      return { updateId: p.updateId, kb: p.kb, status: PatchStatus.Pending, ...extra,
        error: `${extra.error ?? 'failed'}; will retry at the next scheduled run (${(priorAttempts[p.updateId] ?? 0) + 1} of ${auto.failureCap})` };
    }
    return { updateId: p.updateId, kb: p.kb, status, ...extra };
  };
  const now = () => new Date().toISOString(); // workflow time: the task's timestamp, deterministic on replay

  async function scan(reason: string, deadlineSeconds?: number): Promise<{ scan: ScanResult; catalog: Record<string, PatchFile> }> {
    const result = await scanDevice(reason, deadlineSeconds);
    const catalog = await bookkeeping.recordScan(input.deviceId, result);
    return { scan: result, catalog };
  }

  /** The scan step on the device only; with a deadline, an unanswered scan fails with a timeout. */
  async function scanDevice(reason: string, deadlineSeconds?: number): Promise<ScanResult> {
    return deadlineSeconds === undefined
      ? command('scan', { reason }, `${reason} of ${input.deviceName}`)
      : command('scan', { reason }, `${reason} of ${input.deviceName} (offline after ${deadlineSeconds} s)`, { deadlineSeconds });
  }

  /**
   * The runbook, step by step; cleanup (the seventh step) follows in the caller whatever happened.
   * A step that leaves nothing for the next ends the run.
   */
  async function runSteps(): Promise<void> {
    if (!(await preScan())) return;
    const downloaded = await download();
    if (downloaded.length === 0 && (state.removals ?? []).length === 0) return;
    await copy(downloaded);
    await execute(downloaded);
    const removalNeedsReboot = await uninstall();
    await reboot(removalNeedsReboot);
    await postScan();
    // Only an install that has a check asks the marker: every install recorded before it replays as it ran.
    if (input.healthCheck && patched(HEALTH_CHECK_PATCH)) await healthCheckAndRollBack(input.healthCheck);
  }

  /** Step 1: scan the device, plan the install and ask the approval policy. False: nothing to do. */
  async function preScan(): Promise<boolean> {
    enter('pre-scan', `scanning ${input.deviceName}`);
    let scanned: ScanResult;
    // From the device's last check-in (the rollout's listing) to this answer: a deadline inside it fell while it was away.
    const lastSeenMs = auto?.lastSeenAt ? Date.parse(auto.lastSeenAt) : nowMs();
    try {
      scanned = await scanDevice('pre-scan', auto?.offlineAfterSeconds);
      heardFrom(lastSeenMs);
    } catch (err) {
      if (auto && !isCancellation(err) && err instanceof ActivityFailure && err.cause instanceof TimeoutFailure) {
        // An Automatic Update does not wait for an offline device: it is reported offline and
        // picked up by the next run. Nothing reached the device, so nothing needs cleaning up.
        offline = true;
        return false;
      }
      throw err;
    }
    // A batched install stores the scan together with the approval selection (recordPreScan below).
    const pre = { scan: scanned, catalog: batched ? {} : await bookkeeping.recordScan(input.deviceId, scanned) };
    // Installs started before approval policies existed (recorded histories) take the old path.
    const byPolicy = batched || patched(APPROVAL_POLICY_PATCH);
    for (const u of pre.scan.updates) uninstallable.set(u.updateId, u.uninstallable);
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
      if (batched) ({ catalog: pre.catalog, selection: verdict } = await bookkeeping.recordPreScan({ scan: pre.scan, question }));
      else verdict = await bookkeeping.selectByApproval(question);
      priorAttempts = verdict.attempts ?? {};
      if (verdict.availableAt) availableAtMs = Date.parse(verdict.availableAt);
      const allowed = new Set(verdict.allowed);
      const remove = new Set(verdict.uninstall);
      state.refused = verdict.refused;
      patches = patches.filter((u) => allowed.has(u.updateId));
      state.removals = pre.scan.updates.filter((u) => u.installed && remove.has(u.updateId))
        .map((u) => ({ updateId: u.updateId, kb: u.kb, title: u.title, status: PatchStatus.Installed }));
    }
    state.patches = patches.map((u) => ({ updateId: u.updateId, kb: u.kb, title: u.title, status: PatchStatus.Pending }));
    for (const u of patches) files.set(u.updateId, pre.catalog[u.updateId]);
    if (state.patches.length === 0 && (state.removals ?? []).length === 0) return false;
    upsertSearchAttributes([{ key: PatchKBsAttr, value: [...state.patches, ...(state.removals ?? [])].map((p) => p.kb) }]);
    return true;
  }

  /** Step 2: inside the maintenance window, download each patch to the working folder (SHA-256 checked). */
  async function download(): Promise<PatchProgress[]> {
    const downloaded: PatchProgress[] = [];
    if (state.patches.length === 0) return downloaded;
    // A batched install writes Pending only when it has to wait for the window: else Installing at once.
    if (!batched || outsideMaintenanceWindow()) await record(state.patches.map((p) => change(p, PatchStatus.Pending)));
    await waitForMaintenanceWindow();
    enter('download', `${state.patches.length} patches to ${input.workingFolder}`);
    await record(state.patches.map((p) => change(p, PatchStatus.Installing)));
    for (const p of state.patches) {
      const halt = kbHalt(p);
      if (halt) {
        await skipHaltedKb(p, halt);
        continue;
      }
      try {
        const got = await command('download', { patch: files.get(p.updateId)!, workingFolder: input.workingFolder }, `download ${p.kb}`);
        downloaded.push(p);
        // Not a command: the progress, the result and the Web UI's current details say which source served it.
        if (got?.source) {
          p.download = got.source;
          setCurrentDetails(`**download**: ${downloaded.length} of ${state.patches.length} to ${input.workingFolder}; ${p.kb} ${downloadSummary(got.source)}`);
        }
      } catch (err) {
        if (isCancellation(err)) throw err;
        const f = failureText(err);
        // A permanent download failure (e.g. a hash mismatch) fails this patch, never the others.
        await record([change(p, PatchStatus.Failed, { error: `download refused: ${f.message}`, countFailure: true })]);
      }
    }
    return downloaded;
  }

  /** Step 3: copy what downloaded to the install folder. */
  async function copy(downloaded: PatchProgress[]): Promise<void> {
    if (downloaded.length === 0) return;
    enter('copy', `${downloaded.length} patches to ${input.installFolder}`);
    await command(
      'copy',
      { patches: downloaded.map((p) => files.get(p.updateId)!), workingFolder: input.workingFolder, installFolder: input.installFolder },
      `copy ${downloaded.length} patches to ${input.installFolder}`,
    );
  }

  /** Step 4: run each installer in turn, while the window is open and no halt stops the run. */
  async function execute(downloaded: PatchProgress[]): Promise<void> {
    if (downloaded.length === 0) return;
    for (const p of downloaded) {
      if (state.halted) {
        // The kill switch: the patch in hand has finished; the rest stay for a later run.
        log.info('halted; remaining patches are not executed', { kb: p.kb });
        break;
      }
      const halt = kbHalt(p);
      if (halt) {
        await skipHaltedKb(p, halt);
        continue;
      }
      if (outsideMaintenanceWindow()) {
        // The window closed: what has not run stays for the next run (cleanup turns it back to Missing).
        log.info('maintenance window closed; remaining patches wait for the next run', { kb: p.kb });
        break;
      }
      enter('execute', `${p.kb} (${downloaded.indexOf(p) + 1} of ${downloaded.length})`);
      await executeOne(p);
    }
    await flush();
  }

  /** Step 4b: an operator's Uninstall actions. True when a removal asks for a restart. */
  async function uninstall(): Promise<boolean> {
    let removalNeedsReboot = false;
    for (const r of state.removals ?? []) {
      if (state.halted) break;
      enter('uninstall', `${r.kb} (an operator's Uninstall action)`);
      const result = await command('uninstall', { updateId: r.updateId, kb: r.kb }, `uninstall ${r.kb}`);
      const meaning = interpretUninstallExitCode(result.exitCode, result.notInstalled);
      r.exitCode = result.exitCode;
      if (meaning.removed) {
        removalNeedsReboot ||= meaning.pendingReboot;
      } else {
        r.error = meaning.description;
        await bookkeeping.recordPatchStates({
          deviceId: input.deviceId, workflowId,
          changes: [{ updateId: r.updateId, kb: r.kb, status: PatchStatus.Installed, exitCode: result.exitCode, error: `uninstall failed: ${meaning.description}` }],
        });
      }
    }
    return removalNeedsReboot;
  }

  /** Step 5: restart the device when a patch (or a removal) needs it and the install may. */
  async function reboot(removalNeedsReboot: boolean): Promise<void> {
    const needsReboot = removalNeedsReboot || state.patches.some((p) => p.status === PatchStatus.RebootRequired);
    if (needsReboot && state.halted) {
      // A halted install does no more to the device than finish the patch in hand.
      state.rebootSkipped = `halted by ${state.halted.by}: ${state.halted.reason}; patches stay Reboot Required`;
    } else if (needsReboot && input.rebootAllowed && auto) {
      await rebootAsTheActionSays();
    } else if (needsReboot && input.rebootAllowed) {
      enter('reboot', `restarting ${input.deviceName} to finish ${state.patches.filter((p) => p.status === PatchStatus.RebootRequired).length} patches`);
      await command('reboot', { reason: 'patches installed pending reboot' }, `reboot ${input.deviceName}`);
      state.rebooted = true;
    }
  }

  /** Step 6: scan again and settle each patch by what the device now reports. */
  async function postScan(): Promise<void> {
    enter('post-scan', 'verifying what was installed');
    const post = batched ? { scan: await scanDevice('post-scan') } : await scan('post-scan');
    const installedNow = new Set(post.scan.updates.filter((u) => u.installed).map((u) => u.updateId));
    const verified: (PatchStateChange & { kb: string })[] = [];
    for (const p of state.patches) {
      if (p.status === PatchStatus.RebootRequired && installedNow.has(p.updateId)) {
        verified.push(change(p, PatchStatus.Installed, { installedAt: now() }));
      } else if (p.status === PatchStatus.Installed && !installedNow.has(p.updateId) && post.scan.updates.some((u) => u.updateId === p.updateId)) {
        verified.push(change(p, PatchStatus.Failed, { error: 'post-scan still reports the patch missing', countFailure: true }));
      }
    }
    // A removal counts once the post-scan no longer finds the update installed: it is Missing again.
    for (const r of state.removals ?? []) {
      if (r.error) continue;
      r.status = installedNow.has(r.updateId) ? PatchStatus.Installed : PatchStatus.Missing;
      if (r.status === PatchStatus.Installed) r.error = 'post-scan still reports the update installed (a reboot may finish the removal)';
      verified.push({ updateId: r.updateId, kb: r.kb, status: r.status, exitCode: r.exitCode, ...(r.error ? { error: r.error } : {}) });
    }
    if (batched) await bookkeeping.recordPostScan({ deviceId: input.deviceId, workflowId, scan: post.scan, changes: apply(verified) });
    else await record(verified);
  }

  /**
   * Step 6b (installs with a health check): ask the device whether it is still healthy. When it is not,
   * uninstall what this run installed, newest first, skipping what Windows cannot remove; restart if a
   * removal asks for it; check once more. The removed patches are Failed "rolled back: health check
   * failed" with the check's output (a failure for the rollout and a ring's gate). An uninstall that
   * fails, or a device still unhealthy after the rollback, leaves the device "needs attention": nothing
   * is retried here, so it can never loop.
   */
  async function healthCheckAndRollBack(settings: HealthCheckSettings): Promise<void> {
    const installed = installedThisRun.filter((p) => p.status === PatchStatus.Installed || p.status === PatchStatus.RebootRequired);
    if (installed.length === 0) return;
    const what = describeHealthCheck(settings.check);
    async function check(reason: string): Promise<HealthCheckResult> {
      enter('health-check', `${what} (${reason})`);
      if (settings.settleSeconds) await sleep(settings.settleSeconds * 1000);
      return command('health_check', { check: settings.check, reason }, `health check of ${input.deviceName} ${reason}: ${what}`);
    }
    const first = await check('after install');
    state.healthCheck = { check: what, healthy: first.healthy, output: first.output };
    if (first.healthy) return;

    const removed: PatchProgress[] = [];
    const problems: string[] = [];
    let removalNeedsReboot = false;
    for (const p of [...installed].reverse()) {
      if (!uninstallable.get(p.updateId)) {
        problems.push(`${p.kb} cannot be uninstalled`);
        continue;
      }
      enter('rollback', `uninstalling ${p.kb}: health check failed`);
      let meaning: ReturnType<typeof interpretUninstallExitCode>;
      try {
        const r = await command('uninstall', { updateId: p.updateId, kb: p.kb }, `roll back ${p.kb}: health check failed`);
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
      enter('reboot', `restarting ${input.deviceName} to finish the rollback`);
      await command('reboot', { reason: 'rollback after a failed health check' }, `reboot ${input.deviceName}: finish the rollback`);
      state.rebooted = true;
    } else if (removalNeedsReboot) {
      problems.push('the rollback waits for a restart the install may not do');
    }
    let after: HealthCheckResult | undefined;
    if (removed.length > 0) {
      after = await check('after rollback');
      state.healthCheck.afterRollback = { healthy: after.healthy, output: after.output };
      if (!after.healthy) problems.push(`still unhealthy after the rollback: ${after.output}`);
    } else if (problems.length === 0) {
      problems.push('nothing could be rolled back');
    }
    state.rolledBack = removed.map((p) => p.kb);
    const changes = apply(removed.map((p) => ({
      updateId: p.updateId, kb: p.kb, status: PatchStatus.Failed, error: rolledBackReason(first.output), countFailure: true, rolledBack: true,
    })));
    if (problems.length > 0) state.needsAttention = `health check failed (${first.output}); ${problems.join('; ')}`;
    await bookkeeping.recordRollback({
      deviceId: input.deviceId, workflowId, changes, ...(state.needsAttention ? { needsAttention: state.needsAttention } : {}),
    });
  }

  function outsideMaintenanceWindow(): boolean {
    return Boolean(auto?.maintenanceWindow) && !isInsideWindow(auto!.maintenanceWindow!, new Date(), auto!.timezone);
  }

  /** Installs start only inside the maintenance window: wait for it on a durable timer. */
  async function waitForMaintenanceWindow(): Promise<void> {
    if (!auto?.maintenanceWindow || !outsideMaintenanceWindow()) return;
    const start = nextWindowStart(auto.maintenanceWindow, new Date(), auto.timezone);
    enter('pre-scan', `waiting for the maintenance window (${start.toISOString()})`);
    await sleep(Math.max(1000, start.getTime() - new Date().getTime()));
  }

  /** One reboot after all patches, as the Automatic Update's reboot action says (Kaseya's eight). */
  async function rebootAsTheActionSays(): Promise<void> {
    const a = auto!;
    if (a.rebootAction.action === 'ask_user_allow_deferrals' && patched(USER_DEFERRAL_PATCH)) {
      if (outsideMaintenanceWindow()) {
        state.rebootSkipped = 'outside the maintenance window; patches stay Reboot Required';
        return;
      }
      await rebootWithUserDeferrals(a.rebootAction);
      return;
    }
    const plan = planReboot(a.rebootAction, { rebootNeeded: true, now: new Date(), timezone: a.timezone, reason: 'patches installed pending reboot' });
    if (plan.kind === 'none') {
      state.rebootSkipped = plan.detail;
      return;
    }
    let payload = plan.kind === 'command' ? plan.payload : plan.then;
    if (plan.kind === 'wait_until') {
      enter('reboot', `reboot scheduled for ${plan.at.toISOString()} (${describeRebootAction(a.rebootAction)})`);
      await sleep(Math.max(1000, plan.at.getTime() - new Date().getTime()));
      payload = plan.then;
    }
    if (outsideMaintenanceWindow()) {
      state.rebootSkipped = 'outside the maintenance window; patches stay Reboot Required';
      return;
    }
    enter('reboot', `${describeRebootAction(a.rebootAction)} on ${input.deviceName}`);
    // A warning or a prompt can keep the device up for as long as the action allows.
    const result: RebootResult = await command('reboot', payload, `reboot ${input.deviceName}: ${describeRebootAction(a.rebootAction)}`,
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
  async function rebootWithUserDeferrals(config: Extract<RebootActionConfig, { action: 'ask_user_allow_deferrals' }>): Promise<void> {
    const what = describeRebootAction(config);
    const reason = 'patches installed pending reboot';
    let st = initialUserDeferralState();
    const record = () => {
      state.rebootDeferrals = {
        ...state.rebootDeferrals,
        postponed: st.history.map((h) => ({ at: new Date(h.atMs).toISOString(), minutes: h.minutes })),
      };
    };
    for (;;) {
      const deadline = config.deadlineDays === undefined || availableAtMs === undefined ? undefined
        : enforcementOf({ deadlineDays: config.deadlineDays, graceDays: config.graceDays }, availableAtMs, silences);
      if (deadline) {
        state.rebootDeferrals = {
          postponed: [], ...state.rebootDeferrals, deadline: new Date(deadline.deadlineMs).toISOString(),
          forceAt: new Date(deadline.forceAtMs).toISOString(), offlineAtDeadline: deadline.offlineAtDeadline,
          ...(deadline.cameBackMs === undefined ? {} : { cameBackAt: new Date(deadline.cameBackMs).toISOString() }),
        };
      }
      const step = nextUserDeferralStep(config, st, nowMs(), deadline?.forceAtMs, reason);
      if (step.kind === 'done') break;
      if (step.kind === 'wait') {
        enter('reboot', `postponed by the user until ${new Date(step.untilMs).toISOString()} (${st.deferralsUsed} of ${config.deferrals})`);
        await sleep(Math.max(1000, step.untilMs - nowMs()));
        continue;
      }
      if (step.kind === 'force' && deadline && nowMs() >= deadline.forceAtMs && lastContactMs < deadline.deadlineMs) {
        // Not heard from since before the deadline: is the device there? A scan answers at once when it
        // is; an answer that comes late means it was away at the deadline, and its grace counts from now.
        enter('reboot', `deadline passed: checking that ${input.deviceName} is online before forcing the restart`);
        const sentMs = nowMs();
        await scanDevice('presence check at the reboot deadline');
        heardFrom(sentMs);
        continue;
      }
      if (step.kind === 'force') {
        const why = deadline && step.why.startsWith('the deadline') ? `${step.why}: ${deadline.why}` : step.why;
        enter('reboot', `forced restart of ${input.deviceName}: ${why}`);
        await command('reboot', step.payload, `reboot ${input.deviceName}: forced (${why})`);
        state.rebootDeferrals = { postponed: [], ...state.rebootDeferrals, forced: why };
        record();
        state.rebooted = true;
        return;
      }
      enter('reboot', `${what} on ${input.deviceName}`);
      const sentMs = nowMs();
      const result: RebootResult = await command('reboot', step.payload, `reboot ${input.deviceName}: ${what}`,
        { extraSeconds: rebootInteractionSeconds(config) });
      heardFrom(sentMs, (result.waitedMinutes ?? 0) * 60_000);
      st = afterAnswer(config, st, result, nowMs());
      record();
    }
    state.rebooted = true;
  }

  async function executeOne(p: PatchProgress): Promise<void> {
    for (let busy = 0; ; busy++) {
      let exitCode: number;
      try {
        executing = p;
        const r = await command('execute', { patch: files.get(p.updateId)!, installFolder: input.installFolder }, `execute ${p.kb}`);
        exitCode = r.exitCode;
      } catch (err) {
        if (isCancellation(err)) throw err; // `executing` stays set: the device may have run it
        executing = undefined;
        await recordLater([change(p, PatchStatus.Failed, { error: `not executed: ${failureText(err).message}`, countFailure: true })]);
        return;
      }
      executing = undefined;
      const meaning = interpretExitCode(exitCode);
      const error = `${meaning.display} ${meaning.name}: ${meaning.description}${meaning.hint ? ` ${meaning.hint}` : ''}`;
      switch (meaning.outcome) {
        case ExecutionOutcome.Installed:
          installedThisRun.push(p);
          return recordLater([change(p, PatchStatus.Installed, { exitCode, installedAt: now() })]);
        case ExecutionOutcome.AlreadyInstalled:
          // Windows had it already: Installed, but with no install date, since Patchflow did not install it.
          return recordLater([change(p, PatchStatus.Installed, { exitCode })]);
        case ExecutionOutcome.InstalledPendingReboot:
          installedThisRun.push(p);
          return recordLater([change(p, PatchStatus.RebootRequired, { exitCode })]);
        case ExecutionOutcome.NotApplicable:
          return recordLater([change(p, PatchStatus.Missing, { exitCode, error })]);
        case ExecutionOutcome.Busy:
          // Halted while the installer mutex was held: the patch never ran, so it is simply not retried.
          if (state.halted) return;
          if (busy < timing.busyRetries) {
            // Another installer holds the Windows Installer mutex: wait, retry, count no failure.
            await flush(); // what is known is written before a wait
            await sleep(`${timing.busyBackoffSeconds} seconds`);
            continue;
          }
          return recordLater([change(p, PatchStatus.Failed, { exitCode, error: `${error} (still busy after ${busy + 1} tries)`, countFailure: true })]);
        default:
          return recordLater([change(p, PatchStatus.Failed, { exitCode, error, countFailure: true })]);
      }
    }
  }

  /** True when a step failed because its schedule-to-close deadline passed (the device never answered). */
  const deadlinePassed = (err: unknown) => err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;

  /**
   * A cancel that lands while a patch executes cannot stop the installer on the device: the patch
   * may be installed. A verifying scan decides; if the device does not answer in time, the patch
   * stays Installing (with a note) for its next scan to settle, never Missing on a guess.
   */
  async function verifyAfterCancelDuringExecute(p: PatchProgress): Promise<void> {
    enter('post-scan', `verifying ${p.kb} after the cancel`);
    try {
      const post = await scan('post-scan', timing.cleanupDeadlineSeconds);
      const reported = post.scan.updates.find((u) => u.updateId === p.updateId);
      const installed = !reported || reported.installed;
      await record([change(p, installed ? PatchStatus.Installed : PatchStatus.Missing, installed ? { installedAt: now() } : {})]);
    } catch (err) {
      if (!deadlinePassed(err)) throw err;
      p.error = 'cancelled while executing; the device did not answer the verifying scan, its next scan decides';
      await bookkeeping.recordPatchStates({ deviceId: input.deviceId, workflowId, changes: [{ updateId: p.updateId, kb: p.kb, status: PatchStatus.Installing, error: p.error }] });
    }
  }

  /** Cleanup of the device's folders; bounded, so an offline device cannot hold the install (and the device claim) for ever. */
  async function cleanUpFolders(): Promise<void> {
    const payload = { workingFolder: input.workingFolder, installFolder: input.installFolder };
    if (!(batched || patched(BOUNDED_CLEANUP_PATCH))) {
      cleanup = await command('cleanup', payload, 'cleanup working and install folders');
      return;
    }
    try {
      cleanup = await command('cleanup', payload,
        `cleanup working and install folders (pending for the next check-in after ${timing.cleanupDeadlineSeconds} s)`,
        { deadlineSeconds: timing.cleanupDeadlineSeconds });
    } catch (err) {
      if (!deadlinePassed(err)) throw err;
      // The device is away: its cleanup command stays queued, and it gets it at its next check-in.
      await bookkeeping.queueCleanupForCheckIn({ deviceId: input.deviceId, workflowId });
      state.cleanupPending = `${input.deviceName} did not answer cleanup within ${timing.cleanupDeadlineSeconds} s; it runs at the device's next check-in`;
    }
  }

  /**
   * Step 7: cleanup, whatever happened before (a stop or a failure included): withdraw what the device
   * has not answered, verify a patch a cancel caught executing, empty both folders, put unreached
   * patches back to Missing and release the device.
   */
  async function cleanUp(outcomeError: unknown): Promise<void> {
    enter('cleanup', `emptying ${input.workingFolder} and ${input.installFolder}`);
    await flush(); // results a stop caught before the loop's end
    // Every step that ended normally was answered; only a stop or a failure can leave one open.
    if (!batched || outcomeError !== undefined) await bookkeeping.withdrawOpenCommands({ workflowId });
    const interrupted = executing;
    if (interrupted && isCancellation(outcomeError) && (batched || patched(CANCEL_VERIFY_PATCH))) {
      await verifyAfterCancelDuringExecute(interrupted);
      enter('cleanup', `emptying ${input.workingFolder} and ${input.installFolder}`);
    }
    await cleanUpFolders();
    // Patches the install never reached are Missing again, not stuck in Pending or Installing.
    // (A Pending patch with an error is an Automatic Update retry, waiting for the next run; an
    // Installing patch with an error was cancelled mid-execute and waits for the device's next scan.)
    const unfinished = state.patches.filter((p) => (p.status === PatchStatus.Pending || p.status === PatchStatus.Installing) && !p.error);
    if (batched) {
      const changes = apply(unfinished.map((p) => change(p, PatchStatus.Missing)));
      if (changes.length > 0 || !input.operationHolder) {
        await bookkeeping.finishInstall({ deviceId: input.deviceId, workflowId, changes, release: !input.operationHolder });
      }
    } else {
      await record(unfinished.map((p) => change(p, PatchStatus.Missing)));
      if (!input.operationHolder) await bookkeeping.releaseDeviceOperation({ deviceId: input.deviceId, workflowId });
    }
  }

  let outcomeError: unknown;
  let cleanup: CleanupResult | null = null;
  await bookkeeping.claimDeviceOperation({ deviceId: input.deviceId, workflowId: input.operationHolder ?? workflowId, operation: 'install' });
  try {
    await work.run(runSteps); // steps 1–6
  } catch (err) {
    outcomeError = err;
  } finally {
    // Cleanup cannot itself be cancelled. An offline Automatic Update staged nothing: no cleanup.
    if (!offline) await CancellationScope.nonCancellable(() => cleanUp(outcomeError));
    enter('done', state.cleanupPending ? 'cleanup pending until the device checks in' : 'finished');
  }

  if (outcomeError !== undefined) {
    if (isCancellation(outcomeError) && state.halted && !state.cancelRequested) return { ...state, outcome: 'halted', cleanup };
    if (isCancellation(outcomeError) && state.cancelRequested) {
      return { ...state, outcome: state.cleanupPending ? 'cleanup_pending' : 'cancelled', cleanup };
    }
    throw outcomeError;
  }
  if (offline) {
    // Patches never reached: no status changed, nothing was staged; the claim goes back.
    await bookkeeping.releaseDeviceOperation({ deviceId: input.deviceId, workflowId });
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
