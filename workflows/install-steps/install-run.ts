/**
 * The state of one install and the few things every step does with it: ask the device, enter a step,
 * write status changes. The steps (the other modules of this folder) take an InstallRun and nothing else.
 */
import {
  type ActivityInterfaceFor,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  TimeoutFailure,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  workflowInfo,
} from '@temporalio/workflow';
import type { DeviceCommandActivities, InstallBookkeepingActivities } from '../../activities';
import type { PatchStateChange } from '../../db/patch-repository';
import type { CleanupResult, CommandPayloads, CommandResults, PatchFile, ScanResult } from '../../domain/device-protocol';
import { isInsideWindow } from '../../domain/maintenance-window';
import { silenceOf, type Silence } from '../../domain/install-deadline';
import { canTransition, PatchStatus } from '../../domain/patch-status';
import {
  resolveTiming,
  type AutomaticInstallSettings,
  type DeviceInstallInput,
  type InstallCommandType,
  type InstallHalt,
  type InstallProgress,
  type InstallStep,
  type InstallTiming,
  type PatchProgress,
  type TimedCommandType,
} from '../install.contract';
import { stepOptions } from '../step-options';
import { BOOKKEEPING_RETRY } from '../retry-policies';

/** An agent polls at least every two minutes: a wait longer than this (less a prompt's time) is an absence. */
const SILENCE_SLACK_MS = 5 * 60_000;

export type Change = PatchStateChange & { kb: string };

export const bookkeeping = proxyLocalActivities<InstallBookkeepingActivities>({
  startToCloseTimeout: '30 seconds',
  retry: BOOKKEEPING_RETRY,
});

export const normaliseKb = (kb: string) => kb.trim().toUpperCase().replace(/^(\d)/, 'KB$1');

/** Text of an activity failure's cause, for an operator: "HashMismatch: SHA-256 of … is …". */
export function failureText(err: unknown): { type?: string; message: string } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { type: cause.type ?? undefined, message: cause.message };
  return { message: cause instanceof Error ? cause.message : String(cause) };
}

/** True when a step failed because its schedule-to-close deadline passed (the device never answered). */
export const deadlinePassed = (err: unknown) => err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;

/** Limits of one device step beyond its type's timeout. */
export interface StepLimits {
  /** a deadline for the whole step: past it the step fails with a timeout */
  deadlineSeconds?: number;
  /** added to the step type's per-attempt timeout (a prompt's time, a batch's size) */
  extraSeconds?: number;
}

export class InstallRun {
  readonly timing: InstallTiming;
  readonly workflowId = workflowInfo().workflowId;
  readonly state: InstallProgress = { step: 'claim', patches: [], skippedKbs: [], cancelRequested: false, rebooted: false };
  /** the steps before cleanup: a cancel or a halt before execute cancels this scope */
  readonly work = new CancellationScope();
  /** the catalog's file of each selected patch */
  readonly files = new Map<string, PatchFile>();
  readonly auto: AutomaticInstallSettings | undefined;
  /** an Automatic Update whose device did not answer the pre-scan: nothing was staged */
  offline = false;
  /** earlier failures of each patch (Automatic Update's retry cap) */
  priorAttempts: Record<string, number> = {};
  /** the patches whose execute is in flight (one, or an execute_patches batch): a cancel landing now may leave them installed */
  executing: PatchProgress[] | undefined;
  /**
   * whether this install recorded BATCHED_EXECUTE_PATCH (asked by the pre-scan of a batched install
   * that has patches): one execute_patches command, and Installing written with the pre-scan
   */
  batchedExecute = false;
  /** the pre-scan's bookkeeping already wrote Installing (inside the maintenance window): download does not again */
  installingWritten = false;
  /** patches this run's installers reported installed, in the order they ran (a rollback goes backwards) */
  readonly installedThisRun: PatchProgress[] = [];
  /** whether Windows can remove each scanned update (the catalog's `uninstallable`) */
  readonly uninstallable = new Map<string, boolean>();
  /** when the selected patches were first offered to the device (a deadline counts from it) */
  availableAtMs: number | undefined;
  /**
   * Stretches the device did not answer, as this install saw them (workflow time): from its last
   * check-in before the install to the pre-scan's answer, and any reboot question answered late.
   */
  readonly silences: Silence[] = [];
  /** the device's last answer to this install (workflow time) */
  lastContactMs = 0;
  /** halts of one KB each, by normalised KB: that patch is skipped unless it already runs */
  readonly haltedKbs = new Map<string, InstallHalt>();
  /** what the cleanup step answered (null: it did not run, or did not answer in time) */
  cleanup: CleanupResult | null = null;
  /** Status changes decided but not yet written (batched installs write execute results after the loop). */
  private readonly unwritten: Change[] = [];
  private readonly device: ActivityInterfaceFor<DeviceCommandActivities>;

  /** `batched`: whether this install recorded BATCHED_BOOKKEEPING_PATCH (asked first, before any handler). */
  constructor(readonly input: DeviceInstallInput, readonly batched: boolean) {
    this.timing = resolveTiming(input.timing);
    this.auto = input.automatic;
    // Every call gives its own options (executeWithOptions): these are only the proxy's required defaults.
    this.device = proxyActivities<DeviceCommandActivities>(stepOptions(this.timing, { attemptSeconds: 3600 }));
  }

  /**
   * One device step, with its own per-attempt timeout (the step's, plus `extraSeconds`), an optional
   * deadline for the whole step, and a summary the Web UI shows. Every device step goes through here.
   */
  async command<T extends InstallCommandType>(type: T, payload: CommandPayloads[T], summary: string, limits: StepLimits = {}): Promise<CommandResults[T]> {
    const attemptSeconds = this.timing.commandTimeoutSeconds[type === 'execute_patches' ? 'execute' : type as TimedCommandType] + (limits.extraSeconds ?? 0);
    const options = stepOptions(this.timing, { attemptSeconds, summary, ...(limits.deadlineSeconds === undefined ? {} : { deadlineSeconds: limits.deadlineSeconds }) });
    return (await this.device.deviceCommand.executeWithOptions(options, [this.input.deviceId, type, payload])) as CommandResults[T];
  }

  /** The scan step on the device only; with a deadline, an unanswered scan fails with a timeout. */
  scanDevice(reason: string, deadlineSeconds?: number): Promise<ScanResult> {
    const name = this.input.deviceName;
    return deadlineSeconds === undefined
      ? this.command('scan', { reason }, `${reason} of ${name}`)
      : this.command('scan', { reason }, `${reason} of ${name} (offline after ${deadlineSeconds} s)`, { deadlineSeconds });
  }

  /** A scan, then its bookkeeping (installs before batched bookkeeping): the scan and the catalog's files. */
  async scan(reason: string, deadlineSeconds?: number): Promise<{ scan: ScanResult; catalog: Record<string, PatchFile> }> {
    const result = await this.scanDevice(reason, deadlineSeconds);
    const catalog = await bookkeeping.recordScan(this.input.deviceId, result);
    return { scan: result, catalog };
  }

  enter(step: InstallStep, details: string): void {
    this.state.step = step;
    setCurrentDetails(`**${step}**: ${details}`);
  }

  /** Workflow time in ms (the task's timestamp, the same on replay). */
  nowMs(): number {
    return new Date().getTime();
  }

  /** Workflow time as ISO: the task's timestamp, deterministic on replay. */
  now(): string {
    return new Date().toISOString();
  }

  /** Notes a device answer: a wait longer than the device's own time plus the slack was an absence. */
  heardFrom(sentMs: number, busyMs = 0): void {
    const silence = silenceOf(sentMs, this.nowMs(), busyMs, SILENCE_SLACK_MS);
    if (silence) this.silences.push(silence);
    this.lastContactMs = this.nowMs();
  }

  outsideMaintenanceWindow(at: Date = new Date()): boolean {
    const auto = this.auto;
    return Boolean(auto?.maintenanceWindow) && !isInsideWindow(auto!.maintenanceWindow!, at, auto!.timezone);
  }

  /** The halt of this patch's KB, if one arrived. */
  kbHalt(p: PatchProgress): InstallHalt | undefined {
    return this.haltedKbs.get(normaliseKb(p.kb));
  }

  /** Marks a patch a KB halt took out: Missing again, with who halted it and why (`later`: with the next flush). */
  async skipHaltedKb(p: PatchProgress, halt: InstallHalt, { later = false }: { later?: boolean } = {}): Promise<void> {
    (this.state.haltedKbs ??= []).push({ kb: p.kb, ...halt });
    const change: Change = { updateId: p.updateId, kb: p.kb, status: PatchStatus.Missing, error: `halted by ${halt.by}: ${halt.reason}` };
    await (later ? this.recordLater([change]) : this.record([change]));
  }

  /** A status change of one patch, as the install decides it. */
  change(p: PatchProgress, status: PatchStatus, extra: Partial<PatchStateChange> = {}): Change {
    const auto = this.auto;
    const prior = this.priorAttempts[p.updateId] ?? 0;
    // Automatic Update retries a failed patch at its next scheduled runs: it shows Pending, with the
    // error, until the failures reach the cap; only then is it Failed (N-able's reprocessing).
    if (auto && status === PatchStatus.Failed && prior + 1 < auto.failureCap) {
      return { updateId: p.updateId, kb: p.kb, status: PatchStatus.Pending, ...extra,
        error: `${extra.error ?? 'failed'}; will retry at the next scheduled run (${prior + 1} of ${auto.failureCap})` };
    }
    return { updateId: p.updateId, kb: p.kb, status, ...extra };
  }

  /** Applies status changes to the progress and writes them; a change the status rules forbid is logged and dropped. */
  async record(changes: Change[]): Promise<void> {
    await bookkeeping.recordPatchStates({ deviceId: this.input.deviceId, workflowId: this.workflowId, changes: this.apply(changes) });
  }

  /** Like record; a batched install keeps the changes for the next flush. */
  async recordLater(changes: Change[]): Promise<void> {
    if (!this.batched) return this.record(changes);
    this.unwritten.push(...this.apply(changes));
  }

  /** Writes what recordLater kept, if anything. */
  async flush(): Promise<void> {
    if (this.unwritten.length === 0) return;
    await bookkeeping.recordPatchStates({ deviceId: this.input.deviceId, workflowId: this.workflowId, changes: this.unwritten.splice(0) });
  }

  /** Applies status changes to the progress; returns those the status rules allow (the others are logged and dropped). */
  apply(changes: Change[]): Change[] {
    const allowed = changes.filter((c) => {
      const p = this.state.patches.find((x) => x.updateId === c.updateId);
      if (!p || canTransition(p.status, c.status)) return true;
      log.warn('status change refused by the status rules', { kb: c.kb, from: p.status, to: c.status });
      return false;
    });
    for (const c of allowed) {
      const p = this.state.patches.find((x) => x.updateId === c.updateId);
      if (p) {
        p.status = c.status;
        if (c.exitCode !== undefined) p.exitCode = c.exitCode;
        if (c.error !== undefined) p.error = c.error;
      }
    }
    return allowed;
  }
}
