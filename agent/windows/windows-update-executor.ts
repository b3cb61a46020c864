import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, rm, stat, statfs } from 'node:fs/promises';
import * as path from 'node:path';
import {
  CommandErrorCode,
  CommandType,
  type AgentCommand,
  type CommandError,
  type CommandOutcome,
  type CommandPayloads,
  type DownloadPayload,
  type ReportedUpdate,
  type ScanReport,
  type ScanResult,
} from '../../domain/device-protocol';
import { AllFileSourcesFailedError, FileSource, sourcesOf, type DownloadReport } from '../../domain/file-source';
import { ExecutionOutcome, ExitCode, formatExitCode, interpretExitCode } from '../../domain/exit-codes';
import { checkFolder, FolderPlatform, FolderRole } from '../../domain/folders';
import { normaliseKb } from '../../domain/patch-id';
import { WINDOWS_UPDATE_SERVICES, windowsStartTypes, type PatchTestObservation } from '../../domain/patch-test';
import { HealthCheckKind, healthCheckResult, windowsServiceStates } from '../../domain/health-check';
import { isFailureHresult, OperationResultCode, readInstallation, readUpdateResult } from '../../domain/wua-outcomes';
import { pendingRebootReasons, rebootOwedBeforeRun } from '../../domain/wua-reboot';
import { describeSchemaError, type SearchOutput, type WuaUpdate } from '../../domain/wua-schemas';
import { observeScan, recordInstallSuccess, updateLoopProblem } from '../../domain/wua-update-loop';
import type { CommandJournal, DeviceExecutor, ExecutorHandleOptions } from '../executor';
import { payloadSchemas, type Payload, type WindowsCommandType } from './command-payloads';
import type { ExecutorStateStore } from './executor-state';
import { ScriptFolderAclGuard, type FolderAclGuard } from './folder-acl-guard';
import type { ProcessRunner } from './process-runner';
import { downloadVerified } from '../verified-download';
import { downloadPatches, isDownloadOfPatches } from '../download-patches';
import { executePatches } from '../execute-patches';
import { WuaScript, WuaScriptError } from './wua-script';

// The WUA codes by name, from the domain's one table (WU_E_INSTALL_NOT_ALLOWED: "tried to install while
// … the system was pending a mandatory restart").
const { AlreadyInstalled: ALREADY_INSTALLED, AlreadyUninstalled: ALREADY_UNINSTALLED, WuRebootRequired: REBOOT_REQUIRED, WuInstallNotAllowed: WU_E_INSTALL_NOT_ALLOWED } = ExitCode;
/** shutdown.exe: ERROR_SHUTDOWN_IS_SCHEDULED, a restart is already on its way */
const SHUTDOWN_ALREADY_SCHEDULED = 1190;

/** How the executor finds the local file behind a Windows path: itself on Windows, a sandbox in tests. */
export interface WindowsPaths {
  localPath(windowsPath: string): string;
}
const identityPaths: WindowsPaths = { localPath: (p) => p };

export interface WindowsUpdateExecutorOptions {
  /** the hostname */
  name: string;
  journal: CommandJournal;
  runner: ProcessRunner;
  state: ExecutorStateStore;
  /** where wua.ps1 is installed; default: beside this file */
  scriptPath?: string;
  /** the agent's own folder (SYSTEM-only) for the script's argument files */
  argsDir: string;
  /** %SystemRoot%, read once by the entry point; default C:\Windows */
  systemRoot?: string;
  /** default: the Windows path itself (tests map C:\ into a folder) */
  paths?: WindowsPaths;
  /** default: global fetch */
  fetch?: typeof fetch;
  /** free bytes on the drive of a local folder; default: statfs */
  freeDiskBytes?: (localDir: string) => Promise<number>;
  now?: () => Date;
  /** who may write to the folders; default: the script's view of their ACLs (tests of other steps pass their own) */
  folderAclGuard?: FolderAclGuard;
}

const fail = (code: string, message: string, retryable: boolean): CommandOutcome => ({ status: 'failed', error: { code, message, retryable } });
const INVALID_PAYLOAD = 'InvalidPayload';

/**
 * The Windows Update executor: the protocol's commands on a real Windows machine. Scans and WUA
 * installs go through agent/windows/wua.ps1; standalone .msu and .msi files run through wusa.exe and
 * msiexec.exe; restarts through shutdown.exe; every program gets an argument array. All decisions are
 * made here and in domain/wua-*.ts, so they are tested against recorded transcripts.
 */
export class WindowsUpdateExecutor implements DeviceExecutor {
  readonly name: string;
  private currentBootId: string;
  private loggedOnUser: string | null;
  private readonly script: WuaScript;
  private readonly paths: WindowsPaths;
  private readonly system32: string;
  private readonly inFlight = new Map<string, Promise<CommandOutcome>>();
  private readonly fetchFn: typeof fetch;
  private readonly freeDisk: (dir: string) => Promise<number>;
  private readonly now: () => Date;
  private readonly folderGuard: FolderAclGuard;

  private constructor(private readonly options: WindowsUpdateExecutorOptions, boot: { bootId: string; loggedOnUser: string | null }) {
    this.name = options.name;
    this.currentBootId = boot.bootId;
    this.loggedOnUser = boot.loggedOnUser;
    const systemRoot = options.systemRoot ?? 'C:\\Windows';
    this.system32 = path.win32.join(systemRoot, 'System32');
    this.script = new WuaScript({
      runner: options.runner,
      scriptPath: options.scriptPath ?? path.join(__dirname, 'wua.ps1'),
      powershell: path.win32.join(this.system32, 'WindowsPowerShell', 'v1.0', 'powershell.exe'),
      argsDir: options.argsDir,
    });
    this.paths = options.paths ?? identityPaths;
    this.fetchFn = options.fetch ?? fetch;
    this.freeDisk = options.freeDiskBytes ?? (async (dir) => { const s = await statfs(dir); return s.bavail * s.bsize; });
    this.now = options.now ?? (() => new Date());
    this.folderGuard = options.folderAclGuard ?? new ScriptFolderAclGuard({
      script: this.script, runner: options.runner, icacls: path.win32.join(this.system32, 'icacls.exe'), localPath: (p) => this.paths.localPath(p),
    });
  }

  /** The folders' access lists, after their spelling: refused when anyone but SYSTEM and Administrators can write. */
  private async unsafeFolders(folders: string[], signal?: AbortSignal): Promise<CommandOutcome | undefined> {
    const problem = await this.folderGuard.problem(folders, signal);
    return problem ? fail(CommandErrorCode.UnsafeFolder, `refused by the device: ${problem}`, false) : undefined;
  }

  /** Asks Windows for its last boot time (the boot id) before the first command. */
  static async start(options: WindowsUpdateExecutorOptions): Promise<WindowsUpdateExecutor> {
    const probe = new WindowsUpdateExecutor(options, { bootId: '', loggedOnUser: null });
    const r = await probe.script.rebootPending();
    probe.currentBootId = bootIdOf(r.lastBootUpTime);
    probe.loggedOnUser = r.loggedOnUser;
    return probe;
  }

  get bootId(): string {
    return this.currentBootId;
  }

  journalEntry(commandId: string): CommandOutcome | undefined {
    return this.options.journal.finished(commandId);
  }

  async handle(command: AgentCommand, options: ExecutorHandleOptions = {}): Promise<CommandOutcome> {
    const journalled = this.options.journal.finished(command.id);
    if (journalled) return journalled;
    const running = this.inFlight.get(command.id);
    if (running) return running;
    const run = this.run(command, options).finally(() => this.inFlight.delete(command.id));
    this.inFlight.set(command.id, run);
    const outcome = await run;
    if (isFinal(command, outcome)) await this.options.journal.finish(command.id, outcome);
    return outcome;
  }

  /** shutdown.exe /r with the delay the acknowledged reboot asked for (a warning shows Windows' own countdown). */
  async restart(signal: AbortSignal): Promise<void> {
    const state = await this.options.state.load();
    const delays = Object.values(state.reboots).filter((r) => r.fromBootId === this.currentBootId).map((r) => r.delaySeconds);
    const delay = delays.length ? Math.min(...delays) : 0;
    const r = await this.options.runner.run(
      path.win32.join(this.system32, 'shutdown.exe'),
      ['/r', '/t', String(delay), '/d', 'p:2:17', '/c', 'Patchflow: restarting to finish installing updates'],
      { signal },
    );
    if (r.exitCode !== 0 && r.exitCode !== SHUTDOWN_ALREADY_SCHEDULED) throw new Error(`shutdown.exe /r exited ${formatExitCode(r.exitCode)}: ${r.stderr.trim()}`);
  }

  private async run(command: AgentCommand, options: ExecutorHandleOptions): Promise<CommandOutcome> {
    const type = command.type as string;
    if (!(type in payloadSchemas)) return fail(CommandErrorCode.UnknownCommand, `the Windows agent does not run the command type "${type}"`, false);
    const parsed = payloadSchemas[type as WindowsCommandType].safeParse(command.payload);
    if (!parsed.success) return fail(INVALID_PAYLOAD, `refused by the device: ${type} payload: ${describeSchemaError(parsed.error)}`, false);
    // Began and never finished: the agent died while it ran, so the machine's real state is asked first.
    const interrupted = this.options.journal.interrupted().some((c) => c.id === command.id);
    await this.options.journal.begin(command);
    try {
      switch (type as WindowsCommandType) {
        case CommandType.Scan: return await this.scan();
        case CommandType.Download: {
          const payload = parsed.data as CommandPayloads['download'];
          if (!isDownloadOfPatches(payload)) return await this.download(payload, options);
          return await downloadPatches(payload, (one) => this.download(one, options));
        }
        case CommandType.Copy: return await this.copy(parsed.data as Payload<'copy'>);
        case CommandType.Execute: return await this.execute(parsed.data as Payload<'execute'>, interrupted, options);
        case CommandType.ExecutePatches:
          // Each update through the one-patch execute: WUA's installed state asked first (after an
          // interruption from Windows itself), so a re-delivery never installs twice.
          return await executePatches(command.id, parsed.data as Payload<'execute_patches'>, {
            executeOne: (one) => this.execute(one, interrupted, options),
            askToStart: options.askToStart,
            answers: this.options.journal,
          });
        case CommandType.Reboot: return await this.reboot(command.id, parsed.data as Payload<'reboot'>);
        case CommandType.Cleanup: return await this.cleanup(parsed.data as Payload<'cleanup'>);
        case CommandType.Uninstall: return await this.uninstall(parsed.data as Payload<'uninstall'>);
        case CommandType.HealthCheck: return await this.healthCheck(parsed.data as Payload<'health_check'>);
        case CommandType.PatchTest: return await this.patchTest(parsed.data as Payload<'patch_test'>, options);
      }
    } catch (err) {
      // A COM error (it has an HRESULT) may pass: the service restarts, the network comes back. A script
      // that prints no JSON or a shape we do not know is a broken agent install, which no retry mends.
      if (err instanceof WuaScriptError) return fail('WindowsUpdateError', err.message, err.hresult !== undefined);
      return fail('DeviceError', `${type} failed on the device: ${(err as Error).message}`, true);
    }
  }

  // ---- scan ----

  private async scan(): Promise<CommandOutcome> {
    const search = await this.script.search();
    const pending = await this.rebootProbe();
    const state = await this.options.state.load();
    state.loops = observeScan(state.loops, search.updates.map((u) => ({ updateId: u.updateId, installed: u.isInstalled, rebootRequired: u.rebootRequired })));
    state.lastScan = {
      bootId: this.currentBootId,
      installed: search.updates.filter((u) => u.isInstalled).map((u) => u.updateId.toLowerCase()),
      rebootRequired: search.updates.filter((u) => u.rebootRequired).map((u) => u.updateId.toLowerCase()),
    };
    await this.options.state.save(state);
    const report: ScanReport = {
      bootId: this.currentBootId,
      updates: reportedUpdates(search),
      rebootPending: pending.reasons.length > 0 || search.updates.some((u) => u.rebootRequired),
      freeDiskBytes: search.freeDiskBytes,
      scannedAt: this.now().toISOString(),
    };
    // The device answers a ScanReport; the gateway turns it into the ScanResult the workflow sees
    // (api/scan-report.ts), which is the type CommandOutcome names.
    return { status: 'succeeded', result: report as unknown as ScanResult };
  }

  // ---- download, copy ----

  /** One patch's download (a download of several runs it for each: agent/download-patches.ts). */
  private async download(p: DownloadPayload, options: ExecutorHandleOptions): Promise<CommandOutcome> {
    const working = safeFolder(p.workingFolder, FolderRole.Working);
    if ('refused' in working) return fail(CommandErrorCode.UnsafeFolder, working.refused, false);
    const refused = await this.unsafeFolders([working.canonical], options.signal);
    if (refused) return refused;
    const windowsPath = path.win32.join(working.canonical, p.patch.fileName);
    const localDir = this.paths.localPath(working.canonical);
    await mkdir(localDir, { recursive: true });
    const free = await this.freeDisk(localDir);
    if (p.patch.sizeBytes > free) return fail(CommandErrorCode.DiskFull, `${windowsPath} needs ${p.patch.sizeBytes} bytes, the drive has ${free} free`, true);
    options.onProgress?.({ message: `downloading ${p.patch.fileName}`, percent: 0 });
    const sources = sourcesOf(p);
    const fellBack: DownloadReport['fellBack'] = [];
    const errors: CommandError[] = [];
    for (const source of sources) {
      const started = Date.now();
      const base = {
        url: p.patch.downloadUrl, file: path.join(localDir, p.patch.fileName), shownAs: windowsPath,
        sizeBytes: p.patch.sizeBytes, sha256: p.patch.sha256, fetch: this.fetchFn, signal: options.signal, onProgress: options.onProgress,
      };
      let r: Awaited<ReturnType<typeof downloadVerified>>;
      if (source === FileSource.Internet || source === FileSource.TempMostFreeDrive) {
        // The working folder is the staging place: its drive and access rules are checked above.
        r = await downloadVerified(base);
      } else if (source === FileSource.Cache && options.cachedFile) {
        const cachedFile = options.cachedFile;
        r = await downloadVerified({ ...base, open: (signal) => cachedFile(p.patch.sha256.toLowerCase(), signal), shownSource: `the Patchflow cache (${p.patch.sha256.toLowerCase()})` });
      } else {
        const why = source === FileSource.Cache ? 'no gateway to fetch from' : source === FileSource.LanShare ? 'this agent has no LAN share (only the simulator models one)' : `this agent does not know the file source "${String(source)}"`;
        r = { ok: false, error: { code: CommandErrorCode.DownloadFailed, message: why, retryable: false } };
      }
      if (r.ok) {
        const durationMs = Math.max(1, Date.now() - started);
        const report: DownloadReport = { servedBy: source, bytes: r.bytes, durationMs, bytesPerSecond: Math.round((r.bytes * 1000) / durationMs), fellBack };
        return { status: 'succeeded', result: { kb: p.patch.kb, path: windowsPath, sha256: r.sha256, bytes: r.bytes, source: report } };
      }
      errors.push(r.error);
      fellBack.push({ source, reason: r.error.message });
    }
    // One source: its own error, as before file sources; several: each source and why.
    if (errors.length === 1) return { status: 'failed', error: errors[0]! };
    const allHashes = errors.every((e) => e.code === CommandErrorCode.HashMismatch);
    return fail(allHashes ? CommandErrorCode.HashMismatch : CommandErrorCode.DownloadFailed, new AllFileSourcesFailedError(fellBack).message, !allHashes && errors.some((e) => e.retryable));
  }

  private async copy(p: Payload<'copy'>): Promise<CommandOutcome> {
    const folders = safeFolders(p);
    if ('refused' in folders) return fail(CommandErrorCode.UnsafeFolder, folders.refused, false);
    const refused = await this.unsafeFolders([folders.workingFolder, folders.installFolder]);
    if (refused) return refused;
    const installDir = this.paths.localPath(folders.installFolder);
    await mkdir(installDir, { recursive: true });
    const copied: { kb: string; path: string }[] = [];
    for (const patch of p.patches) {
      const from = path.join(this.paths.localPath(folders.workingFolder), patch.fileName);
      if (!(await isFile(from))) return fail(CommandErrorCode.FileMissing, `${path.win32.join(folders.workingFolder, patch.fileName)} is missing; download ${patch.kb} again`, true);
      await copyFile(from, path.join(installDir, patch.fileName));
      copied.push({ kb: patch.kb, path: path.win32.join(folders.installFolder, patch.fileName) });
    }
    return { status: 'succeeded', result: { copied } };
  }

  // ---- execute ----

  private async execute(p: Payload<'execute'>, interrupted: boolean, options: ExecutorHandleOptions): Promise<CommandOutcome> {
    const { patch } = p;
    const install = safeFolder(p.installFolder, FolderRole.Install);
    if ('refused' in install) return fail(CommandErrorCode.UnsafeFolder, install.refused, false);
    const windowsPath = path.win32.join(install.canonical, patch.fileName);
    const file = path.join(this.paths.localPath(install.canonical), patch.fileName);
    const started = Date.now();
    const answer = (exitCode: number, alreadyInstalled: boolean): CommandOutcome => ({
      status: 'succeeded', result: { kb: patch.kb, exitCode: exitCode >>> 0, durationMs: Date.now() - started, alreadyInstalled },
    });

    let state = await this.options.state.load();
    const loop = updateLoopProblem(state.loops, patch.updateId, patch.kb);
    if (loop) return fail('UpdateLoop', loop, false);

    // Installed state is asked again before anything runs: after an interruption from Windows itself,
    // otherwise from this boot's last scan (the pre-scan of this run).
    const id = patch.updateId.toLowerCase();
    if (interrupted) {
      const fresh = (await this.script.search(options.signal)).updates.find((u) => u.updateId.toLowerCase() === id);
      if (fresh?.isInstalled) return answer(ALREADY_INSTALLED, true);
      if (fresh?.rebootRequired) return answer(REBOOT_REQUIRED, true);
    } else if (state.lastScan?.bootId === this.currentBootId) {
      // The last scan of this boot, plus what this agent installed since (a later scan overwrites both).
      if (state.lastScan.installed.includes(id)) return answer(ALREADY_INSTALLED, true);
      if (state.lastScan.rebootRequired.includes(id)) return answer(REBOOT_REQUIRED, true);
    }

    const pending = await this.rebootProbe();
    const ours = state.installedThisBoot.bootId === this.currentBootId ? state.installedThisBoot.updateIds.length : 0;
    const owed = rebootOwedBeforeRun(pending.keys, ours);
    if (owed.owed) {
      // Rule 25: restart first, then install. The answer is WUA's own code for it, which the workflow
      // treats as busy (bounded retries, no failure counted); a retryable failure would be retried
      // without end and keep the device's install open until someone restarts the machine.
      options.onProgress?.({ message: `not installing ${patch.kb}: Windows was waiting for a restart before this run (${owed.reasons.join(', ')})` });
      return answer(WU_E_INSTALL_NOT_ALLOWED, false);
    }

    const refused = await this.unsafeFolders([install.canonical], options.signal);
    if (refused) return refused;
    if (!(await isFile(file))) return fail(CommandErrorCode.FileMissing, `${windowsPath} is missing; copy ${patch.kb} again`, true);
    // Checked again right before running: nothing runs whose hash does not match the catalog.
    const actual = await sha256OfFile(file);
    if (actual !== patch.sha256.toLowerCase()) {
      return fail(CommandErrorCode.HashMismatch, `SHA-256 of ${windowsPath} is ${actual}, catalog says ${patch.sha256.toLowerCase()}; not executed`, false);
    }

    const ran = await this.runInstaller(patch.updateId, windowsPath, options);
    if ('outcome' in ran) return ran.outcome;
    const meaning = interpretExitCode(ran.exitCode);
    state = await this.options.state.load();
    if (meaning.outcome === ExecutionOutcome.Installed || meaning.outcome === ExecutionOutcome.InstalledPendingReboot) {
      state.loops = recordInstallSuccess(state.loops, patch.updateId);
      const current = state.installedThisBoot.bootId === this.currentBootId ? state.installedThisBoot.updateIds : [];
      state.installedThisBoot = { bootId: this.currentBootId, updateIds: [...new Set([...current, id])] };
      const view = state.lastScan?.bootId === this.currentBootId ? state.lastScan : { bootId: this.currentBootId, installed: [], rebootRequired: [] };
      const list = meaning.outcome === ExecutionOutcome.Installed ? view.installed : view.rebootRequired;
      if (!list.includes(id)) list.push(id);
      state.lastScan = view;
      await this.options.state.save(state);
    }
    return answer(ran.exitCode, false);
  }

  /** The installer by file type: wusa for .msu, msiexec for .msi, the WUA API (with the verified .cab) otherwise. */
  private async runInstaller(updateId: string, windowsPath: string, options: ExecutorHandleOptions): Promise<{ exitCode: number } | { outcome: CommandOutcome }> {
    const ext = path.win32.extname(windowsPath).toLowerCase();
    if (ext === '.msu') {
      options.onProgress?.({ message: `wusa.exe ${path.win32.basename(windowsPath)} /quiet /norestart` });
      const r = await this.options.runner.run(path.win32.join(this.system32, 'wusa.exe'), [windowsPath, '/quiet', '/norestart'], { signal: options.signal });
      return { exitCode: r.exitCode };
    }
    if (ext === '.msi') {
      options.onProgress?.({ message: `msiexec.exe /i ${path.win32.basename(windowsPath)} /qn /norestart` });
      const r = await this.options.runner.run(path.win32.join(this.system32, 'msiexec.exe'), ['/i', windowsPath, '/qn', '/norestart'], { signal: options.signal });
      return { exitCode: r.exitCode };
    }
    // The execute's answer is an exit code: whatever WUA says, its HRESULT goes through the same table
    // as wusa's, so a permanent refusal fails the patch (counted) and a busy WUA waits, instead of a
    // retryable failure the workflow would retry without end.
    const asExitCode = (err: unknown): { exitCode: number } | { outcome: CommandOutcome } => {
      if (err instanceof WuaScriptError && err.hresult !== undefined && isFailureHresult(err.hresult)) {
        options.onProgress?.({ message: err.message });
        return { exitCode: err.hresult };
      }
      throw err;
    };
    try {
      options.onProgress?.({ message: 'handing the verified file to Windows Update' });
      const downloaded = await this.script.download({ updateIds: [updateId], files: [windowsPath] }, options.signal);
      const row = downloaded.updates[0];
      if (downloaded.updates.length !== 1 || row!.updateId.toLowerCase() !== updateId.toLowerCase()) {
        return { outcome: fail('WindowsUpdateError', `the download answer does not describe update ${updateId}; not believed, nothing installed`, false) };
      }
      if (row!.resultCode !== OperationResultCode.Succeeded) {
        const reading = readUpdateResult(row!, downloaded.hresult);
        if (!reading.final) return { outcome: fail(reading.code, reading.why, true) };
        if (isFailureHresult(reading.exitCode)) {
          options.onProgress?.({ message: `Windows Update did not take the verified file: ${reading.why}` });
          return { exitCode: reading.exitCode };
        }
        // Succeeded with errors, none on this update: the install says whether the files are enough.
      }
      options.onProgress?.({ message: 'installing through Windows Update' });
      const installed = await this.script.install({ updateIds: [updateId], files: [] }, options.signal);
      if (installed.rebootRequiredBeforeInstallation) {
        options.onProgress?.({ message: 'Windows requires a restart before it installs anything (IUpdateInstaller.RebootRequiredBeforeInstallation)' });
        return { exitCode: WU_E_INSTALL_NOT_ALLOWED };
      }
      const reading = readInstallation(installed, [updateId]);
      if ('problem' in reading) return { outcome: fail('WindowsUpdateError', `${reading.problem}; not believed, and not installed again`, false) };
      const mine = reading.updates[0]!;
      if (!mine.final) return { outcome: fail(mine.code, mine.why, true) };
      return { exitCode: mine.exitCode };
    } catch (err) {
      return asExitCode(err);
    }
  }

  // ---- reboot ----

  private async reboot(commandId: string, p: Payload<'reboot'>): Promise<CommandOutcome> {
    const state = await this.options.state.load();
    const asked = state.reboots[commandId];
    if (asked) {
      if (asked.fromBootId !== this.currentBootId) {
        // Delivered again after the restart: done, never restarted a second time.
        delete state.reboots[commandId];
        await this.options.state.save(state);
        return { status: 'succeeded', result: { previousBootId: asked.fromBootId, bootId: this.currentBootId } };
      }
      return { status: 'acknowledged' };
    }
    await this.rebootProbe(); // who is at the console now
    const mode = p.mode ?? { kind: 'immediate' as const };
    const loggedOn = this.loggedOnUser !== null;
    const restartIn = async (delaySeconds: number): Promise<CommandOutcome> => {
      state.reboots[commandId] = { fromBootId: this.currentBootId, delaySeconds };
      await this.options.state.save(state);
      return { status: 'acknowledged' };
    };
    // Nobody logged on: every mode restarts at once (rule 23).
    if (mode.kind === 'immediate' || !loggedOn) return restartIn(0);
    switch (mode.kind) {
      case 'warn':
        // shutdown.exe /t shows the logged-on user Windows' own countdown: the warning is the delay.
        return restartIn(mode.minutes * 60);
      case 'skip_if_user_logged_on':
        return { status: 'succeeded', result: { previousBootId: this.currentBootId, bootId: this.currentBootId, skipped: { reason: 'user_logged_on' }, userWasLoggedOn: true, waitedMinutes: 0 } };
      case 'ask':
      case 'ask_every':
      case 'ask_defer':
        // A service runs in session 0 and cannot show the user a question; a helper in the user's
        // session would be needed, and there is none yet. Refusing says so instead of guessing an answer.
        return fail('RebootModeUnsupported', `${this.loggedOnUser} is logged on and the Windows agent cannot ask them (reboot mode ${mode.kind}); use warn or skip_if_user_logged_on. The machine did not restart`, false);
    }
  }

  // ---- cleanup, uninstall ----

  private async cleanup(p: Payload<'cleanup'>): Promise<CommandOutcome> {
    // Cleanup deletes everything in both folders: the device's own check of the folders, whatever the
    // server sent, is what keeps a tampered command from emptying C:\Windows\System32.
    const folders = safeFolders(p);
    if ('refused' in folders) return fail(CommandErrorCode.UnsafeFolder, folders.refused, false);
    const working = this.paths.localPath(folders.workingFolder);
    const install = this.paths.localPath(folders.installFolder);
    const removedFiles = (await emptyFolder(working)) + (await emptyFolder(install));
    return { status: 'succeeded', result: { removedFiles, workingFolderEmpty: (await readdir(working)).length === 0, installFolderEmpty: (await readdir(install)).length === 0 } };
  }

  private async uninstall(p: Payload<'uninstall'>): Promise<CommandOutcome> {
    const started = Date.now();
    const search = await this.script.search();
    const found = search.updates.find((u) => u.updateId.toLowerCase() === p.updateId.toLowerCase());
    const answer = (exitCode: number, notInstalled: boolean): CommandOutcome => ({
      status: 'succeeded', result: { kb: p.kb, exitCode: exitCode >>> 0, durationMs: Date.now() - started, notInstalled },
    });
    if (!found?.isInstalled && !found?.rebootRequired) return answer(ALREADY_UNINSTALLED, true);
    const r = await this.options.runner.run(path.win32.join(this.system32, 'wusa.exe'), ['/uninstall', `/kb:${p.kb.slice(2)}`, '/quiet', '/norestart']);
    return answer(r.exitCode, false);
  }

  // ---- health check ----

  /**
   * A named health check: `services_running` asks Get-Service (wua.ps1 services, the names in the
   * arguments file). `processes_running` is refused: on Windows a service is the thing to check.
   */
  private async healthCheck(p: Payload<'health_check'>): Promise<CommandOutcome> {
    const check = p.check;
    if (check.kind !== HealthCheckKind.ServicesRunning) {
      return fail(CommandErrorCode.UnsupportedCheck, `the Windows agent does not run ${check.kind} checks; use services_running (Get-Service names)`, false);
    }
    const out = await this.script.services(check.services);
    return { status: 'succeeded', result: healthCheckResult(check, windowsServiceStates(out.services), 'running') };
  }

  // ---- Patch Test ----

  /**
   * The Patch Test (seed 003): what an install would meet, observed and reported, nothing installed,
   * staged or changed. The working folder's owner and rules as they are (a folder not there yet is
   * reported so; the download step would create it locked down), the free space of its drive, each
   * selected file fetched from the catalog's URL and hashed as it arrives (never written), and the
   * Windows Update services' start types. The agent runs as LocalSystem. The server decides
   * (domain/patch-test.ts), with the same folder rule this agent applies before it downloads.
   */
  private async patchTest(p: Payload<'patch_test'>, options: ExecutorHandleOptions): Promise<CommandOutcome> {
    const working = safeFolder(p.workingFolder, FolderRole.Working);
    if ('refused' in working) return fail(CommandErrorCode.UnsafeFolder, working.refused, false);
    const acl = (await this.script.folderAcl([working.canonical], options.signal)).folders.find((f) => f.path.toLowerCase() === working.canonical.toLowerCase()) ?? null; // Windows paths ignore case
    const drive = acl?.exists ? working.canonical : path.win32.parse(working.canonical).root;
    const freeBytes = await this.freeDisk(this.paths.localPath(drive)).catch(() => null);
    const files: PatchTestObservation['files'] = [];
    for (const patch of p.patches) {
      const base = { patchId: normaliseKb(patch.kb), source: patch.downloadUrl, expectedSha256: patch.sha256, sizeBytes: patch.sizeBytes };
      options.onProgress?.({ message: `Patch Test: fetching ${patch.fileName} to check its hash`, percent: Math.round((files.length * 100) / p.patches.length) });
      const r = await downloadVerified({ url: patch.downloadUrl, shownAs: patch.downloadUrl, sizeBytes: patch.sizeBytes, sha256: patch.sha256, fetch: this.fetchFn, signal: options.signal });
      if (r.ok) files.push({ ...base, answered: true, sha256: r.sha256 });
      // It answered, with other bytes (or more of them than the catalog's size): the file is wrong, the source up.
      else if (r.error.code === CommandErrorCode.HashMismatch) files.push({ ...base, answered: true, sha256: r.sha256 ?? null, error: r.error.message });
      else files.push({ ...base, answered: false, sha256: null, error: r.error.message });
    }
    const services = windowsStartTypes((await this.script.services([...WINDOWS_UPDATE_SERVICES], options.signal)).services);
    if (!services) return fail('DeviceError', 'wua.ps1 services reported no start types: the agent\'s script is older than the agent', false);
    const observation: PatchTestObservation = {
      credential: { kind: 'system' }, platform: FolderPlatform.Windows, workingFolder: working.canonical,
      workingFolderAcl: acl, freeBytes, files, services,
    };
    return { status: 'succeeded', result: observation };
  }

  // ---- helpers ----

  /** The registry keys, and who is at the console; the boot id never changes while this process lives. */
  private async rebootProbe(): Promise<{ keys: Awaited<ReturnType<WuaScript['rebootPending']>>['keys']; reasons: string[] }> {
    const r = await this.script.rebootPending();
    this.loggedOnUser = r.loggedOnUser;
    return { keys: r.keys, reasons: pendingRebootReasons(r.keys) };
  }
}

/** The boot id: Windows' last boot time, which changes on every boot and only then. */
export const bootIdOf = (lastBootUpTime: string): string => `boot-${new Date(lastBootUpTime).toISOString()}`;

/** The scan as the gateway takes it: update id, revision, installed; KB and title as display hints. */
function reportedUpdates(search: SearchOutput): ReportedUpdate[] {
  const seen = new Set<string>();
  const out: ReportedUpdate[] = [];
  for (const u of search.updates) {
    const key = u.updateId.toLowerCase();
    if (seen.has(key)) continue; // one update found by both searches is reported once
    seen.add(key);
    out.push({ updateId: key, revision: u.revision, installed: u.isInstalled, ...kbHint(u), title: u.title.slice(0, 500) });
  }
  return out;
}
const kbHint = (u: WuaUpdate): { kb?: string } => (u.kbArticleIds[0] ? { kb: `KB${u.kbArticleIds[0]}` } : {});

function safeFolder(folder: string, role: FolderRole): { canonical: string } | { refused: string } {
  const r = checkFolder(folder, { role, platform: FolderPlatform.Windows });
  return r.ok ? { canonical: r.canonical } : { refused: `refused by the device: ${r.problem.message}` };
}

function safeFolders(p: { workingFolder: string; installFolder: string }): { workingFolder: string; installFolder: string } | { refused: string } {
  const w = safeFolder(p.workingFolder, FolderRole.Working);
  if ('refused' in w) return w;
  const i = safeFolder(p.installFolder, FolderRole.Install);
  if ('refused' in i) return i;
  return { workingFolder: w.canonical, installFolder: i.canonical };
}

/** Final answers are journalled; acknowledged reboots, retryable failures and busy installers are not. */
function isFinal(command: AgentCommand, outcome: CommandOutcome): boolean {
  if (outcome.status === 'acknowledged') return false;
  if (outcome.status === 'failed') return !outcome.error.retryable;
  if (command.type === CommandType.Execute) {
    const { exitCode } = outcome.result as { exitCode: number };
    return interpretExitCode(exitCode).outcome !== ExecutionOutcome.Busy;
  }
  return true;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isFile(), () => false);
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Removes everything inside a folder (creating it when absent); how many files went. */
async function emptyFolder(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile()).length;
  for (const entry of await readdir(dir)) await rm(path.join(dir, entry), { recursive: true, force: true });
  return files;
}
