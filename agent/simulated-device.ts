import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  CommandErrorCode,
  CommandType,
  RebootBehavior,
  type AgentCommand,
  type CleanupPayload,
  type CommandError,
  type CommandOutcome,
  type CopyPayload,
  type DownloadPayload,
  type ExecutePayload,
  type RebootPayload,
  type RebootResult,
  type ScanResult,
} from '../domain/device-protocol';
import { formatExitCode } from '../domain/exit-codes';
import { healthCheckProblem, healthCheckResult } from '../domain/health-check';
import { SYSTEM_SID, WINDOWS_UPDATE_SERVICES, type PatchTestObservation, type ServiceStartType } from '../domain/patch-test';
import type { FolderAcl } from '../domain/wua-schemas';
import { checkFolder, DEFAULT_INSTALL_FOLDER, DEFAULT_WORKING_FOLDER, FolderPlatform, FolderRole } from '../domain/folders';
import { ALL_OS, catalogFor, findUpdate, normaliseKb, sha256Of, simulatedFileContent, type CatalogUpdate, type DeviceOs } from './catalog';
import { randomGuid, randomInt, randomStream, seedFromText, shuffled, type Random } from './prng';
import { emptyDirectory, fileExists, listFiles, SandboxPathError, WindowsSandbox, windowsJoin } from './sandbox';
import type { DeviceExecutor, ExecutorHandleOptions } from './executor';
import { LanShare } from './lan-share';
import { AllFileSourcesFailedError, downloadFromSources, FileSource, isFileSource, sourcesOf, type DownloadReport } from '../domain/file-source';
import { downloadPatches, isDownloadOfPatches } from './download-patches';
import { sleep } from './timing';

/** Installer exit codes the simulator produces (unsigned 32-bit, as Windows reports HRESULTs). */
export const ExitCode = {
  Success: 0,
  /** ERROR_SUCCESS_REBOOT_REQUIRED */
  RebootRequired: 3010,
  /** ERROR_SUCCESS_REBOOT_INITIATED */
  RebootInitiated: 1641,
  /** WU_S_REBOOT_REQUIRED */
  WuRebootRequired: 0x00240005,
  /** WU_S_ALREADY_INSTALLED (2359302) */
  AlreadyInstalled: 0x00240006,
  /** WU_E_NOT_APPLICABLE */
  NotApplicable: 0x80240017,
  /** ERROR_INSTALL_ALREADY_RUNNING */
  InstallAlreadyRunning: 1618,
  /** WU_E_OPERATIONINPROGRESS */
  OperationInProgress: 0x80240009,
  /** ERROR_INSTALL_FAILURE as an HRESULT (2147944003) */
  InstallFailure: 0x80070643,
  /** WU_S_ALREADY_UNINSTALLED */
  AlreadyUninstalled: 0x00240007,
  /** WU_E_UNINSTALL_NOT_ALLOWED: servicing stacks and some updates cannot be removed */
  UninstallNotAllowed: 0x80240028,
} as const;

const PENDING_REBOOT_CODES = new Set<number>([ExitCode.RebootRequired, ExitCode.RebootInitiated, ExitCode.WuRebootRequired]);
const INSTALLED_CODES = new Set<number>([ExitCode.Success, ExitCode.AlreadyInstalled]);
/** Another installation held the lock: nothing was installed, and a later delivery may run the step. */
const BUSY_CODES = new Set<number>([ExitCode.InstallAlreadyRunning, ExitCode.OperationInProgress]);

/** The device stops polling for a while: after receiving a matching command, before answering it. */
export interface OfflineSpell {
  /** only after a command of this type (any type when unset) */
  afterCommand?: CommandType;
  /** only after a command about this KB (download, execute, or a copy that includes it) */
  kb?: string;
  durationMs: number;
  /** how many matching commands trigger the spell; default 1 */
  times?: number;
}

export interface SimulatedDeviceOptions {
  /** local identity of the simulated machine (not the server's device id, which enrollment assigns) */
  id: string;
  /** a real local directory; `C:\X\Y` maps to `<sandboxDir>/C/X/Y` */
  sandboxDir: string;
  /** hostname sent at enrollment; default: the id upper-cased */
  name?: string;
  /** default: drawn from the seed */
  os?: DeviceOs;
  /** every random choice derives from it; default: derived from the id */
  seed?: number;
  /** catalog KBs that are not installed; default: a seeded subset of 3–8 applicable updates */
  missingKbs?: string[];
  /** exit codes returned by successive real executions of a KB; 0 (or 3010 for "always reboot" updates) after */
  exitCodes?: Record<string, number[]>;
  /** KBs whose downloads arrive corrupted (truncated) from every file source, so the SHA-256 check refuses them */
  corruptDownloads?: string[];
  /**
   * the site's LAN share (agent/lan-share.ts): a folder every device of the site shares, under the
   * simulator's data directory; unset, the lan-share source fails ("no LAN share") and the next is tried
   */
  lanShareDir?: string;
  /** how long a restart keeps the device away; default 3000 ms */
  rebootDurationMs?: number;
  offline?: OfflineSpell[];
  /** probability (0–1) that a download or an execution fails at random (seeded); default 0 */
  failureRate?: number;
  /** free space on C: before anything is staged; default: drawn from the seed (20–120 GB) */
  freeDiskBytes?: number;
  /** how long an installer runs; default 50 ms */
  executeDurationMs?: number;
  /** how long a download takes; default 20 ms */
  downloadDurationMs?: number;
  /** Windows already says a restart is pending (e.g. from an install outside Patchflow) */
  rebootPending?: boolean;
  /**
   * `{ KB_A: KB_B }`: KB_A is not applicable until KB_B is installed (effective, not waiting for a
   * restart): scans leave it out and executing it answers 0x80240017 (WU_E_NOT_APPLICABLE). Models a
   * patch whose prerequisite arrives in a later cycle, e.g. a cumulative update that Windows reports
   * only once the servicing stack it needs is in. An update already installed is reported as usual.
   * Default: none. `SERVER_2019_PREREQUISITES` (catalog) is the realistic set for Server 2019.
   */
  prerequisites?: Record<string, string>;
  /** clock for timestamps in results and events; default: the system clock */
  now?: () => Date;
  /** a user is logged on (reboot modes warn, skip or ask them); default false: nobody, so every mode restarts at once */
  userLoggedOn?: boolean;
  /**
   * Successive answers the logged-on user gives to reboot prompts: "yes", "no", or "none" (no answer
   * within the prompt's minutes). Each prompt uses one; when they run out the user does not answer.
   */
  rebootAnswers?: RebootAnswer[];
  /**
   * The logged-on user postpones this many `ask_defer` reboot questions (each for the full minutes
   * offered), then accepts the next one: the user of the deferral reboot action, deterministic for
   * tests and the demo. Default 0. Queued `rebootAnswers` are used first ("defer" postpones too).
   */
  defersReboots?: number;
  /** real milliseconds one "minute" of a reboot warning or prompt takes in the simulation; default 10 */
  minuteMs?: number;
  /**
   * Keeps the machine's state (installed updates, updates waiting for a restart, the journal, the boot
   * id) in this JSON file, as a real machine keeps it on disk: a device built again on the same file
   * (a restarted `npm start` or `patchflow agent --simulate`) is the machine as it was, and its options
   * that choose what is missing no longer apply. Unset: the state lives as long as the object.
   */
  stateFile?: string;
  /** the services the machine runs (health checks: services running); default `DEFAULT_SERVICES` */
  services?: string[];
  /**
   * `{ KB: [services] }`: a bad cumulative update. Once KB is installed (effective, after its restart)
   * these services fail to start, so a health check finds them stopped; removing KB heals them.
   */
  breaksServices?: Record<string, string[]>;
  /**
   * KBs in an update loop: the installer reports success, the scan right after agrees, and the scan
   * after that finds the update missing again (a detection rule that never sticks).
   */
  updateLoops?: string[];
  /** exit codes returned by successive real removals of a KB (wusa /uninstall); 0 (3010 if "always reboot") after */
  uninstallExitCodes?: Record<string, number[]>;
  /** what a Patch Test finds on this machine (default: everything an install needs is in order) */
  patchTest?: SimulatedPatchTestState;
}

/**
 * The parts of a machine a Patch Test looks at, each able to fail it (seed 003), deterministically:
 * nothing here is random. Change it with `setPatchTestState` (a technician fixes the machine).
 */
export interface SimulatedPatchTestState {
  /** the agent's Set Credentials account; absent: it runs as System. `valid: false` fails the logon */
  credential?: { account: string; sid: string; valid: boolean };
  /** the working folder is a directory junction to this folder (e.g. `C:\\Windows\\Temp`, a protected one) */
  workingFolderTarget?: string;
  /** the working folder's access rules; default: System and Administrators full control, and the Set Credentials account */
  workingFolderRules?: FolderAcl['rules'];
  /** file sources that do not answer: a patch's URL starting with one of these fails (e.g. `https://catalog.example`) */
  unreachableSources?: string[];
  /** KBs whose file source serves other bytes than the catalog's (the hash check fails) */
  corruptSourceKbs?: string[];
  /** start types of the Windows Update services; those not named are as Windows installs them (`DEFAULT_WU_SERVICES`) */
  services?: Partial<Record<string, ServiceStartType>>;
}

/** Start types of the Windows Update services on a fresh Windows Server (Manual is fine; only Disabled fails). */
export const DEFAULT_WU_SERVICES: Record<(typeof WINDOWS_UPDATE_SERVICES)[number], ServiceStartType> = {
  wuauserv: 'Manual', msiserver: 'Manual', BITS: 'Manual', CryptSvc: 'Automatic', TrustedInstaller: 'Manual',
};

/** FileSystemRights.FullControl */
const FULL_CONTROL = 0x1f01ff;
const ADMINISTRATORS_SID = 'S-1-5-32-544';

/** The services a simulated machine runs unless told otherwise. */
export const DEFAULT_SERVICES = ['Spooler', 'W32Time', 'Dnscache', 'LanmanServer', 'EventLog', 'wuauserv'];

/** What a simulated machine keeps across a restart of the process that simulates it (the `stateFile`). */
interface PersistedDeviceState {
  format: 'patchflow-simulated-device/1';
  bootId: string;
  /** how many reboots drew a boot id from the seeded stream: a reloaded device never reuses a boot id */
  boots: number;
  installed: string[];
  awaitingReboot: string[];
  rebootPending: boolean;
  journal: [string, CommandOutcome][];
  acknowledgedReboots: [string, string][];
  executions: [string, number][];
  uninstalls: [string, number][];
}

/** What a logged-on user does with a reboot prompt: accept, decline, or ignore it until it times out. */
export type RebootAnswer = 'yes' | 'no' | 'none' | 'defer';

/** `ask_every` gives up after this many prompts and reports the reboot skipped (no answer). */
export const MAX_REBOOT_PROMPTS = 50;

/** One line of the device's own log, for tests and demos. */
export interface DeviceEvent {
  at: string;
  commandId?: string;
  /**
   * a command type, or "reboot-completed", "reboot-warning", "reboot-prompt", "reboot-skipped",
   * "offline", "online", "journal-hit"
   */
  type: string;
  kb?: string;
  detail: string;
}

export interface HandleOptions {
  /** called while a long step (download) runs, e.g. at 50% and 100% */
  onProgress?: (progress: { message: string; percent?: number }) => void;
  /** the Patchflow cache over the gateway, with the device's credential (agent/agent-runner.ts) */
  cachedFile?: ExecutorHandleOptions['cachedFile'];
  /** the agent stops: a reboot warning or prompt in progress ends without restarting (a retryable failure) */
  signal?: AbortSignal;
}

const fail = (code: string, message: string, retryable: boolean): CommandOutcome => ({
  status: 'failed',
  error: { code, message, retryable },
});
/** Our own code for a command whose payload could never work (a file name with a path in it). */
const INVALID_PAYLOAD = 'InvalidPayload';
const GB = 1024 ** 3;

/**
 * A Windows machine in a directory: it scans, downloads, copies, executes, reboots and cleans up the
 * way a real endpoint would, including the ugly parts (failing installers, corrupt downloads, offline
 * spells, restarts). It keeps a journal by command id, so a retried delivery is answered from the
 * journal instead of running a patch twice.
 */
export class SimulatedWindowsDevice implements DeviceExecutor {
  readonly id: string;
  readonly name: string;
  readonly os: DeviceOs;
  readonly seed: number;
  readonly sandbox: WindowsSandbox;
  readonly rebootDurationMs: number;
  readonly events: DeviceEvent[] = [];

  private currentBootId: string;
  private readonly installed = new Set<string>();
  private readonly awaitingReboot = new Set<string>();
  private windowsSaysRebootPending: boolean;
  private readonly journal = new Map<string, CommandOutcome>();
  private readonly inFlight = new Map<string, Promise<CommandOutcome>>();
  /** reboot command id → the boot id it was acknowledged from */
  private readonly acknowledgedReboots = new Map<string, string>();
  private loggedOn: boolean;
  private readonly rebootAnswers: RebootAnswer[];
  /** ask_defer questions the user still postpones (options.defersReboots) */
  private postponementsLeft: number;
  private readonly minuteMs: number;
  private readonly executions = new Map<string, number>();
  private readonly uninstalls = new Map<string, number>();
  private readonly exitCodeQueues = new Map<string, number[]>();
  /** KB → the KB that must be installed before it applies */
  private readonly prerequisites = new Map<string, string>();
  private readonly corrupt: Set<string>;
  private readonly spells: { spell: OfflineSpell; remaining: number }[];
  /** local file → simulated size in bytes: what staging takes from the free disk */
  private readonly staged = new Map<string, number>();
  private baseFreeDiskBytes: number;
  private readonly failureRate: number;
  private readonly executeDurationMs: number;
  private readonly downloadDurationMs: number;
  private readonly lanShare: LanShare | undefined;
  private readonly failures: Random;
  private readonly boots: Random;
  private readonly now: () => Date;
  private online = true;
  private readonly stateFile: string | undefined;
  private bootsDrawn = 0;
  private readonly services: string[];
  private readonly breaksServices = new Map<string, string[]>();
  private readonly loopingKbs: Set<string>;
  /** a looping KB → scans left that still see it installed */
  private readonly loopScansLeft = new Map<string, number>();
  private readonly uninstallCodeQueues = new Map<string, number[]>();
  private patchTestState: SimulatedPatchTestState;

  constructor(options: SimulatedDeviceOptions) {
    this.id = options.id;
    this.name = options.name ?? options.id.toUpperCase();
    this.seed = options.seed ?? seedFromText(options.id);
    this.sandbox = new WindowsSandbox(options.sandboxDir);
    const setup = randomStream(this.seed, 'setup');
    this.os = options.os ?? ALL_OS[randomInt(setup, 0, ALL_OS.length - 1)]!;
    this.patchTestState = { ...options.patchTest };
    this.baseFreeDiskBytes = options.freeDiskBytes ?? randomInt(setup, 20, 120) * GB;
    this.rebootDurationMs = options.rebootDurationMs ?? 3000;
    this.executeDurationMs = options.executeDurationMs ?? 50;
    this.downloadDurationMs = options.downloadDurationMs ?? 20;
    this.lanShare = options.lanShareDir ? new LanShare(options.lanShareDir) : undefined;
    this.failureRate = options.failureRate ?? 0;
    this.windowsSaysRebootPending = options.rebootPending ?? false;
    this.now = options.now ?? (() => new Date());
    this.loggedOn = options.userLoggedOn ?? false;
    this.rebootAnswers = [...(options.rebootAnswers ?? [])];
    this.postponementsLeft = options.defersReboots ?? 0;
    this.minuteMs = options.minuteMs ?? 10;
    this.failures = randomStream(this.seed, 'failures');
    this.boots = randomStream(this.seed, 'boots');
    this.currentBootId = randomGuid(this.boots);
    this.corrupt = new Set((options.corruptDownloads ?? []).map(normaliseKb));
    this.spells = (options.offline ?? []).map((spell) => ({ spell, remaining: spell.times ?? 1 }));
    for (const [kb, codes] of Object.entries(options.exitCodes ?? {})) this.exitCodeQueues.set(normaliseKb(kb), codes.map((c) => c >>> 0));
    for (const [kb, needs] of Object.entries(options.prerequisites ?? {})) this.prerequisites.set(normaliseKb(kb), normaliseKb(needs));
    this.services = [...(options.services ?? DEFAULT_SERVICES)];
    for (const [kb, names] of Object.entries(options.breaksServices ?? {})) this.breaksServices.set(normaliseKb(kb), names);
    this.loopingKbs = new Set((options.updateLoops ?? []).map(normaliseKb));
    for (const [kb, codes] of Object.entries(options.uninstallExitCodes ?? {})) this.uninstallCodeQueues.set(normaliseKb(kb), codes.map((c) => c >>> 0));

    const applicable = catalogFor(this.os);
    const missing = options.missingKbs
      ? new Set(options.missingKbs.map(normaliseKb))
      : defaultMissing(this.seed, applicable);
    for (const u of applicable) if (!missing.has(u.kb)) this.installed.add(u.kb);
    this.stateFile = options.stateFile;
    if (this.stateFile) this.loadState(this.stateFile);
  }

  private loadState(file: string): void {
    let state: PersistedDeviceState;
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as PersistedDeviceState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`simulated device ${this.id}: cannot read its state ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (state.format !== 'patchflow-simulated-device/1') throw new Error(`simulated device ${this.id}: ${file} is not a simulated device's state`);
    for (let i = 0; i < state.boots; i++) randomGuid(this.boots);
    this.bootsDrawn = state.boots;
    this.currentBootId = state.bootId;
    this.installed.clear();
    for (const kb of state.installed) this.installed.add(kb);
    for (const kb of state.awaitingReboot) this.awaitingReboot.add(kb);
    this.windowsSaysRebootPending = state.rebootPending;
    for (const [id, outcome] of state.journal) this.journal.set(id, outcome);
    for (const [id, bootId] of state.acknowledgedReboots) this.acknowledgedReboots.set(id, bootId);
    for (const [kb, n] of state.executions) this.executions.set(kb, n);
    for (const [kb, n] of state.uninstalls) this.uninstalls.set(kb, n);
  }

  /** Writes the state file (temp file, then rename: a crash leaves the old state or the new one). */
  private saveState(): void {
    if (!this.stateFile) return;
    const state: PersistedDeviceState = {
      format: 'patchflow-simulated-device/1',
      bootId: this.currentBootId,
      boots: this.bootsDrawn,
      installed: [...this.installed],
      awaitingReboot: [...this.awaitingReboot],
      rebootPending: this.windowsSaysRebootPending,
      // The newest 4096 entries: as many as the agent's sequence window remembers.
      journal: [...this.journal.entries()].slice(-4096),
      acknowledgedReboots: [...this.acknowledgedReboots.entries()],
      executions: [...this.executions.entries()],
      uninstalls: [...this.uninstalls.entries()],
    };
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const temp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, this.stateFile);
  }

  // ---- state that tests and the runner read ----

  /** Changes on every restart: the gateway recognises a finished reboot by it. */
  get bootId(): string {
    return this.currentBootId;
  }
  /** KBs effective now (not those waiting for a restart). */
  installedKbs(): string[] {
    return [...this.installed].sort();
  }
  /** KBs installed by an execution that exited 3010/1641/0x00240005, effective after the next restart. */
  pendingRebootKbs(): string[] {
    return [...this.awaitingReboot].sort();
  }
  /** Applicable KBs that are neither installed nor waiting for a restart (those waiting for a prerequisite excluded). */
  missingKbs(): string[] {
    return catalogFor(this.os).map((u) => u.kb).filter((kb) => !this.installed.has(kb) && !this.awaitingReboot.has(kb) && !this.blockedByPrerequisite(kb));
  }
  /**
   * The prerequisite a KB still waits for, if any: set by the `prerequisites` option, and only while
   * the KB itself is neither installed nor waiting for a restart.
   */
  missingPrerequisiteOf(kb: string): string | undefined {
    const k = normaliseKb(kb);
    const needs = this.prerequisites.get(k);
    if (needs === undefined || this.installed.has(k) || this.awaitingReboot.has(k)) return undefined;
    return this.installed.has(needs) ? undefined : needs;
  }
  isInstalled(kb: string): boolean {
    return this.installed.has(normaliseKb(kb));
  }
  isRebootPending(): boolean {
    return this.windowsSaysRebootPending || this.awaitingReboot.size > 0;
  }
  /** Whether a user is logged on (reboot modes warn, skip or ask them). */
  isUserLoggedOn(): boolean {
    return this.loggedOn;
  }
  /** A user logs on or off (tests and demos). */
  setUserLoggedOn(loggedOn: boolean): void {
    this.loggedOn = loggedOn;
  }
  /** Queues more answers to reboot prompts, after those not used yet. */
  queueRebootAnswers(...answers: RebootAnswer[]): void {
    this.rebootAnswers.push(...answers);
  }
  /** How many times an installer really ran for a KB (journal answers, "already installed" and busy answers excluded). */
  executionCount(kb: string): number {
    return this.executions.get(normaliseKb(kb)) ?? 0;
  }
  /** The final outcome journalled for a command id, if any. */
  journalEntry(commandId: string): CommandOutcome | undefined {
    return this.journal.get(commandId);
  }
  freeDiskBytes(): number {
    let used = 0;
    for (const bytes of this.staged.values()) used += bytes;
    return Math.max(0, this.baseFreeDiskBytes - used);
  }
  /** Space is freed or used up outside Patchflow (tests: a full disk, then a cleaned one). */
  setFreeDiskBytes(bytes: number): void {
    this.baseFreeDiskBytes = bytes;
  }
  /** What a Patch Test finds from now on (a technician fixed, or broke, the machine). */
  setPatchTestState(state: SimulatedPatchTestState): void {
    this.patchTestState = { ...state };
  }
  patchTestStateNow(): SimulatedPatchTestState {
    return { ...this.patchTestState };
  }
  /** Files in the working and install folders, relative to each. */
  async folderContents(
    workingFolder = DEFAULT_WORKING_FOLDER,
    installFolder = DEFAULT_INSTALL_FOLDER,
  ): Promise<{ working: string[]; install: string[] }> {
    return {
      working: await listFiles(this.sandbox.localPath(workingFolder)),
      install: await listFiles(this.sandbox.localPath(installFolder)),
    };
  }

  // ---- offline bookkeeping for the runner ----

  isOnline(): boolean {
    return this.online;
  }
  goOffline(reason: string): void {
    this.online = false;
    this.record({ type: 'offline', detail: reason });
  }
  comeOnline(): void {
    this.online = true;
    this.record({ type: 'online', detail: `back online (boot ${this.currentBootId})` });
  }
  /**
   * How long to stay away after receiving this command, if an offline spell matches it. Each match
   * uses up one of the spell's `times`, so the same options give the same run every time.
   */
  offlineSpellFor(command: AgentCommand): number | undefined {
    const kbs = kbsOf(command);
    for (const entry of this.spells) {
      const { spell } = entry;
      if (entry.remaining <= 0) continue;
      if (spell.afterCommand && spell.afterCommand !== command.type) continue;
      if (spell.kb && !kbs.includes(normaliseKb(spell.kb))) continue;
      entry.remaining--;
      return spell.durationMs;
    }
    return undefined;
  }

  // ---- commands ----

  /**
   * Runs one command. A command id with a final outcome in the journal is answered from the journal
   * and nothing runs again; retryable failures and busy answers are not final, so a later delivery runs.
   */
  async handle(command: AgentCommand, options: HandleOptions = {}): Promise<CommandOutcome> {
    const journalled = this.journal.get(command.id);
    if (journalled) {
      this.record({ commandId: command.id, type: 'journal-hit', kb: kbsOf(command)[0], detail: `${command.type} answered from the journal (delivery ${command.attempt})` });
      return journalled;
    }
    // A second delivery that arrives while the first still runs waits for the same answer.
    const running = this.inFlight.get(command.id);
    if (running) return running;
    const run = this.run(command, options).finally(() => this.inFlight.delete(command.id));
    this.inFlight.set(command.id, run);
    const outcome = await run;
    if (isFinal(command, outcome)) this.journal.set(command.id, outcome);
    this.saveState();
    return outcome;
  }

  /**
   * Windows restarts (DeviceExecutor.restart): no polls until it is back, then the first poll carries
   * the new boot id, which is how the gateway learns that the reboot finished.
   */
  async restart(signal: AbortSignal): Promise<void> {
    this.goOffline('rebooting');
    await sleep(this.rebootDurationMs, signal);
    this.completeReboot();
    this.comeOnline();
  }

  /**
   * The step has run, but the machine drops off the network before it can say so (an offline spell):
   * the server sees silence, times the attempt out and delivers the command again later.
   */
  async pauseAfter(command: AgentCommand, signal: AbortSignal): Promise<void> {
    const awayMs = this.offlineSpellFor(command);
    if (awayMs === undefined) return;
    this.goOffline(`offline for ${awayMs} ms after ${command.type} ${command.id}`);
    await sleep(awayMs, signal);
    this.comeOnline();
  }

  /** The restart finished: a new boot id, and what waited for the restart is now installed. */
  completeReboot(): RebootResult {
    const previousBootId = this.currentBootId;
    this.currentBootId = randomGuid(this.boots);
    this.bootsDrawn++;
    for (const kb of this.awaitingReboot) this.installed.add(kb);
    const finished = [...this.awaitingReboot];
    this.awaitingReboot.clear();
    this.windowsSaysRebootPending = false;
    // A re-delivery of an acknowledged reboot after the restart is answered "done", never rebooted again.
    for (const [commandId, ackedBootId] of this.acknowledgedReboots) {
      this.journal.set(commandId, { status: 'succeeded', result: { previousBootId: ackedBootId, bootId: this.currentBootId } });
    }
    this.acknowledgedReboots.clear();
    this.record({ type: 'reboot-completed', detail: `boot ${previousBootId} → ${this.currentBootId}; finished ${finished.join(', ') || 'nothing pending'}` });
    this.saveState();
    return { previousBootId, bootId: this.currentBootId };
  }

  private async run(command: AgentCommand, options: HandleOptions): Promise<CommandOutcome> {
    try {
      switch (command.type) {
        case CommandType.Scan: return this.scan(command);
        case CommandType.Download: {
          const { payload } = command as AgentCommand<'download'>;
          if (!isDownloadOfPatches(payload)) return await this.download({ ...command, type: CommandType.Download, payload }, options);
          return await downloadPatches(payload, (one) => this.download({ ...command, type: CommandType.Download, payload: one }, options));
        }
        case CommandType.Copy: return await this.copy(command as AgentCommand<'copy'>);
        case CommandType.Execute: return await this.execute(command as AgentCommand<'execute'>);
        case CommandType.Reboot: return await this.reboot(command as AgentCommand<'reboot'>, options);
        case CommandType.Cleanup: return await this.cleanup(command as AgentCommand<'cleanup'>);
        case CommandType.Uninstall: return await this.uninstall(command as AgentCommand<'uninstall'>);
        case CommandType.HealthCheck: return this.healthCheck(command as AgentCommand<'health_check'>);
        case CommandType.PatchTest: return this.patchTest(command as AgentCommand<'patch_test'>);
        default: {
          const type: string = (command as { type: string }).type;
          this.record({ commandId: command.id, type, detail: 'unknown command type' });
          return fail(CommandErrorCode.UnknownCommand, `this agent does not know the command type "${type}"`, false);
        }
      }
    } catch (err) {
      if (err instanceof SandboxPathError) return this.refuse(command, INVALID_PAYLOAD, err.message, false);
      // A disk or file-system error on the endpoint: worth another try.
      return this.refuse(command, 'DeviceError', `${command.type} failed on the device: ${(err as Error).message}`, true);
    }
  }

  /**
   * Windows does not offer an update that waits for its prerequisite, nor one whose successor is
   * already installed (once March's cumulative update is in, January's is no longer applicable).
   */
  private blockedByPrerequisite(kb: string): boolean {
    if (this.missingPrerequisiteOf(kb) !== undefined) return true;
    const successor = findUpdate({ kb })?.supersededBy;
    return successor !== null && successor !== undefined && this.installed.has(normaliseKb(successor)) && !this.installed.has(kb);
  }

  private scan(command: AgentCommand): CommandOutcome {
    // An update loop: the scan after the one that confirmed the install finds it missing again.
    for (const [kb, left] of [...this.loopScansLeft]) {
      if (!this.installed.has(kb)) continue;
      if (left > 0) this.loopScansLeft.set(kb, left - 1);
      else {
        this.installed.delete(kb);
        this.loopScansLeft.delete(kb);
        this.record({ commandId: command.id, type: 'update-loop', kb, detail: `${kb} is offered again after its install reported success` });
      }
    }
    // An update waiting for its prerequisite is not applicable yet: Windows does not report it.
    const updates = catalogFor(this.os).filter((u) => !this.blockedByPrerequisite(u.kb)).map(({ appliesTo: _appliesTo, ...u }) => ({ ...u, installed: this.installed.has(u.kb) }));
    const result: ScanResult = {
      bootId: this.currentBootId,
      updates,
      rebootPending: this.isRebootPending(),
      freeDiskBytes: this.freeDiskBytes(),
      scannedAt: this.now().toISOString(),
    };
    this.record({ commandId: command.id, type: command.type, detail: `${updates.length} applicable, ${updates.filter((u) => !u.installed).length} missing` });
    return { status: 'succeeded', result };
  }

  /** One patch's download (a download of several runs it for each: agent/download-patches.ts). */
  private async download(command: AgentCommand<'download'> & { payload: DownloadPayload }, options: HandleOptions): Promise<CommandOutcome> {
    const { patch }: DownloadPayload = command.payload;
    const kb = normaliseKb(patch.kb);
    const workingFolder = this.safeFolder(command.payload.workingFolder, FolderRole.Working);
    if (typeof workingFolder !== 'string') return this.refuse(command, CommandErrorCode.UnsafeFolder, workingFolder.refused, false, kb);
    const update = findUpdate(patch);
    if (!update) return this.refuse(command, CommandErrorCode.DownloadFailed, `GET ${patch.downloadUrl} answered 404 Not Found: ${kb} is not in the catalog`, false, kb);
    const file = this.sandbox.localFile(workingFolder, patch.fileName);
    const windowsPath = windowsJoin(workingFolder, patch.fileName);
    const free = this.freeDiskBytes() + (this.staged.get(file) ?? 0);
    if (patch.sizeBytes > free) {
      return this.refuse(command, CommandErrorCode.DiskFull, `${windowsPath} needs ${patch.sizeBytes} bytes, C: has ${free} free`, true, kb);
    }
    const expected = patch.sha256.toLowerCase();
    const sources = sourcesOf(command.payload);
    options.onProgress?.({ message: `downloading ${patch.fileName} (${sources.join(', then ')})`, percent: 50 });
    // Which failures were the hash check's: a download whose every source served bad bytes is a hash
    // mismatch (final); one where a source could not be reached may work on a later delivery.
    const mismatched = new Set<FileSource>();
    const hashProblem = (bytes: Buffer, source: FileSource): string | undefined => {
      const actual = sha256Of(bytes);
      if (actual === expected) return undefined;
      mismatched.add(source);
      return `SHA-256 of ${windowsPath}${sources.length > 1 ? ` from ${source}` : ''} is ${actual}, catalog says ${expected}`;
    };
    let got: { bytes: Buffer; report: DownloadReport };
    try {
      got = await downloadFromSources(sources, (source) => this.fetchFrom(source, patch, update, options), hashProblem);
    } catch (err) {
      if (!(err instanceof AllFileSourcesFailedError)) throw err;
      const allHashes = err.failures.every((f) => mismatched.has(f.source));
      // One source: its own words, as before file sources existed.
      const message = err.failures.length === 1 ? err.failures[0]!.reason : err.message;
      return this.refuse(command, allHashes ? CommandErrorCode.HashMismatch : CommandErrorCode.DownloadFailed, message, !allHashes, kb);
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, got.bytes);
    this.staged.set(file, patch.sizeBytes);
    // Checked again as written: the bytes on disk are what execute will run.
    const actual = sha256Of(await readFile(file));
    if (actual !== expected) {
      await rm(file, { force: true });
      this.staged.delete(file);
      return this.refuse(command, CommandErrorCode.HashMismatch, `SHA-256 of ${windowsPath} is ${actual}, catalog says ${expected}`, false, kb);
    }
    // One device per site fills the LAN share; only verified bytes go there.
    if (this.lanShare && sources.includes(FileSource.LanShare) && got.report.servedBy !== FileSource.LanShare) {
      await this.lanShare.fill(expected, got.bytes).catch(() => false);
    }
    options.onProgress?.({ message: `downloaded ${patch.fileName} from ${got.report.servedBy}, SHA-256 verified`, percent: 100 });
    const fell = got.report.fellBack.map((f) => `${f.source} failed`).join(', ');
    this.record({ commandId: command.id, type: command.type, kb, detail: `${windowsPath} (${got.bytes.length} bytes from ${got.report.servedBy}${fell ? `; ${fell}` : ''}, SHA-256 ok)` });
    // `bytes` is what was written: simulated installers are small stand-ins for the catalog's size.
    return { status: 'succeeded', result: { kb, path: windowsPath, sha256: actual, bytes: got.bytes.length, source: got.report } };
  }

  /** The bytes one file source gives for a patch (the caller checks the hash); throws when it cannot. */
  private async fetchFrom(source: FileSource, patch: DownloadPayload['patch'], update: CatalogUpdate, options: HandleOptions): Promise<Buffer> {
    let bytes: Buffer;
    if (!isFileSource(source)) throw new Error(`this agent does not know the file source "${String(source)}"`);
    switch (source) {
      case FileSource.Internet:
      case FileSource.TempMostFreeDrive:
        // The simulator has one drive: "the temp folder on the drive with most free space" is the internet download.
        await sleep(this.downloadDurationMs);
        if (this.randomFailure()) throw new Error(`GET ${patch.downloadUrl} failed: connection reset (simulated)`);
        bytes = simulatedFileContent(update);
        break;
      case FileSource.Cache: {
        if (!options.cachedFile) throw new Error('no gateway to fetch from: the Patchflow cache is reached through the agent gateway');
        const res = await options.cachedFile(patch.sha256.toLowerCase(), options.signal);
        bytes = Buffer.from(await res.arrayBuffer());
        break;
      }
      case FileSource.LanShare:
        if (!this.lanShare) throw new Error('no LAN share configured on this device');
        bytes = await this.lanShare.read(patch.sha256.toLowerCase());
        break;
    }
    // A transfer cut short is the common real-world corruption: a truncated file.
    return this.corrupt.has(normaliseKb(patch.kb)) ? bytes.subarray(0, Math.floor(bytes.length / 2)) : bytes;
  }

  private async copy(command: AgentCommand<'copy'>): Promise<CommandOutcome> {
    const { patches }: CopyPayload = command.payload;
    const folders = this.safeFolders(command.payload);
    if ('refused' in folders) return this.refuse(command, CommandErrorCode.UnsafeFolder, folders.refused, false);
    const { workingFolder, installFolder } = folders;
    await mkdir(this.sandbox.localPath(installFolder), { recursive: true });
    const copied: { kb: string; path: string }[] = [];
    for (const patch of patches) {
      const kb = normaliseKb(patch.kb);
      const from = this.sandbox.localFile(workingFolder, patch.fileName);
      if (!(await fileExists(from))) {
        return this.refuse(command, CommandErrorCode.FileMissing, `${windowsJoin(workingFolder, patch.fileName)} is missing; download ${kb} again`, true, kb);
      }
      const to = this.sandbox.localFile(installFolder, patch.fileName);
      await copyFile(from, to);
      this.staged.set(to, patch.sizeBytes);
      copied.push({ kb, path: windowsJoin(installFolder, patch.fileName) });
    }
    this.record({ commandId: command.id, type: command.type, detail: `copied ${copied.map((c) => c.kb).join(', ') || 'nothing'} to ${installFolder}` });
    return { status: 'succeeded', result: { copied } };
  }

  private async execute(command: AgentCommand<'execute'>): Promise<CommandOutcome> {
    const { patch }: ExecutePayload = command.payload;
    const kb = normaliseKb(patch.kb);
    const installFolder = this.safeFolder(command.payload.installFolder, FolderRole.Install);
    if (typeof installFolder !== 'string') return this.refuse(command, CommandErrorCode.UnsafeFolder, installFolder.refused, false, kb);
    const file = this.sandbox.localFile(installFolder, patch.fileName);
    const windowsPath = windowsJoin(installFolder, patch.fileName);
    if (!(await fileExists(file))) {
      return this.refuse(command, CommandErrorCode.FileMissing, `${windowsPath} is missing; copy ${kb} again`, true, kb);
    }
    // Checked again right before running: nothing runs whose hash does not match the catalog, even if
    // the file changed between download and execute.
    const actual = sha256Of(await readFile(file));
    const expected = patch.sha256.toLowerCase();
    if (actual !== expected) {
      return this.refuse(command, CommandErrorCode.HashMismatch, `SHA-256 of ${windowsPath} is ${actual}, catalog says ${expected}; not executed`, false, kb);
    }

    const update = findUpdate(patch);
    if (!update || !update.appliesTo.includes(this.os)) {
      return this.answerExecute(command, kb, ExitCode.NotApplicable, 0, false, `${kb} does not apply to ${this.os}`);
    }
    // Installed state is re-checked before every run: a retry whose first run did install must not run again.
    if (this.installed.has(kb) || this.awaitingReboot.has(kb)) {
      return this.answerExecute(command, kb, ExitCode.AlreadyInstalled, 0, true, `${kb} is already installed; installer not run`);
    }
    const prerequisite = this.missingPrerequisiteOf(kb);
    if (prerequisite !== undefined) {
      return this.answerExecute(command, kb, ExitCode.NotApplicable, 0, false, `${kb} is not applicable until ${prerequisite} is installed; installer not run`);
    }
    if (this.blockedByPrerequisite(kb)) {
      return this.answerExecute(command, kb, ExitCode.NotApplicable, 0, false, `${kb} is superseded by an installed update; installer not run`);
    }
    const exitCode = this.nextExitCode(update);
    if (!BUSY_CODES.has(exitCode)) this.executions.set(kb, this.executionCount(kb) + 1);
    await sleep(this.executeDurationMs);
    if (INSTALLED_CODES.has(exitCode)) this.installed.add(kb);
    else if (PENDING_REBOOT_CODES.has(exitCode)) this.awaitingReboot.add(kb);
    if (this.loopingKbs.has(kb) && (INSTALLED_CODES.has(exitCode) || PENDING_REBOOT_CODES.has(exitCode))) this.loopScansLeft.set(kb, 1);
    return this.answerExecute(command, kb, exitCode, this.executeDurationMs, false, `installer exited ${formatExitCode(exitCode)}`);
  }

  private answerExecute(command: AgentCommand, kb: string, exitCode: number, durationMs: number, alreadyInstalled: boolean, detail: string): CommandOutcome {
    this.record({ commandId: command.id, type: command.type, kb, detail });
    return { status: 'succeeded', result: { kb, exitCode: exitCode >>> 0, durationMs, alreadyInstalled } };
  }

  /** The configured sequence first; then a seeded random failure; then what the update normally does. */
  private nextExitCode(update: CatalogUpdate): number {
    const queued = this.exitCodeQueues.get(update.kb)?.shift();
    if (queued !== undefined) return queued;
    if (this.randomFailure()) return ExitCode.InstallFailure;
    return update.rebootBehavior === RebootBehavior.AlwaysRequiresReboot ? ExitCode.RebootRequired : ExitCode.Success;
  }

  private randomFailure(): boolean {
    return this.failureRate > 0 && this.failures() < this.failureRate;
  }

  /**
   * Restart Windows, after the interaction the command's mode asks for (Kaseya's Reboot Action; absent
   * = immediate). Restarting is answered "acknowledged" (the runner restarts once the gateway has it);
   * not restarting is answered at once as succeeded with `skipped` and the unchanged boot id. A
   * re-delivery of an acknowledged reboot neither prompts nor restarts again.
   */
  private async reboot(command: AgentCommand<'reboot'>, options: HandleOptions): Promise<CommandOutcome> {
    if (this.acknowledgedReboots.has(command.id)) return { status: 'acknowledged' };
    const mode = command.payload.mode ?? { kind: 'immediate' };
    const problem = rebootModeProblem(mode);
    if (problem) return this.refuse(command, INVALID_PAYLOAD, problem, false);

    const loggedOn = this.loggedOn;
    const restart = (detail: string): CommandOutcome => {
      this.acknowledgedReboots.set(command.id, this.currentBootId);
      this.record({ commandId: command.id, type: command.type, detail: `restart requested from boot ${this.currentBootId}: ${detail}` });
      return { status: 'acknowledged' };
    };
    const skip = (reason: 'user_logged_on' | 'user_declined' | 'no_answer' | 'user_deferred', waitedMinutes: number, detail: string, deferredMinutes?: number): CommandOutcome => {
      this.record({ commandId: command.id, type: 'reboot-skipped', detail: `${reason}: ${detail}` });
      const result: RebootResult = {
        previousBootId: this.currentBootId, bootId: this.currentBootId, skipped: { reason }, userWasLoggedOn: loggedOn, waitedMinutes,
        ...(deferredMinutes === undefined ? {} : { deferredMinutes }),
      };
      return { status: 'succeeded', result };
    };
    const interrupted = (what: string): CommandOutcome =>
      this.refuse(command, 'Interrupted', `the agent stopped during ${what}; the machine did not restart`, true);
    /** Simulated minutes pass; false when the agent stopped meanwhile. */
    const wait = async (minutes: number): Promise<boolean> => {
      await sleep(minutes * this.minuteMs, options.signal);
      return !options.signal?.aborted;
    };
    const prompt = (n: number, minutes: number): RebootAnswer => {
      const answer = this.rebootAnswers.shift() ?? 'none';
      this.record({ commandId: command.id, type: 'reboot-prompt', detail: `prompt ${n} (answer within ${minutes} min): ${answer}` });
      options.onProgress?.({ message: `asking the logged-on user to reboot (prompt ${n})` });
      return answer;
    };

    // Nobody logged on: every mode restarts at once (rule 23).
    if (mode.kind === 'immediate' || !loggedOn) return restart(`${mode.kind}${loggedOn ? '' : ', nobody logged on'}`);

    switch (mode.kind) {
      case 'warn': {
        this.record({ commandId: command.id, type: 'reboot-warning', detail: `user warned: restart in ${mode.minutes} min` });
        options.onProgress?.({ message: `warned the logged-on user: restart in ${mode.minutes} minutes` });
        if (!(await wait(mode.minutes))) return interrupted('the reboot warning');
        return restart(`after a ${mode.minutes} min warning`);
      }
      case 'skip_if_user_logged_on':
        return skip('user_logged_on', 0, 'a user is logged on; reboot skipped');
      case 'ask_every': {
        let waited = 0;
        for (let n = 1; n <= MAX_REBOOT_PROMPTS; n++) {
          if (prompt(n, mode.minutes) === 'yes') return restart(`user accepted prompt ${n}`);
          // declined or ignored: ask again N minutes later (the last unanswered prompt times out too)
          if (!(await wait(mode.minutes))) return interrupted('the reboot prompts');
          waited += mode.minutes;
        }
        return skip('no_answer', waited, `no "yes" after ${MAX_REBOOT_PROMPTS} prompts`);
      }
      case 'ask': {
        const answer = prompt(1, mode.minutes);
        if (answer === 'yes') return restart('user accepted');
        if (answer === 'no') return skip('user_declined', 0, 'the user declined the reboot');
        if (!(await wait(mode.minutes))) return interrupted('the reboot prompt');
        return mode.ifNoAnswer === 'reboot'
          ? restart(`no answer in ${mode.minutes} min`)
          : skip('no_answer', mode.minutes, `no answer in ${mode.minutes} min; doing nothing`);
      }
      case 'ask_defer': {
        // "Restart now, or postpone?": queued answers first, then the user's habit (defersReboots).
        let answer: RebootAnswer;
        if (this.rebootAnswers.length > 0) answer = prompt(1, mode.minutes);
        else {
          answer = this.postponementsLeft > 0 ? 'defer' : 'yes';
          if (answer === 'defer') this.postponementsLeft -= 1;
          this.record({ commandId: command.id, type: 'reboot-prompt', detail: `restart now or postpone ${mode.minutes} min (${mode.deferralsLeft} left): ${answer}` });
          options.onProgress?.({ message: `asking the logged-on user to restart or postpone (${mode.deferralsLeft} postponements left)` });
        }
        if ((answer === 'defer' || answer === 'no') && mode.deferralsLeft > 0) {
          return skip('user_deferred', 0, `the user postponed the restart by ${mode.minutes} min`, mode.minutes);
        }
        if (answer === 'none') {
          if (!(await wait(mode.minutes))) return interrupted('the reboot question');
          return restart(`no answer in ${mode.minutes} min`);
        }
        return restart('user chose restart now');
      }
    }
  }

  /** wusa /uninstall: removes an installed, uninstallable update; re-checks installed state first. */
  private async uninstall(command: AgentCommand<'uninstall'>): Promise<CommandOutcome> {
    const kb = normaliseKb(command.payload.kb);
    const update = findUpdate({ kb, updateId: command.payload.updateId });
    const answer = (exitCode: number, notInstalled: boolean, detail: string): CommandOutcome => {
      this.record({ commandId: command.id, type: command.type, kb, detail });
      return { status: 'succeeded', result: { kb, exitCode: exitCode >>> 0, durationMs: this.executeDurationMs, notInstalled } };
    };
    if (!this.installed.has(kb) && !this.awaitingReboot.has(kb)) return answer(ExitCode.AlreadyUninstalled, true, `${kb} is not installed; nothing removed`);
    if (!update?.uninstallable) return answer(ExitCode.UninstallNotAllowed, false, `${kb} cannot be uninstalled`);
    await sleep(this.executeDurationMs);
    const queued = this.uninstallCodeQueues.get(kb)?.shift();
    if (queued !== undefined && queued !== ExitCode.Success && !PENDING_REBOOT_CODES.has(queued)) {
      return answer(queued, false, `wusa /uninstall of ${kb} exited ${formatExitCode(queued)}; nothing removed`);
    }
    this.installed.delete(kb);
    this.awaitingReboot.delete(kb);
    this.uninstalls.set(kb, (this.uninstalls.get(kb) ?? 0) + 1);
    return answer(queued ?? ExitCode.Success, false, `${kb} removed`);
  }

  /** Services that do not start now: those a bad update that is installed (effective) breaks. */
  stoppedServices(): string[] {
    const stopped = new Set<string>();
    for (const [kb, names] of this.breaksServices) if (this.installed.has(kb)) for (const n of names) stopped.add(n.toLowerCase());
    return this.services.filter((s) => stopped.has(s.toLowerCase()));
  }

  /**
   * A named health check (domain/health-check.ts), its parameters checked again here: services running
   * (the machine's services, less those a bad update stops) or processes running (a running service's
   * process counts, as does the shell).
   */
  private healthCheck(command: AgentCommand<'health_check'>): CommandOutcome {
    const problem = healthCheckProblem(command.payload?.check);
    if (problem) return this.refuse(command, INVALID_PAYLOAD, `refused by the device: ${problem.field} ${problem.problem}`, false);
    const check = command.payload.check;
    const stopped = new Set(this.stoppedServices().map((s) => s.toLowerCase()));
    const running = new Map(this.services.map((s) => [s.toLowerCase(), stopped.has(s.toLowerCase()) ? 'stopped' : 'running']));
    if (check.kind === 'processes_running') for (const p of ['explorer', 'svchost', 'lsass']) running.set(p, 'running');
    const result = healthCheckResult(check, running, 'running');
    this.record({ commandId: command.id, type: command.type, detail: `${result.healthy ? 'healthy' : 'unhealthy'}: ${result.output}` });
    return { status: 'succeeded', result };
  }

  /**
   * The Patch Test: what an install would meet, with nothing run, staged or changed. The machine only
   * reports (its state, `SimulatedPatchTestState`); the server evaluates. The working folder is the
   * path the file system resolves (a junction's target), because that is where files would land.
   */
  private patchTest(command: AgentCommand<'patch_test'>): CommandOutcome {
    const t = this.patchTestState;
    const folder = this.safeFolder(command.payload?.workingFolder, FolderRole.Working);
    if (typeof folder !== 'string') return this.refuse(command, CommandErrorCode.UnsafeFolder, folder.refused, false);
    const resolved = t.workingFolderTarget ?? folder;
    const credential: PatchTestObservation['credential'] = t.credential
      ? { kind: 'set', account: t.credential.account, sid: t.credential.sid, verified: t.credential.valid,
        ...(t.credential.valid ? {} : { error: 'LogonUser: the user name or password is incorrect (simulated)' }) }
      : { kind: 'system' };
    const full = (sid: string) => ({ sid, allow: true, rights: FULL_CONTROL, inheritOnly: false });
    const rules = t.workingFolderRules
      ?? [full(SYSTEM_SID), full(ADMINISTRATORS_SID), ...(t.credential ? [full(t.credential.sid)] : [])];
    const unreachable = t.unreachableSources ?? [];
    const corrupt = new Set([...(t.corruptSourceKbs ?? []).map(normaliseKb), ...this.corrupt]);
    const files = (command.payload.patches ?? []).map((patch) => {
      const kb = normaliseKb(patch.kb);
      const base = { patchId: kb, source: patch.downloadUrl, expectedSha256: patch.sha256, sizeBytes: patch.sizeBytes };
      if (unreachable.some((prefix) => patch.downloadUrl.startsWith(prefix))) {
        return { ...base, answered: false, sha256: null, error: `GET ${patch.downloadUrl}: connect ETIMEDOUT (simulated)` };
      }
      const update = findUpdate(patch);
      if (!update) return { ...base, answered: false, sha256: null, error: `GET ${patch.downloadUrl} answered 404 Not Found` };
      let content = simulatedFileContent(update);
      if (corrupt.has(kb)) content = content.subarray(0, Math.floor(content.length / 2));
      // The bytes are hashed as they arrive and never written: a Patch Test stages nothing.
      return { ...base, answered: true, sha256: sha256Of(content) };
    });
    const services = Object.fromEntries(WINDOWS_UPDATE_SERVICES.map((name) => [name, t.services?.[name] ?? DEFAULT_WU_SERVICES[name]]));
    const observation: PatchTestObservation = {
      credential, platform: FolderPlatform.Windows, workingFolder: resolved,
      workingFolderAcl: { path: resolved, exists: true, ownerSid: SYSTEM_SID, rules },
      freeBytes: this.freeDiskBytes(), files, services,
    };
    this.record({ commandId: command.id, type: command.type, detail: `observed ${files.length} files, working folder ${resolved}` });
    return { status: 'succeeded', result: observation };
  }

  /** How many times an update was really removed (tests: never twice for one request). */
  uninstallCount(kb: string): number {
    return this.uninstalls.get(normaliseKb(kb)) ?? 0;
  }

  private async cleanup(command: AgentCommand<'cleanup'>): Promise<CommandOutcome> {
    // Cleanup deletes everything inside both folders: refusing a protected folder here, whatever the
    // server sent, is what keeps a wrong setting or a tampered command from emptying C:\Windows\System32.
    const folders = this.safeFolders(command.payload as CleanupPayload);
    if ('refused' in folders) return this.refuse(command, CommandErrorCode.UnsafeFolder, folders.refused, false);
    const { workingFolder, installFolder } = folders;
    const working = this.sandbox.localPath(workingFolder);
    const install = this.sandbox.localPath(installFolder);
    const removedFiles = (await emptyDirectory(working)) + (await emptyDirectory(install));
    for (const file of [...this.staged.keys()]) {
      if (isInside(file, working) || isInside(file, install)) this.staged.delete(file);
    }
    const workingFolderEmpty = (await listFiles(working)).length === 0;
    const installFolderEmpty = (await listFiles(install)).length === 0;
    this.record({ commandId: command.id, type: command.type, detail: `removed ${removedFiles} files` });
    return { status: 'succeeded', result: { removedFiles, workingFolderEmpty, installFolderEmpty } };
  }

  /**
   * The canonical spelling of a folder the server sent, or why the device will not touch it: the same
   * rules as the API's (domain/folders.ts), checked again here because only the device's own check
   * stands between a wrong or tampered command and a deleted folder. Files are written and deleted
   * only under the canonical path.
   */
  private safeFolder(folder: unknown, role: FolderRole): string | { refused: string } {
    const r = checkFolder(folder, { role, platform: FolderPlatform.Windows });
    return r.ok ? r.canonical : { refused: `refused by the device: ${r.problem.message}` };
  }

  private safeFolders(p: { workingFolder: unknown; installFolder: unknown }): { workingFolder: string; installFolder: string } | { refused: string } {
    const workingFolder = this.safeFolder(p.workingFolder, FolderRole.Working);
    if (typeof workingFolder !== 'string') return workingFolder;
    const installFolder = this.safeFolder(p.installFolder, FolderRole.Install);
    if (typeof installFolder !== 'string') return installFolder;
    return { workingFolder, installFolder };
  }

  private refuse(command: AgentCommand, code: string, message: string, retryable: boolean, kb?: string): CommandOutcome {
    const error: CommandError = { code, message, retryable };
    this.record({ commandId: command.id, type: command.type, kb, detail: `${code}: ${message}` });
    return { status: 'failed', error };
  }

  private record(event: Omit<DeviceEvent, 'at'>): void {
    this.events.push({ at: this.now().toISOString(), ...event });
  }
}

/** Why a reboot mode cannot be applied (an unknown kind, minutes out of range), or undefined. */
function rebootModeProblem(mode: NonNullable<RebootPayload['mode']>): string | undefined {
  const kind: string = mode.kind;
  switch (mode.kind) {
    case 'immediate':
    case 'skip_if_user_logged_on':
      return undefined;
    case 'ask_defer':
      if (!Number.isInteger(mode.minutes) || mode.minutes < 1 || mode.minutes > 1440) return `reboot mode ask_defer: minutes must be a whole number from 1 to 1440, got ${String(mode.minutes)}`;
      if (!Number.isInteger(mode.deferralsLeft) || mode.deferralsLeft < 0) return `reboot mode ask_defer: deferralsLeft must be a whole number from 0, got ${String(mode.deferralsLeft)}`;
      return undefined;
    case 'warn':
    case 'ask_every':
    case 'ask': {
      if (!Number.isInteger(mode.minutes) || mode.minutes < 1 || mode.minutes > 1440) return `reboot mode ${kind}: minutes must be a whole number from 1 to 1440, got ${String(mode.minutes)}`;
      if (mode.kind === 'ask' && mode.ifNoAnswer !== 'reboot' && mode.ifNoAnswer !== 'do_nothing') return `reboot mode ask: ifNoAnswer must be "reboot" or "do_nothing", got ${String(mode.ifNoAnswer)}`;
      return undefined;
    }
    default:
      return `this agent does not know the reboot mode "${kind}"; it did not restart`;
  }
}

/** A seeded 3–8 of the applicable updates (fewer when fewer apply). */
function defaultMissing(seed: number, applicable: CatalogUpdate[]): Set<string> {
  const random = randomStream(seed, 'missing');
  const count = Math.min(applicable.length, randomInt(random, 3, 8));
  return new Set(shuffled(random, applicable.map((u) => u.kb)).slice(0, count));
}

/** Final answers are journalled; busy answers and retryable failures invite another delivery. */
function isFinal(command: AgentCommand, outcome: CommandOutcome): boolean {
  if (outcome.status === 'acknowledged') return false; // journalled as done by completeReboot
  if (outcome.status === 'failed') return !outcome.error.retryable;
  if (command.type === CommandType.Execute) {
    const { exitCode } = outcome.result as { exitCode: number };
    return !BUSY_CODES.has(exitCode >>> 0);
  }
  return true;
}

function kbsOf(command: AgentCommand): string[] {
  const p = command.payload as Partial<DownloadPayload & CopyPayload>;
  if (p.patch) return [normaliseKb(p.patch.kb)];
  if (p.patches) return p.patches.map((x) => normaliseKb(x.kb));
  return [];
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

