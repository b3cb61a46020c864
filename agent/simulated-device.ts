/**
 * The simulated Windows machine's public face: SimulatedWindowsDevice builds one machine from its
 * options and routes each command to the module of its concern under agent/simulator/ (state, Windows
 * behaviour, the user and reboots, faults). Tests, benchmarks, `npm start`'s demo fleet and
 * `patchflow agent --simulate` import only this file.
 */
import { CommandErrorCode, CommandType, type AgentCommand, type CommandOutcome, type CopyPayload, type DownloadPayload, type RebootResult } from '../domain/device-protocol';
import { DEFAULT_INSTALL_FOLDER, DEFAULT_WORKING_FOLDER } from '../domain/folders';
import { ALL_OS, catalogFor, normaliseKb, type CatalogUpdate, type DeviceOs } from './catalog';
import { downloadPatches, isDownloadOfPatches } from './download-patches';
import { executePatches } from './execute-patches';
import type { DeviceExecutor } from './executor';
import { LanShare } from './lan-share';
import { randomInt, randomStream, seedFromText, shuffled } from './prng';
import { listFiles, SandboxPathError, WindowsSandbox } from './sandbox';
import { DeviceLog, INVALID_PAYLOAD, type DeviceEvent } from './simulator/device-log';
import { DeviceState } from './simulator/device-state';
import { download } from './simulator/download';
import { Faults } from './simulator/faults';
import { DEFAULT_SERVICES, healthCheck, stoppedServices } from './simulator/health';
import { execute, isBusy, uninstall } from './simulator/installer';
import type { SimulatedMachine } from './simulator/machine';
import type { HandleOptions, RebootAnswer, SimulatedDeviceOptions, SimulatedPatchTestState } from './simulator/options';
import { patchTest } from './simulator/patch-test';
import { completeReboot, reboot } from './simulator/reboot';
import { missingKbs, missingPrerequisiteOf, scan } from './simulator/scan';
import { cleanup, copy } from './simulator/staging';
import { LoggedOnUser } from './simulator/user';
import { sleep } from './timing';

export { ExitCode } from '../domain/exit-codes';
export type { DeviceEvent } from './simulator/device-log';
export { DEFAULT_SERVICES } from './simulator/health';
export type { HandleOptions, OfflineSpell, RebootAnswer, SimulatedDeviceOptions, SimulatedPatchTestState } from './simulator/options';
export { DEFAULT_WU_SERVICES } from './simulator/patch-test';
export { MAX_REBOOT_PROMPTS } from './simulator/reboot';

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
  readonly events: DeviceEvent[];

  private readonly machine: SimulatedMachine;
  private readonly inFlight = new Map<string, Promise<CommandOutcome>>();
  private online = true;

  constructor(options: SimulatedDeviceOptions) {
    this.id = options.id;
    this.name = options.name ?? options.id.toUpperCase();
    this.seed = options.seed ?? seedFromText(options.id);
    this.sandbox = new WindowsSandbox(options.sandboxDir);
    const setup = randomStream(this.seed, 'setup');
    this.os = options.os ?? ALL_OS[randomInt(setup, 0, ALL_OS.length - 1)]!;
    const freeDiskBytes = options.freeDiskBytes ?? randomInt(setup, 20, 120) * GB;
    this.rebootDurationMs = options.rebootDurationMs ?? 3000;
    const now = options.now ?? (() => new Date());
    const log = new DeviceLog(now);
    this.events = log.events;

    const applicable = catalogFor(this.os);
    const missing = options.missingKbs ? new Set(options.missingKbs.map(normaliseKb)) : defaultMissing(this.seed, applicable);
    const state = new DeviceState({
      deviceId: this.id,
      boots: randomStream(this.seed, 'boots'),
      installed: applicable.filter((u) => !missing.has(u.kb)).map((u) => u.kb),
      freeDiskBytes,
      rebootPending: options.rebootPending ?? false,
      stateFile: options.stateFile,
    });
    this.machine = {
      os: this.os,
      sandbox: this.sandbox,
      state,
      faults: new Faults(options, randomStream(this.seed, 'failures')),
      user: new LoggedOnUser(options),
      log,
      lanShare: options.lanShareDir ? new LanShare(options.lanShareDir) : undefined,
      prerequisites: new Map(Object.entries(options.prerequisites ?? {}).map(([kb, needs]) => [normaliseKb(kb), normaliseKb(needs)])),
      services: [...(options.services ?? DEFAULT_SERVICES)],
      executeDurationMs: options.executeDurationMs ?? 50,
      downloadDurationMs: options.downloadDurationMs ?? 20,
      minuteMs: options.minuteMs ?? 10,
      now,
      patchTest: { ...options.patchTest },
    };
  }

  // ---- state that tests and the runner read ----

  /** Changes on every restart: the gateway recognises a finished reboot by it. */
  get bootId(): string {
    return this.machine.state.bootId;
  }
  /** KBs effective now (not those waiting for a restart). */
  installedKbs(): string[] {
    return [...this.machine.state.installed].sort();
  }
  /** KBs installed by an execution that exited 3010/1641/0x00240005, effective after the next restart. */
  pendingRebootKbs(): string[] {
    return [...this.machine.state.awaitingReboot].sort();
  }
  /** Applicable KBs that are neither installed nor waiting for a restart (those waiting for a prerequisite excluded). */
  missingKbs(): string[] {
    return missingKbs(this.machine);
  }
  /**
   * The prerequisite a KB still waits for, if any: set by the `prerequisites` option, and only while
   * the KB itself is neither installed nor waiting for a restart.
   */
  missingPrerequisiteOf(kb: string): string | undefined {
    return missingPrerequisiteOf(this.machine, kb);
  }
  isInstalled(kb: string): boolean {
    return this.machine.state.installed.has(normaliseKb(kb));
  }
  isRebootPending(): boolean {
    return this.machine.state.isRebootPending();
  }
  /** Whether a user is logged on (reboot modes warn, skip or ask them). */
  isUserLoggedOn(): boolean {
    return this.machine.user.isLoggedOn();
  }
  /** A user logs on (tests and demos). */
  userLogsOn(): void {
    this.machine.user.logsOn();
  }
  /** The user logs off: every reboot mode restarts at once from now on. */
  userLogsOff(): void {
    this.machine.user.logsOff();
  }
  /** Queues more answers to reboot prompts, after those not used yet. */
  queueRebootAnswers(...answers: RebootAnswer[]): void {
    this.machine.user.queueAnswers(...answers);
  }
  /** How many times an installer really ran for a KB (journal answers, "already installed" and busy answers excluded). */
  executionCount(kb: string): number {
    return this.machine.state.executions.get(normaliseKb(kb)) ?? 0;
  }
  /** How many times an update was really removed (tests: never twice for one request). */
  uninstallCount(kb: string): number {
    return this.machine.state.uninstalls.get(normaliseKb(kb)) ?? 0;
  }
  /** The final outcome journalled for a command id, if any. */
  journalEntry(commandId: string): CommandOutcome | undefined {
    return this.machine.state.journal.get(commandId);
  }
  freeDiskBytes(): number {
    return this.machine.state.freeDiskBytes();
  }
  /** Space is freed or used up outside Patchflow (tests: a full disk, then a cleaned one). */
  setFreeDiskBytes(bytes: number): void {
    this.machine.state.baseFreeDiskBytes = bytes;
  }
  /** Services that do not start now: those a bad update that is installed (effective) breaks. */
  stoppedServices(): string[] {
    return stoppedServices(this.machine);
  }
  /** What a Patch Test finds from now on (a technician fixed, or broke, the machine). */
  setPatchTestState(state: SimulatedPatchTestState): void {
    this.machine.patchTest = { ...state };
  }
  patchTestStateNow(): SimulatedPatchTestState {
    return { ...this.machine.patchTest };
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
    this.machine.log.record({ type: 'offline', detail: reason });
  }
  comeOnline(): void {
    this.online = true;
    this.machine.log.record({ type: 'online', detail: `back online (boot ${this.bootId})` });
  }
  /**
   * How long to stay away after receiving this command, if an offline spell matches it. Each match
   * uses up one of the spell's `times`, so the same options give the same run every time.
   */
  offlineSpellFor(command: AgentCommand): number | undefined {
    return this.machine.faults.offlineSpellFor(command.type, kbsOf(command));
  }

  // ---- commands ----

  /**
   * Runs one command. A command id with a final outcome in the journal is answered from the journal
   * and nothing runs again; retryable failures and busy answers are not final, so a later delivery runs.
   */
  async handle(command: AgentCommand, options: HandleOptions = {}): Promise<CommandOutcome> {
    const { state, log } = this.machine;
    const journalled = state.journal.get(command.id);
    if (journalled) {
      log.record({ commandId: command.id, type: 'journal-hit', kb: kbsOf(command)[0], detail: `${command.type} answered from the journal (delivery ${command.attempt})` });
      return journalled;
    }
    // A second delivery that arrives while the first still runs waits for the same answer.
    const running = this.inFlight.get(command.id);
    if (running) return running;
    const run = this.run(command, options).finally(() => this.inFlight.delete(command.id));
    this.inFlight.set(command.id, run);
    const outcome = await run;
    if (isFinal(command, outcome)) state.journal.set(command.id, outcome);
    state.save();
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
    return completeReboot(this.machine);
  }

  private async run(command: AgentCommand, options: HandleOptions): Promise<CommandOutcome> {
    const m = this.machine;
    try {
      switch (command.type) {
        case CommandType.Scan: return scan(m, command);
        case CommandType.Download: {
          const { payload } = command as AgentCommand<'download'>;
          if (!isDownloadOfPatches(payload)) return await download(m, { ...command, type: CommandType.Download, payload }, options);
          return await downloadPatches(payload, (one) => download(m, { ...command, type: CommandType.Download, payload: one }, options));
        }
        case CommandType.Copy: return await copy(m, command as AgentCommand<'copy'>);
        case CommandType.Execute: return await execute(m, command as AgentCommand<'execute'>);
        case CommandType.ExecutePatches: {
          const { payload } = command as AgentCommand<'execute_patches'>;
          if (!Array.isArray(payload?.patches)) return m.log.refuse(command, { code: INVALID_PAYLOAD, message: 'execute_patches payload has no patches', retryable: false });
          // Each patch runs as its own execute would (the installed state re-checked first), under this command's id.
          return await executePatches(command.id, payload, {
            executeOne: (one) => execute(m, { ...command, type: CommandType.Execute, payload: one }),
            askToStart: options.askToStart,
            answers: { finished: (id) => m.state.journal.get(id), finish: (id, outcome) => { m.state.journal.set(id, outcome); m.state.save(); } },
          });
        }
        case CommandType.Reboot: return await reboot(m, command as AgentCommand<'reboot'>, options);
        case CommandType.Cleanup: return await cleanup(m, command as AgentCommand<'cleanup'>);
        case CommandType.Uninstall: return await uninstall(m, command as AgentCommand<'uninstall'>);
        case CommandType.HealthCheck: return healthCheck(m, command as AgentCommand<'health_check'>);
        case CommandType.PatchTest: return patchTest(m, command as AgentCommand<'patch_test'>);
        default: {
          const type: string = (command as { type: string }).type;
          m.log.record({ commandId: command.id, type, detail: 'unknown command type' });
          return { status: 'failed', error: { code: CommandErrorCode.UnknownCommand, message: `this agent does not know the command type "${type}"`, retryable: false } };
        }
      }
    } catch (err) {
      if (err instanceof SandboxPathError) return m.log.refuse(command, { code: INVALID_PAYLOAD, message: err.message, retryable: false });
      // A disk or file-system error on the endpoint: worth another try.
      return m.log.refuse(command, { code: 'DeviceError', message: `${command.type} failed on the device: ${(err as Error).message}`, retryable: true });
    }
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
    return !isBusy(exitCode >>> 0);
  }
  return true;
}

/** The KBs a command is about (download, execute, or a copy that includes them). */
function kbsOf(command: AgentCommand): string[] {
  const p = command.payload as Partial<DownloadPayload & CopyPayload>;
  if (p.patch) return [normaliseKb(p.patch.kb)];
  if (p.patches) return p.patches.map((x) => normaliseKb(x.kb));
  return [];
}
