/**
 * The Linux executor: Patchflow's seven install steps on a Debian or Ubuntu machine, with apt and dpkg.
 *
 * - scan: `apt-get update`, then `apt-get -s upgrade` (what is upgradable), `dpkg-query -W` (what is
 *   installed) and `apt-cache policy` (which suite each version comes from); a candidate from a
 *   `*-security` suite is a security update. Each package version is reported with the update id the
 *   apt feed adapter gives it (domain/apt.ts).
 * - download: the .deb from the catalog's URL into the working folder; size and SHA-256 checked while it
 *   streams, the file removed when they do not match.
 * - copy: to the install folder. execute: the SHA-256 again, the .deb's own Package/Version checked
 *   against the update id, then `apt-get install -y --no-remove ./file.deb` with a dpkg lock timeout.
 *   apt's and dpkg's results become Patchflow's exit codes (0, 3010 when /var/run/reboot-required
 *   appears or names the package, 1618 busy when the lock stays held, dpkg's own status on failure),
 *   and `dpkg-query` confirms the version is installed.
 * - reboot: `systemctl reboot` (only when the command says so); the new boot id
 *   (/proc/sys/kernel/random/boot_id) proves it.
 * - cleanup: empties both folders.
 *
 * Every program gets its arguments as an array (never a shell line), and package names and versions
 * are checked against Debian's rules before they reach one. With `root` set (tests: a throwaway Debian
 * root), package tools run as `chroot <root> …` and folders live under it; the host's packages are
 * never touched.
 *
 * The journal (agent/command-journal.ts) is on disk: a final outcome is answered from it, never run
 * again; an execute that was running when the agent died asks dpkg-query first whether the version is in.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { AllFileSourcesFailedError, FileSource, sourcesOf, type DownloadReport } from '../domain/file-source';
import { downloadPatches, isDownloadOfPatches } from './download-patches';
import { executePatches } from './execute-patches';
import {
  CommandErrorCode,
  CommandType,
  type AgentCommand,
  type CleanupPayload,
  type CommandOutcome,
  type CopyPayload,
  type DownloadPayload,
  type ExecutePayload,
  type PatchFile,
  type PatchTestPayload,
  type ReportedUpdate,
  type ScanReport,
} from '../domain/device-protocol';
import {
  APT_REVISION, aptUpdateId, DPKG_QUERY_FORMAT, interpretAptInstall, isInstalledStatus, isPackageName, isSecuritySuite,
  parseAptCachePolicy, parseAptUpdateId, parseDpkgQuery, parseSimulatedUpgrade,
} from '../domain/apt';
import { checkFolder, FolderPlatform, FolderRole } from '../domain/folders';
import type { PatchTestObservation } from '../domain/patch-test';
import { HealthCheckKind, healthCheckProblem, healthCheckResult } from '../domain/health-check';
import { packagePatchId } from '../domain/patch-id';
import { FileCommandJournal } from './command-journal';
import type { DeviceExecutor, ExecutorHandleOptions } from './executor';
import { guardPosixFolder } from './folder-guard';
import { downloadVerified } from './verified-download';
import { writeFileDurably } from './result-outbox';
import { checkFileName, emptyDirectory, listFiles } from './sandbox';

/** Exit codes in the protocol's vocabulary (domain/exit-codes.ts), which the server reads for every platform. */
const EXIT = { Installed: 0, RebootRequired: 3010, AlreadyInstalled: 0x00240006, Busy: 1618 } as const;

export interface RunResult { code: number; stdout: string; stderr: string }

export interface AptExecutorOptions {
  /** where the journal and reboot notes live (0700); e.g. /var/lib/patchflow-agent */
  stateDir: string;
  /** the machine's file system; default "/". Another directory: package tools run in it with chroot */
  root?: string;
  /** the machine's name (default: the hostname) */
  name?: string;
  /** how the distribution is named in the catalog (default: PRETTY_NAME of the root's /etc/os-release) */
  product?: string;
  /** what restarts the machine; default ["systemctl", "reboot"] */
  rebootCommand?: string[];
  /** how long apt waits for the dpkg lock before the step is answered busy; default 120 s */
  lockTimeoutSeconds?: number;
  /** run `apt-get update` before each scan; default true */
  updateBeforeScan?: boolean;
  log?: (obj: Record<string, unknown>, msg: string) => void;
  /** where the boot id is read; default /proc/sys/kernel/random/boot_id (tests give a file they change) */
  bootIdFile?: string;
  /** where running processes are listed (`<procDir>/<pid>/comm`); default /proc (tests give a directory) */
  procDir?: string;
}

const fail = (code: string, message: string, retryable: boolean): CommandOutcome => ({ status: 'failed', error: { code, message, retryable } });

export class AptExecutor implements DeviceExecutor {
  readonly name: string;
  readonly root: string;
  readonly journal: FileCommandJournal;
  private readonly stateDir: string;
  private readonly rebootCommand: string[];
  private readonly lockTimeoutSeconds: number;
  private readonly updateBeforeScan: boolean;
  private readonly inFlight = new Map<string, Promise<CommandOutcome>>();
  private readonly log: AptExecutorOptions['log'];

  constructor(readonly options: AptExecutorOptions) {
    this.root = path.resolve(options.root ?? '/');
    this.name = options.name ?? os.hostname();
    this.stateDir = options.stateDir;
    fs.mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    this.journal = new FileCommandJournal(path.join(this.stateDir, 'journal.jsonl'));
    this.rebootCommand = options.rebootCommand ?? ['systemctl', 'reboot'];
    this.lockTimeoutSeconds = options.lockTimeoutSeconds ?? 120;
    this.updateBeforeScan = options.updateBeforeScan ?? true;
    this.log = options.log;
  }

  /** The kernel's id of this boot: a new one after every restart. */
  get bootId(): string {
    return fs.readFileSync(this.options.bootIdFile ?? '/proc/sys/kernel/random/boot_id', 'utf8').trim();
  }

  journalEntry(commandId: string): CommandOutcome | undefined {
    return this.journal.finished(commandId);
  }

  async handle(command: AgentCommand, options: ExecutorHandleOptions = {}): Promise<CommandOutcome> {
    const journalled = this.journal.finished(command.id);
    if (journalled) return journalled;
    const running = this.inFlight.get(command.id);
    if (running) return running;
    const run = this.runJournalled(command, options).finally(() => this.inFlight.delete(command.id));
    this.inFlight.set(command.id, run);
    return run;
  }

  private async runJournalled(command: AgentCommand, options: ExecutorHandleOptions): Promise<CommandOutcome> {
    const interrupted = this.journal.wasInterrupted(command.id);
    if (!interrupted) await this.journal.begin(command);
    let outcome: CommandOutcome;
    try {
      outcome = await this.run(command, { ...options, interrupted });
    } catch (err) {
      outcome = fail('DeviceError', `${command.type} failed on the device: ${(err as Error).message}`, true);
    }
    if (isFinal(command, outcome)) await this.journal.finish(command.id, outcome);
    else if (outcome.status !== 'acknowledged') await this.journal.abandon(command.id);
    return outcome;
  }

  async restart(signal: AbortSignal): Promise<void> {
    const r = await this.exec(this.rebootCommand, { inRoot: false });
    if (r.code !== 0) throw new Error(`${this.rebootCommand.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    // The machine goes down and this process with it; until then, nothing else runs.
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  private async run(command: AgentCommand, options: ExecutorHandleOptions & { interrupted: boolean }): Promise<CommandOutcome> {
    switch (command.type) {
      case CommandType.Scan: return this.scan();
      case CommandType.Download: {
        const { payload } = command as AgentCommand<'download'>;
        return isDownloadOfPatches(payload) ? downloadPatches(payload, (one) => this.download(one, options)) : this.download(payload, options);
      }
      case CommandType.Copy: return this.copy((command as AgentCommand<'copy'>).payload);
      case CommandType.Execute: return this.execute((command as AgentCommand<'execute'>).payload, options.interrupted);
      case CommandType.ExecutePatches: {
        const { payload } = command as AgentCommand<'execute_patches'>;
        if (!Array.isArray(payload?.patches)) return fail('InvalidPayload', 'execute_patches payload has no patches', false);
        // Each package through the one-patch execute: dpkg-query asked first, so a re-delivery never installs twice.
        return executePatches(command.id, payload, {
          executeOne: (one) => this.execute(one, options.interrupted),
          askToStart: options.askToStart,
          answers: this.journal,
        });
      }
      case CommandType.Reboot: return this.reboot(command);
      case CommandType.Cleanup: return this.cleanup((command as AgentCommand<'cleanup'>).payload);
      case CommandType.Uninstall:
        return fail('UninstallNotSupported', 'this agent does not remove Linux packages: roll back with a newer package version instead', false);
      case CommandType.HealthCheck: return this.healthCheck((command as AgentCommand<'health_check'>).payload);
      case CommandType.PatchTest: return this.patchTest((command as AgentCommand<'patch_test'>).payload, options);
      default:
        return fail(CommandErrorCode.UnknownCommand, `this agent does not know the command type "${String((command as { type: unknown }).type)}"`, false);
    }
  }

  // ---- Patch Test ----

  /**
   * The Patch Test on a Debian or Ubuntu machine: what an install would meet, nothing installed. The
   * working folder goes through the same check a download makes (agent/folder-guard.ts: not a system
   * folder, owned by the agent's user, writable by no one else, no symlink out; a missing one is created
   * 0700 as the download would); its refusal is reported, not answered as a failure, so the test says
   * which check failed. Free space of the device's file system, and each selected package fetched from
   * the catalog's URL and hashed as it arrives, never written. The agent runs as root; there are no
   * Windows Update services to check. The server decides (domain/patch-test.ts).
   */
  private async patchTest(payload: PatchTestPayload, options: ExecutorHandleOptions): Promise<CommandOutcome> {
    const named = checkFolder(payload?.workingFolder, { role: FolderRole.Working, platform: FolderPlatform.Posix });
    if (!named.ok) return fail(CommandErrorCode.UnsafeFolder, `refused by the device: ${named.problem.message}`, false);
    const problems = (payload.patches ?? []).map((p) => patchProblem(p)).filter((p): p is string => p !== undefined);
    if (problems.length > 0) return fail('InvalidPayload', problems[0]!, false);
    const folder = await this.folder(named.canonical, FolderRole.Working);
    const files: PatchTestObservation['files'] = [];
    for (const patch of payload.patches) {
      const base = { patchId: patch.kb, source: patch.downloadUrl, expectedSha256: patch.sha256, sizeBytes: patch.sizeBytes };
      const r = await downloadVerified({ url: patch.downloadUrl, shownAs: patch.downloadUrl, sizeBytes: patch.sizeBytes, sha256: patch.sha256, fetch, signal: options.signal });
      if (r.ok) files.push({ ...base, answered: true, sha256: r.sha256 });
      else if (r.error.code === CommandErrorCode.HashMismatch) files.push({ ...base, answered: true, sha256: r.sha256 ?? null, error: r.error.message });
      else files.push({ ...base, answered: false, sha256: null, error: r.error.message });
    }
    const observation: PatchTestObservation = {
      credential: { kind: 'system' }, platform: FolderPlatform.Posix, workingFolder: named.canonical, workingFolderAcl: null,
      ...('refused' in folder ? { folderProblem: folder.refused.replace(/^refused by the device: /, '') } : {}),
      freeBytes: await this.freeDiskBytes().catch(() => null), files, services: {},
    };
    return { status: 'succeeded', result: observation };
  }

  // ---- health check ----

  /**
   * A named health check (domain/health-check.ts). `processes_running` reads the kernel's process list
   * (`/proc/<pid>/comm`), so it needs no service manager and runs no program. `services_running` is
   * refused: this agent does not assume systemd (containers, minimal images), and it never builds a
   * command line from the server's names.
   */
  private async healthCheck(payload: AgentCommand<'health_check'>['payload']): Promise<CommandOutcome> {
    const problem = healthCheckProblem(payload?.check);
    if (problem) return fail('InvalidPayload', `refused by the device: ${problem.field} ${problem.problem}`, false);
    const check = payload.check;
    if (check.kind !== HealthCheckKind.ProcessesRunning) {
      return fail(CommandErrorCode.UnsupportedCheck,
        `this agent does not run ${check.kind} checks: it assumes no service manager; use processes_running (process names as in /proc/<pid>/comm)`, false);
    }
    const running = await runningProcesses(this.options.procDir ?? '/proc');
    const states = new Map(check.processes.map((n) => [n.toLowerCase(), running.has(n) ? 'running' : 'not running']));
    return { status: 'succeeded', result: healthCheckResult(check, states, 'running') };
  }

  // ---- scan ----

  private async scan(): Promise<CommandOutcome> {
    if (this.updateBeforeScan) {
      const update = await this.exec(['apt-get', 'update', '-q']);
      if (update.code !== 0) return fail('ScanFailed', `apt-get update exited ${update.code}: ${lastLines(update.stderr)}`, true);
    }
    const simulated = await this.exec(['apt-get', '-s', '-q', 'upgrade']);
    if (simulated.code !== 0) return fail('ScanFailed', `apt-get -s upgrade exited ${simulated.code}: ${lastLines(simulated.stderr)}`, true);
    const query = await this.exec(['dpkg-query', '-W', '-f', DPKG_QUERY_FORMAT]);
    if (query.code !== 0) return fail('ScanFailed', `dpkg-query exited ${query.code}: ${lastLines(query.stderr)}`, true);
    const installed = parseDpkgQuery(query.stdout).filter((p) => isInstalledStatus(p.status));
    const upgradable = parseSimulatedUpgrade(simulated.stdout);
    const names = [...new Set([...installed.map((p) => p.name), ...upgradable.map((p) => p.name)])];
    const policy = parseAptCachePolicy((await this.exec(['apt-cache', 'policy', ...names])).stdout);
    const suitesOf = (name: string, version: string) => policy.get(name)?.versions.find((v) => v.version === version)?.suites ?? [];
    /** The suite an update id names: a security suite first (what makes it a security update). */
    const suiteFor = (suites: string[]) => suites.find(isSecuritySuite) ?? suites[0];

    const updates: ReportedUpdate[] = [];
    for (const u of upgradable) {
      const suite = suiteFor(suitesOf(u.name, u.candidate)) ?? suiteFor(u.suites);
      if (!suite) continue;
      updates.push({ updateId: aptUpdateId({ suite, name: u.name, arch: u.arch, version: u.candidate }), revision: APT_REVISION, installed: false, kb: packagePatchId(u.name, u.candidate), title: `${u.name} ${u.candidate}` });
    }
    // Installed, but effective only after the restart that /var/run/reboot-required asks for: reported
    // not installed yet, as Windows reports an update that waits for a restart (Reboot Required until then).
    const rebootPending = await this.rebootRequired();
    const waitingForRestart = rebootPending ? await this.rebootRequiredPackages() : new Set<string>();
    for (const p of installed) {
      const suite = suiteFor(suitesOf(p.name, p.version));
      if (!suite) continue; // installed from a file or a repository no longer configured: no catalog entry can match
      updates.push({ updateId: aptUpdateId({ suite, name: p.name, arch: p.arch, version: p.version }), revision: APT_REVISION, installed: !waitingForRestart.has(p.name), kb: packagePatchId(p.name, p.version), title: `${p.name} ${p.version}` });
    }
    const report: ScanReport = {
      bootId: this.bootId,
      updates,
      rebootPending,
      freeDiskBytes: await this.freeDiskBytes(),
      scannedAt: new Date().toISOString(),
    };
    return { status: 'succeeded', result: report as never };
  }

  // ---- download, copy ----

  private async download(payload: DownloadPayload, options: ExecutorHandleOptions): Promise<CommandOutcome> {
    const problem = patchProblem(payload?.patch);
    if (problem) return fail('InvalidPayload', problem, false);
    const folder = await this.folder(payload.workingFolder, FolderRole.Working);
    if ('refused' in folder) return fail(CommandErrorCode.UnsafeFolder, folder.refused, false);
    const { patch } = payload;
    const url = new URL(patch.downloadUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail('InvalidPayload', `download URL must be http(s), not ${url.protocol}`, false);
    const target = path.join(folder.local, patch.fileName);
    const partial = `${target}.partial`;
    const sources = sourcesOf(payload);
    const fellBack: DownloadReport['fellBack'] = [];
    /** a source that could be reached and may work on a later delivery (not a hash mismatch, not a 4xx) */
    let retryable = false;
    let allHashes = true;
    for (const source of sources) {
      const started = Date.now();
      const where = source === FileSource.Cache ? `the Patchflow cache (${patch.sha256})` : url.href;
      let response: Response;
      try {
        response = await this.open(source, url, patch.sha256.toLowerCase(), options);
      } catch (err) {
        const status = (err as { status?: number }).status;
        retryable ||= status === undefined || status >= 500 || status === 429;
        allHashes = false;
        fellBack.push({ source, reason: `GET ${where} failed: ${(err as Error).message}` });
        continue;
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel().catch(() => undefined);
        retryable ||= response.status >= 500 || response.status === 429;
        allHashes = false;
        fellBack.push({ source, reason: `GET ${where} answered ${response.status}` });
        continue;
      }
      const got = await this.streamChecked(response, partial, patch.sizeBytes);
      if (got.bytes !== patch.sizeBytes || got.sha256 !== patch.sha256.toLowerCase()) {
        await fsp.rm(partial, { force: true });
        const what = got.bytes !== patch.sizeBytes ? `${got.bytes > patch.sizeBytes ? 'more than' : ''} ${got.bytes} bytes, the catalog says ${patch.sizeBytes}` : `SHA-256 ${got.sha256}, the catalog says ${patch.sha256}`;
        fellBack.push({ source, reason: `${patch.fileName} from ${where} has ${what.trim()}; removed, nothing runs` });
        continue;
      }
      await fsp.rename(partial, target);
      const durationMs = Math.max(1, Date.now() - started);
      const report: DownloadReport = { servedBy: source, bytes: got.bytes, durationMs, bytesPerSecond: Math.round((got.bytes * 1000) / durationMs), fellBack };
      options.onProgress?.({ message: `downloaded ${patch.fileName} from ${source}`, percent: 100 });
      return { status: 'succeeded', result: { kb: patch.kb, path: path.posix.join(folder.canonical, patch.fileName), sha256: got.sha256, bytes: got.bytes, source: report } as never };
    }
    // One source: its own words, as before file sources existed; several: each source and why.
    const message = fellBack.length === 1 ? fellBack[0]!.reason : new AllFileSourcesFailedError(fellBack).message;
    return fail(allHashes ? CommandErrorCode.HashMismatch : CommandErrorCode.DownloadFailed, message, !allHashes && retryable);
  }

  /** The response one file source gives; throws when the source cannot be asked at all. */
  private async open(source: FileSource, url: URL, sha256: string, options: ExecutorHandleOptions): Promise<Response> {
    switch (source) {
      case FileSource.Internet:
      case FileSource.TempMostFreeDrive:
        // The working folder is the staging place on this agent: "temp on the drive with most free space" is a Windows notion.
        return fetch(url, { signal: options.signal });
      case FileSource.Cache:
        if (!options.cachedFile) throw new Error('no gateway to fetch from');
        return options.cachedFile(sha256, options.signal);
      case FileSource.LanShare:
        throw new Error('this agent has no LAN share (only the simulator models one)');
      default:
        throw new Error(`this agent does not know the file source "${String(source)}"`);
    }
  }

  /** Streams a body to `partial`, hashing as it goes; stops past `maxBytes` (not the catalog's file). */
  private async streamChecked(response: Response, partial: string, maxBytes: number): Promise<{ bytes: number; sha256: string }> {
    const hash = createHash('sha256');
    let bytes = 0;
    const out = fs.createWriteStream(partial, { mode: 0o600 });
    try {
      for await (const chunk of Readable.fromWeb(response.body as never)) {
        bytes += (chunk as Buffer).length;
        // More than the catalog says: stop now, the file is not the one the catalog vouches for.
        if (bytes > maxBytes) break;
        hash.update(chunk as Buffer);
        if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
    } finally {
      await new Promise<void>((r) => out.end(() => r()));
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  private async copy(payload: CopyPayload): Promise<CommandOutcome> {
    for (const p of payload?.patches ?? []) {
      const problem = patchProblem(p);
      if (problem) return fail('InvalidPayload', problem, false);
    }
    const working = await this.folder(payload.workingFolder, FolderRole.Working);
    if ('refused' in working) return fail(CommandErrorCode.UnsafeFolder, working.refused, false);
    const install = await this.folder(payload.installFolder, FolderRole.Install);
    if ('refused' in install) return fail(CommandErrorCode.UnsafeFolder, install.refused, false);
    const copied: { kb: string; path: string }[] = [];
    for (const patch of payload.patches) {
      const from = path.join(working.local, patch.fileName);
      if (!fs.existsSync(from)) return fail(CommandErrorCode.FileMissing, `${path.posix.join(working.canonical, patch.fileName)} is missing; download ${patch.kb} again`, true);
      await fsp.copyFile(from, path.join(install.local, patch.fileName));
      copied.push({ kb: patch.kb, path: path.posix.join(install.canonical, patch.fileName) });
    }
    return { status: 'succeeded', result: { copied } as never };
  }

  // ---- execute ----

  private async execute(payload: ExecutePayload, interrupted: boolean): Promise<CommandOutcome> {
    const problem = patchProblem(payload?.patch);
    if (problem) return fail('InvalidPayload', problem, false);
    const { patch } = payload;
    const target = parseAptUpdateId(patch.updateId)!;
    const install = await this.folder(payload.installFolder, FolderRole.Install);
    if ('refused' in install) return fail(CommandErrorCode.UnsafeFolder, install.refused, false);
    const local = path.join(install.local, patch.fileName);
    const inDevice = path.posix.join(install.canonical, patch.fileName);
    if (!fs.existsSync(local)) return fail(CommandErrorCode.FileMissing, `${inDevice} is missing; copy ${patch.kb} again`, true);
    // Checked again right before dpkg sees it: the file may have changed since the download.
    const actual = createHash('sha256').update(await fsp.readFile(local)).digest('hex');
    if (actual !== patch.sha256.toLowerCase()) return fail(CommandErrorCode.HashMismatch, `SHA-256 of ${inDevice} is ${actual}, the catalog says ${patch.sha256}; not installed`, false);
    // The file is the catalog's; it must also be the package version the update id names.
    const fields = await this.exec(['dpkg-deb', '--show', '--showformat=${Package}\\t${Version}\\t${Architecture}', inDevice]);
    const [name, version, arch] = fields.stdout.trim().split('\t');
    if (fields.code !== 0 || name !== target.name || version !== target.version || arch !== target.arch) {
      return fail('InvalidPayload', `${inDevice} is ${name ?? '?'} ${version ?? '?'} (${arch ?? '?'}), the update is ${target.name} ${target.version} (${target.arch}); not installed`, false);
    }
    const started = Date.now();
    const answer = (exitCode: number, alreadyInstalled: boolean): CommandOutcome =>
      ({ status: 'succeeded', result: { kb: patch.kb, exitCode, durationMs: Date.now() - started, alreadyInstalled } as never });

    // Installed already? After a crash that is the question that keeps dpkg from running twice.
    if (await this.isInstalled(target.name, target.version)) {
      const rebootRequired = await this.rebootRequiredFor(target.name);
      if (interrupted) return answer(rebootRequired ? EXIT.RebootRequired : EXIT.Installed, false);
      return answer(rebootRequired ? EXIT.RebootRequired : EXIT.AlreadyInstalled, !rebootRequired);
    }
    const rebootBefore = await this.rebootRequired();
    // dpkg unpacked this very version and did not finish (it died, or still runs): configure it, never unpack again.
    const r = (await this.isUnpacked(target.name, target.version))
      ? await this.exec(['dpkg', '--force-confdef', '--force-confold', '--configure', target.name], { env: { DEBIAN_FRONTEND: 'noninteractive' }, outputFile: this.installLog() })
      : await this.exec([
      'apt-get', 'install', '-y', '-q', '--no-remove',
      '-o', `DPkg::Lock::Timeout=${this.lockTimeoutSeconds}`,
      '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold',
      inDevice,
    ], { env: { DEBIAN_FRONTEND: 'noninteractive' }, outputFile: this.installLog() });
    const verdict = interpretAptInstall(r.code, `${r.stdout}\n${r.stderr}`);
    if (verdict.kind === 'busy') return answer(EXIT.Busy, false);
    // dpkg's own status is the patch's exit code, as an installer's is on Windows: the server records
    // it and counts the failure (the message stays in the agent's log).
    if (verdict.kind === 'failed') {
      this.log?.({ package: target.name, version: target.version, exitCode: verdict.exitCode, message: verdict.message }, 'install failed');
      return answer(verdict.exitCode, false);
    }
    if (!(await this.isInstalled(target.name, target.version))) {
      return { status: 'failed', error: { code: 'InstallFailed', message: `apt-get succeeded but dpkg-query does not show ${target.name} ${target.version} installed`, retryable: false } };
    }
    const rebootNow = (!rebootBefore && (await this.rebootRequired())) || (await this.rebootRequiredFor(target.name));
    return answer(rebootNow ? EXIT.RebootRequired : EXIT.Installed, false);
  }

  // ---- reboot, cleanup ----

  /**
   * Acknowledged, and the runner restarts the machine once the gateway has the acknowledgement. The boot
   * id it was asked from is noted on disk: delivered again after the restart, the reboot is answered done.
   */
  private async reboot(command: AgentCommand): Promise<CommandOutcome> {
    const note = path.join(this.stateDir, `reboot-${command.id.replace(/[^A-Za-z0-9_-]/g, '_')}`);
    const previous = fs.existsSync(note) ? fs.readFileSync(note, 'utf8').trim() : undefined;
    if (previous && previous !== this.bootId) {
      return { status: 'succeeded', result: { previousBootId: previous, bootId: this.bootId } as never };
    }
    if (!previous) writeFileDurably(note, this.bootId);
    return { status: 'acknowledged' };
  }

  private async cleanup(payload: CleanupPayload): Promise<CommandOutcome> {
    const working = await this.folder(payload?.workingFolder, FolderRole.Working);
    if ('refused' in working) return fail(CommandErrorCode.UnsafeFolder, working.refused, false);
    const install = await this.folder(payload?.installFolder, FolderRole.Install);
    if ('refused' in install) return fail(CommandErrorCode.UnsafeFolder, install.refused, false);
    const removedFiles = (await emptyDirectory(working.local)) + (await emptyDirectory(install.local));
    return {
      status: 'succeeded',
      result: { removedFiles, workingFolderEmpty: (await listFiles(working.local)).length === 0, installFolderEmpty: (await listFiles(install.local)).length === 0 } as never,
    };
  }

  // ---- the machine ----

  private async folder(folder: unknown, role: FolderRole): Promise<{ canonical: string; local: string } | { refused: string }> {
    const r = await guardPosixFolder(folder, role, { root: this.root });
    return r.ok ? r.folder : { refused: `refused by the device: ${r.problem.message}` };
  }

  /** dpkg unpacked this version but did not finish configuring it (dpkg-query "iU", "iF"). */
  private async isUnpacked(name: string, version: string): Promise<boolean> {
    const r = await this.exec(['dpkg-query', '-W', '-f', DPKG_QUERY_FORMAT, name]);
    return parseDpkgQuery(r.stdout).some((p) => p.version === version && /^.[UF]/.test(p.status));
  }

  private async isInstalled(name: string, version: string): Promise<boolean> {
    const r = await this.exec(['dpkg-query', '-W', '-f', DPKG_QUERY_FORMAT, name]);
    return parseDpkgQuery(r.stdout).some((p) => p.version === version && isInstalledStatus(p.status));
  }

  /** /var/run/reboot-required exists (Debian's helpers and update-notifier create it). */
  private async rebootRequired(): Promise<boolean> {
    return (await this.exec(['test', '-e', '/var/run/reboot-required'])).code === 0;
  }

  /** /var/run/reboot-required.pkgs names the package. */
  private async rebootRequiredFor(name: string): Promise<boolean> {
    return (await this.rebootRequiredPackages()).has(name);
  }

  /** The packages /var/run/reboot-required.pkgs names (one a line; Debian's helpers append to it). */
  private async rebootRequiredPackages(): Promise<Set<string>> {
    const r = await this.exec(['cat', '/var/run/reboot-required.pkgs']);
    return new Set(r.code === 0 ? r.stdout.split('\n').map((l) => l.trim()).filter(isPackageName) : []);
  }

  private async freeDiskBytes(): Promise<number> {
    const s = await fsp.statfs(this.root);
    return s.bavail * s.bsize;
  }

  /** apt's and dpkg's output during an install goes to a file, not a pipe to this process (see exec). */
  private installLog(): string {
    return path.join(this.stateDir, 'last-install.log');
  }

  /**
   * Runs a program, in the device's root unless told otherwise; never through a shell. With
   * `outputFile`, its output goes to that file instead of a pipe: an apt or dpkg that outlives a killed
   * agent (systemd's KillMode=process) must not die of SIGPIPE half-way through an unpack.
   */
  private exec(argv: string[], options: { inRoot?: boolean; env?: Record<string, string>; outputFile?: string } = {}): Promise<RunResult> {
    const full = options.inRoot !== false && this.root !== '/' ? ['chroot', this.root, ...argv] : argv;
    const env = { ...process.env, LC_ALL: 'C', ...options.env };
    if (options.outputFile) {
      const file = options.outputFile;
      const fd = fs.openSync(file, 'w', 0o600);
      return new Promise((resolve) => {
        const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', fd, fd], env });
        fs.closeSync(fd);
        const done = (code: number, extra = '') => resolve({ code, stdout: fs.readFileSync(file, 'utf8'), stderr: extra });
        child.on('error', (err) => done(127, err.message));
        child.on('close', (code, signal) => done(code ?? (signal ? 128 : 1)));
      });
    }
    return new Promise((resolve) => {
      const child = spawn(full[0]!, full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
      child.on('error', (err) => resolve({ code: 127, stdout, stderr: `${stderr}${err.message}` }));
      child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    });
  }
}

/** Why a patch from the server cannot be an apt package this agent installs, or undefined. */
function patchProblem(patch: PatchFile | undefined): string | undefined {
  if (!patch || typeof patch !== 'object') return 'the command carries no patch';
  const target = typeof patch.updateId === 'string' ? parseAptUpdateId(patch.updateId) : undefined;
  if (!target) return `update id ${JSON.stringify(patch.updateId)} is not an apt package version (apt:<suite>:<package>:<arch>:<version>)`;
  if (!isPackageName(target.name)) return `"${target.name}" is not a Debian package name`;
  try {
    checkFileName(patch.fileName);
  } catch (err) {
    return (err as Error).message;
  }
  if (!patch.fileName.endsWith('.deb') || patch.fileName.startsWith('-') || patch.fileName.startsWith('.')) return `"${patch.fileName}" is not a .deb file name`;
  if (!/^[0-9a-fA-F]{64}$/.test(patch.sha256 ?? '')) return 'the patch has no SHA-256';
  if (!Number.isSafeInteger(patch.sizeBytes) || patch.sizeBytes < 0) return 'the patch has no size';
  return undefined;
}

/** Final: journalled, answered from the journal ever after. Busy and retryable failures are not. */
function isFinal(command: AgentCommand, outcome: CommandOutcome): boolean {
  if (outcome.status === 'acknowledged') return false;
  if (outcome.status === 'failed') return !outcome.error.retryable;
  if (command.type === CommandType.Execute) return (outcome.result as { exitCode: number }).exitCode !== EXIT.Busy;
  return true;
}

const lastLines = (text: string) => text.trim().split('\n').slice(-3).join(' | ').slice(0, 500);

/** The names (`comm`) of the processes running now: one file read per process, no program run. */
export async function runningProcesses(procDir: string): Promise<Set<string>> {
  const names = new Set<string>();
  for (const entry of await fsp.readdir(procDir)) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      names.add((await fsp.readFile(path.join(procDir, entry, 'comm'), 'utf8')).trim());
    } catch {
      // the process ended between the listing and the read
    }
  }
  return names;
}
