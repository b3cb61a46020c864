import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { AgentCommand, CommandOutcome, CommandType, GoAhead, PatchFile, PatchStart, ScanReport } from '../../domain/device-protocol';
import { interpretExitCode } from '../../domain/exit-codes';
import { evaluatePatchTest, type PatchTestObservation } from '../../domain/patch-test';
import { readInstallation } from '../../domain/wua-outcomes';
import { installOutputSchema } from '../../domain/wua-schemas';
import type { CommandJournal } from '../../agent/executor';
import { WindowsSandbox } from '../../agent/sandbox';
import { emptyExecutorState, FileExecutorStateStore, MemoryExecutorStateStore } from '../../agent/windows/executor-state';
import { ScriptFolderAclGuard, type FolderAclGuard } from '../../agent/windows/folder-acl-guard';
import type { ProcessResult, ProcessRunner } from '../../agent/windows/process-runner';
import { WindowsUpdateExecutor } from '../../agent/windows/windows-update-executor';

// Every test replays a transcript from test/fixtures/wua/ through the executor's public handle():
// the process runner answers each program start with the transcript's next call and fails the test
// on any start the transcript does not have.

interface Call { program: string; verb?: string; args?: string[]; exitCode: number; stdout?: unknown; stderr?: string }
interface Transcript { description: string; calls?: Call[]; install?: unknown }

const fixture = async (name: string): Promise<Transcript> => JSON.parse(await readFile(path.join(__dirname, '..', 'fixtures', 'wua', name), 'utf8')) as Transcript;

class ReplayRunner implements ProcessRunner {
  readonly problems: string[] = [];
  readonly started: { program: string; args: string[]; argsFile?: unknown }[] = [];
  constructor(private readonly calls: Call[]) {}

  remaining(): number {
    return this.calls.length;
  }

  async run(program: string, args: readonly string[]): Promise<ProcessResult> {
    const name = path.win32.basename(program).toLowerCase();
    const next = this.calls.shift();
    const shown = `${name} ${args.join(' ')}`;
    if (!next) return this.problem(`unexpected start of ${shown}: the transcript has no more calls`);
    if (next.program !== name) return this.problem(`started ${shown}, the transcript expects ${next.program}`);
    if (next.verb !== undefined && args[6] !== next.verb) return this.problem(`wua.ps1 ${args[6]}, the transcript expects wua.ps1 ${next.verb}`);
    if (next.args !== undefined && JSON.stringify(args) !== JSON.stringify(next.args)) return this.problem(`${shown}, the transcript expects ${next.args.join(' ')}`);
    // The arguments file is read now: the script wrapper deletes it once the script has run.
    const argsFile = next.verb !== undefined && args[7] !== undefined ? JSON.parse(await readFile(args[7], 'utf8')) as unknown : undefined;
    this.started.push({ program: name, args: [...args], argsFile });
    return { exitCode: next.exitCode, stdout: next.stdout === undefined ? '' : JSON.stringify(next.stdout), stderr: next.stderr ?? '' };
  }

  private problem(message: string): never {
    this.problems.push(message);
    throw new Error(message);
  }
}

/** The on-disk journal arrives with the agent (agent/command-journal.ts); this one keeps the same contract in memory. */
class MemoryJournal implements CommandJournal {
  private readonly done = new Map<string, CommandOutcome>();
  private readonly begun = new Map<string, AgentCommand>();
  finished(commandId: string): CommandOutcome | undefined {
    return this.done.get(commandId);
  }
  async begin(command: AgentCommand): Promise<void> {
    this.begun.set(command.id, command);
  }
  async finish(commandId: string, outcome: CommandOutcome): Promise<void> {
    this.done.set(commandId, outcome);
    this.begun.delete(commandId);
  }
  interrupted(): AgentCommand[] {
    return [...this.begun.values()];
  }
}

const WORKING = 'C:\\ProgramData\\Patchflow\\Working';
const INSTALL = 'C:\\Windows\\Patches';
const LCU = '5f1b3b84-6c1e-4d53-9a3f-2d0c8f1e7a10';
const NET = '9c2e1d47-0b8a-4f3e-8d61-7e5a4c3b2a91';
const DEFENDER = 'a3e4b5c6-7d8e-4f90-a1b2-c3d4e5f60718';

let root: string;
let sandbox: WindowsSandbox;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pf-wua-'));
  sandbox = new WindowsSandbox(path.join(root, 'machine'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function patchFor(updateId: string, kb: string, fileName: string, content: Buffer): PatchFile {
  return { updateId, kb, fileName, downloadUrl: `https://catalog.example.test/${fileName}`, sizeBytes: content.length, sha256: createHash('sha256').update(content).digest('hex') };
}
/** Puts a verified installer in the install folder, as download and copy leave it. */
async function staged(updateId: string, kb: string, fileName: string): Promise<PatchFile> {
  const content = Buffer.from(`installer ${kb}`);
  await mkdir(sandbox.localPath(INSTALL), { recursive: true });
  await writeFile(sandbox.localFile(INSTALL, fileName), content);
  return patchFor(updateId, kb, fileName, content);
}

let seq = 0;
const command = <T extends CommandType>(type: T, payload: unknown, id = `install/dev-1/run/${++seq}`): AgentCommand<T> =>
  ({ id, type, payload, attempt: 1 }) as AgentCommand<T>;

async function executor(runner: ProcessRunner, shared: { journal?: MemoryJournal; state?: MemoryExecutorStateStore; fetch?: typeof fetch; folderAclGuard?: FolderAclGuard } = {}) {
  const journal = shared.journal ?? new MemoryJournal();
  const state = shared.state ?? new MemoryExecutorStateStore();
  const e = await WindowsUpdateExecutor.start({
    name: 'SRV-01', journal, runner, state, argsDir: path.join(root, 'agent-state'),
    paths: sandbox, fetch: shared.fetch, freeDiskBytes: async () => 50 * 1024 ** 3, now: () => new Date('2024-03-13T09:00:00Z'),
    // The folders' access lists have their own tests (below); these transcripts are about Windows Update.
    // (`folderAclGuard: undefined` asks for the real one.)
    folderAclGuard: 'folderAclGuard' in shared ? shared.folderAclGuard : { problem: async () => undefined },
  });
  return { e, journal, state };
}

const executeResult = (o: CommandOutcome) => {
  expect(o.status).toBe('succeeded');
  return (o as { result: { kb: string; exitCode: number; alreadyInstalled: boolean } }).result;
};
const failure = (o: CommandOutcome) => {
  expect(o.status).toBe('failed');
  return (o as { error: { code: string; message: string; retryable: boolean } }).error;
};
const done = (runner: ReplayRunner) => {
  expect(runner.problems).toEqual([]);
  expect(runner.remaining()).toBe(0);
};

describe('Windows Update executor, against recorded transcripts', () => {
  test('search-6-updates: a scan reports 4 missing and 2 installed updates, and a second delivery is answered from the journal', async () => {
    const t = await fixture('search-6-updates.json');
    const runner = new ReplayRunner(t.calls!);
    const { e } = await executor(runner);
    expect(e.bootId).toBe('boot-2024-03-12T06:10:41.000Z');
    const scan = command('scan', { reason: 'pre-scan' });
    const outcome = await e.handle(scan);
    expect(outcome.status).toBe('succeeded');
    const report = (outcome as { result: unknown }).result as ScanReport;
    expect(report.updates).toHaveLength(6);
    expect(report.updates.filter((u) => !u.installed).map((u) => u.kb)).toEqual(['KB5035857', 'KB5035220', 'KB2267602', 'KB890830']);
    expect(report.updates.filter((u) => u.installed).map((u) => u.kb)).toEqual(['KB5034439', 'KB5034129']);
    expect(report.updates[0]).toEqual({ updateId: LCU, revision: 200, installed: false, kb: 'KB5035857', title: expect.stringContaining('2024-03 Cumulative Update') });
    expect(report).toMatchObject({ bootId: e.bootId, rebootPending: false, freeDiskBytes: 48318382080, scannedAt: '2024-03-13T09:00:00.000Z' });
    expect(Object.keys(report.updates[0]!).sort()).toEqual(['installed', 'kb', 'revision', 'title', 'updateId']); // no catalog facts from a device
    expect(await e.handle(scan)).toEqual(outcome); // the transcript has no second search: it would fail here
    done(runner);
  });

  test('install-mixed-2-3-4: the collection says 3; each update is read from its own row: one Installed, one Reboot Required, one Failed', async () => {
    const t = await fixture('install-mixed-2-3-4.json');
    const output = installOutputSchema.parse(t.install);
    const reading = readInstallation(output, [DEFENDER, LCU, NET]);
    if ('problem' in reading) throw new Error(reading.problem);
    expect(reading.allGood).toBe(false);
    expect(reading.collectionResultCode).toBe(3);
    expect(reading.updates.map((u) => (u.final ? [u.exitCode, u.outcome] : u.code))).toEqual([
      [0, 'installed'], [0x00240005, 'installed_pending_reboot'], [0x80070643, 'failed'],
    ]);

    // The protocol runs one patch per execute, so the executor asks WUA for one update at a time: each row
    // is replayed as the one-update answer WUA gives for it (a collection of one reports its row's code).
    const runner = new ReplayRunner([{ program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') }]);
    const { e } = await executor(runner);
    const files: Record<string, [string, string]> = { [DEFENDER]: ['KB2267602', 'am-delta-kb2267602.cab'], [LCU]: ['KB5035857', 'windows10.0-kb5035857-x64.cab'], [NET]: ['KB5035220', 'ndp48-kb5035220-x64.cab'] };
    const answers: Record<string, number> = {};
    for (const row of output.updates) {
      const [kb, fileName] = files[row.updateId]!;
      const patch = await staged(row.updateId, kb, fileName);
      runnerPush(runner, [
        { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
        { program: 'powershell.exe', verb: 'download', exitCode: 0, stdout: { verb: 'download', resultCode: 2, hresult: 0, updates: [{ updateId: row.updateId, resultCode: 2, hresult: 0 }] } },
        { program: 'powershell.exe', verb: 'install', exitCode: 0, stdout: { verb: 'install', rebootRequiredBeforeInstallation: false, resultCode: row.resultCode, hresult: row.hresult | 0, rebootRequired: row.rebootRequired, updates: [{ ...row, hresult: row.hresult | 0 }] } },
      ]);
      answers[kb] = executeResult(await e.handle(command('execute', { patch, installFolder: INSTALL }))).exitCode;
    }
    expect(Object.fromEntries(Object.entries(answers).map(([kb, code]) => [kb, interpretExitCode(code).outcome]))).toEqual({
      KB2267602: 'installed', KB5035857: 'installed_pending_reboot', KB5035220: 'failed',
    });
    expect(answers.KB5035220).toBe(0x80070643);
    // The script got only GUIDs and the verified file, in a file, never on its command line.
    const download = runner.started.find((s) => s.args[6] === 'download')!;
    expect(download.argsFile).toEqual({ updateIds: [DEFENDER], files: ['C:\\Windows\\Patches\\am-delta-kb2267602.cab'] });
    expect(download.args.slice(0, 6)).toEqual(['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', expect.stringMatching(/wua\.ps1$/)]);

    // The three-row answer itself, given for a one-update request, describes another run: nothing of it is believed.
    // (The .NET update, which failed: the two that went in are answered from what this agent installed, never run again.)
    const patch = await staged(NET, 'KB5035220', 'ndp48-kb5035220-x64.cab');
    runnerPush(runner, [
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'download', exitCode: 0, stdout: { verb: 'download', resultCode: 2, hresult: 0, updates: [{ updateId: NET, resultCode: 2, hresult: 0 }] } },
      { program: 'powershell.exe', verb: 'install', exitCode: 0, stdout: t.install },
    ]);
    const refused = failure(await e.handle(command('execute', { patch, installFolder: INSTALL })));
    expect(refused).toMatchObject({ code: 'WindowsUpdateError', retryable: false });
    expect(refused.message).toContain('3 update results for 1 requested');
    done(runner);
  });

  test('install-all-failed-0x80240022: a failed update without an HResult of its own answers the collection\'s WU_E_ALL_UPDATES_FAILED', async () => {
    const t = await fixture('install-all-failed-0x80240022.json');
    const runner = new ReplayRunner(t.calls!);
    const { e, journal } = await executor(runner);
    const patch = await staged(NET, 'KB5035220', 'ndp48-kb5035220-x64.cab');
    const execute = command('execute', { patch, installFolder: INSTALL });
    const outcome = await e.handle(execute);
    const result = executeResult(outcome);
    expect(result).toMatchObject({ kb: 'KB5035220', exitCode: 0x80240022, alreadyInstalled: false });
    expect(interpretExitCode(result.exitCode)).toMatchObject({ outcome: 'failed', name: 'WU_E_ALL_UPDATES_FAILED', countsAsFailure: true });
    expect(journal.finished(execute.id)).toEqual(outcome); // a failed install is final: never run again for this command
    expect(runner.started.find((s) => s.args[6] === 'download')!.argsFile).toEqual({ updateIds: [NET], files: ['C:\\Windows\\Patches\\ndp48-kb5035220-x64.cab'] });
    done(runner);
  });

  test('reboot-pending-before-run: a restart owed from before the run comes first; after it, the same execute installs', async () => {
    const t = await fixture('reboot-pending-before-run.json');
    const runner = new ReplayRunner(t.calls!);
    const journal = new MemoryJournal();
    const state = new MemoryExecutorStateStore();
    const before = await executor(runner, { journal, state });
    const patch = await staged(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu');
    const execute = command('execute', { patch, installFolder: INSTALL });

    const progress: string[] = [];
    const first = executeResult(await before.e.handle(execute, { onProgress: (p) => progress.push(p.message) }));
    expect(first).toMatchObject({ exitCode: 0x80240016, alreadyInstalled: false });
    expect(interpretExitCode(first.exitCode)).toMatchObject({ outcome: 'busy', name: 'WU_E_INSTALL_NOT_ALLOWED', countsAsFailure: false, hint: 'Restart the device, then install again.' });
    expect(progress.join()).toContain('Component Based Servicing\\RebootPending');
    expect(journal.finished(execute.id)).toBeUndefined(); // busy is not final: the next delivery runs
    expect(runner.started.map((s) => s.program)).not.toContain('wusa.exe');

    const reboot = command('reboot', { reason: 'a restart was pending before the install' });
    expect(await before.e.handle(reboot)).toEqual({ status: 'acknowledged' });
    await before.e.restart(new AbortController().signal);

    // The machine is back: a new process, a new boot id, the same journal and state on disk.
    const after = await executor(runner, { journal, state });
    expect(after.e.bootId).not.toBe(before.e.bootId);
    expect(await after.e.handle(reboot)).toEqual({ status: 'succeeded', result: { previousBootId: before.e.bootId, bootId: after.e.bootId } });
    const installed = executeResult(await after.e.handle(execute));
    expect(installed).toMatchObject({ exitCode: 3010, alreadyInstalled: false });
    // Asked again for the same update in this boot (another run, before any scan): waiting for its restart, not run again.
    expect(executeResult(await after.e.handle(command('execute', { patch, installFolder: INSTALL })))).toMatchObject({ exitCode: 0x00240005, alreadyInstalled: true });
    expect(runner.started.filter((s) => s.program === 'wusa.exe')).toHaveLength(1);
    done(runner);
  });

  test('update-loop: an update that reports success and comes back is stopped after the second time, Failed "update loop detected"', async () => {
    const t = await fixture('update-loop.json');
    const runner = new ReplayRunner(t.calls!);
    const journal = new MemoryJournal();
    const state = new MemoryExecutorStateStore();
    const boot1 = await executor(runner, { journal, state });
    const patch = await staged(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu');
    const run = (e: WindowsUpdateExecutor) => e.handle(command('execute', { patch, installFolder: INSTALL }));
    const lcuIn = async (e: WindowsUpdateExecutor) => ((await e.handle(command('scan', { reason: 'post-scan' })) as { result: unknown }).result as ScanReport).updates.find((u) => u.updateId === LCU)!.installed;

    expect(executeResult(await run(boot1.e)).exitCode).toBe(3010);
    expect(await lcuIn(boot1.e)).toBe(false); // waiting for its restart: not a comeback
    const reboot = command('reboot', { reason: 'patches installed pending reboot' });
    expect(await boot1.e.handle(reboot)).toEqual({ status: 'acknowledged' });
    await boot1.e.restart(new AbortController().signal);

    const boot2 = await executor(runner, { journal, state });
    expect(await lcuIn(boot2.e)).toBe(false); // back after its restart: the first time
    expect(executeResult(await run(boot2.e)).exitCode).toBe(0);
    expect(await lcuIn(boot2.e)).toBe(false); // back again: the second time

    const stopped = failure(await run(boot2.e));
    expect(stopped).toMatchObject({ code: 'UpdateLoop', retryable: false });
    expect(stopped.message).toMatch(/^update loop detected: KB5035857 reported success 2 times/);
    expect(runner.started.filter((s) => s.program === 'wusa.exe')).toHaveLength(2);
    done(runner);
  });
});

describe('Windows Update executor: the other steps, and bad input', () => {
  test('download checks size and SHA-256, copy stages, execute runs msiexec with an argument array, cleanup empties both folders', async () => {
    const content = Buffer.from('an msi, as the catalog has it');
    const patch = patchFor('11111111-2222-4333-8444-555555555555', 'KB5034441', 'contoso-agent-kb5034441.msi', content);
    const fetches: string[] = [];
    const fakeFetch = (async (url: URL) => { fetches.push(String(url)); return new Response(content, { headers: { 'content-length': String(content.length) } }); }) as unknown as typeof fetch;
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'msiexec.exe', args: ['/i', 'C:\\Windows\\Patches\\contoso-agent-kb5034441.msi', '/qn', '/norestart'], exitCode: 0 },
    ]);
    const { e } = await executor(runner, { fetch: fakeFetch });
    const dl = await e.handle(command('download', { patch, workingFolder: WORKING }));
    expect(dl).toEqual({
      status: 'succeeded',
      result: { kb: 'KB5034441', path: 'C:\\ProgramData\\Patchflow\\Working\\contoso-agent-kb5034441.msi', sha256: patch.sha256, bytes: content.length, source: expect.objectContaining({ servedBy: 'internet', fellBack: [] }) },
    });
    expect(fetches).toEqual([patch.downloadUrl]);
    expect(await e.handle(command('copy', { patches: [patch], workingFolder: WORKING, installFolder: INSTALL }))).toEqual({
      status: 'succeeded', result: { copied: [{ kb: 'KB5034441', path: 'C:\\Windows\\Patches\\contoso-agent-kb5034441.msi' }] },
    });
    expect(executeResult(await e.handle(command('execute', { patch, installFolder: INSTALL }))).exitCode).toBe(0);
    expect(await e.handle(command('cleanup', { workingFolder: WORKING, installFolder: INSTALL }))).toEqual({
      status: 'succeeded', result: { removedFiles: 2, workingFolderEmpty: true, installFolderEmpty: true },
    });
    done(runner);
  });

  test('a download whose bytes do not match the catalog is refused and deleted; nothing runs', async () => {
    const patch = patchFor('11111111-2222-4333-8444-555555555555', 'KB5034441', 'windows10.0-kb5034441-x64.msu', Buffer.from('the real file'));
    const tampered = (async () => new Response(Buffer.from('the real fil3'))) as unknown as typeof fetch;
    const runner = new ReplayRunner([{ program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') }]);
    const { e } = await executor(runner, { fetch: tampered });
    const error = failure(await e.handle(command('download', { patch, workingFolder: WORKING })));
    expect(error).toMatchObject({ code: 'HashMismatch', retryable: false });
    expect(await readdir(sandbox.localPath(WORKING))).toEqual([]);
    done(runner);
  });

  test('a download of several patches verifies each file: the one whose bytes differ is refused and deleted, the other kept', async () => {
    const good = patchFor('11111111-2222-4333-8444-555555555555', 'KB5034441', 'windows10.0-kb5034441-x64.msu', Buffer.from('the real file'));
    const bad = patchFor('11111111-2222-4333-8444-666666666666', 'KB5034439', 'windows10.0-kb5034439-x64.msu', Buffer.from('another file'));
    const serve = (async (url: URL) => new Response(Buffer.from(String(url) === good.downloadUrl ? 'the real file' : 'another fil3'))) as unknown as typeof fetch;
    const runner = new ReplayRunner([{ program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') }]);
    const { e } = await executor(runner, { fetch: serve });
    const outcome = await e.handle(command('download', { patches: [good, bad], workingFolder: WORKING }));
    expect(outcome).toMatchObject({
      status: 'succeeded',
      result: {
        downloaded: [{ updateId: good.updateId, kb: 'KB5034441', sha256: good.sha256 }],
        failed: [{ updateId: bad.updateId, kb: 'KB5034439', error: { code: 'HashMismatch', retryable: false } }],
      },
    });
    expect(await readdir(sandbox.localPath(WORKING))).toEqual([good.fileName]);
    done(runner);
  });

  test('file sources: bad bytes from the cache are refused and deleted, the internet serves, and the report says so', async () => {
    const content = Buffer.from('the real file');
    const patch = patchFor('11111111-2222-4333-8444-555555555555', 'KB5034441', 'windows10.0-kb5034441-x64.msu', content);
    const fromInternet = (async () => new Response(content)) as unknown as typeof fetch;
    const asked: string[] = [];
    const cachedFile = async (sha256: string) => { asked.push(sha256); return new Response(Buffer.from('the real fil3')); };
    const runner = new ReplayRunner([{ program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') }]);
    const { e } = await executor(runner, { fetch: fromInternet });
    const dl = await e.handle(command('download', { patch, workingFolder: WORKING, sources: ['cache', 'internet'] }), { cachedFile });
    expect(asked).toEqual([patch.sha256]);
    expect(dl).toMatchObject({ status: 'succeeded', result: { sha256: patch.sha256, source: { servedBy: 'internet', fellBack: [{ source: 'cache', reason: expect.stringMatching(/^SHA-256 of .* is [0-9a-f]{64}, catalog says/) }] } } });
    done(runner);
  });

  test.each([
    ['a protected folder', { patch: null, installFolder: 'C:\\Windows\\System32' }, 'UnsafeFolder'],
    ['a file name with shell and msiexec metacharacters', { patch: { fileName: 'x.msi /qn TRANSFORMS=evil.mst' }, installFolder: INSTALL }, 'InvalidPayload'],
    ['an update id that is not a GUID', { patch: { updateId: "x' or 1=1" }, installFolder: INSTALL }, 'InvalidPayload'],
  ])('execute with %s is refused and nothing runs', async (_what, payload, code) => {
    const base = await staged(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu');
    const runner = new ReplayRunner([{ program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') }]);
    const { e } = await executor(runner);
    const error = failure(await e.handle(command('execute', { ...payload, patch: { ...base, ...(payload.patch ?? {}) } })));
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(false);
    done(runner);
  });

  test('cleanup of C:\\Windows\\System32 is refused and deletes nothing', async () => {
    const system32 = sandbox.localPath('C:\\Windows\\System32');
    await mkdir(system32, { recursive: true });
    await writeFile(path.join(system32, 'kernel32.dll'), 'keep me');
    const runner = new ReplayRunner([{ program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') }]);
    const { e } = await executor(runner);
    expect(failure(await e.handle(command('cleanup', { workingFolder: WORKING, installFolder: 'C:\\Windows\\System32' }))).code).toBe('UnsafeFolder');
    expect(await readdir(system32)).toEqual(['kernel32.dll']);
    done(runner);
  });

  test('uninstall asks Windows first, then runs wusa /uninstall /kb:<digits> /quiet /norestart', async () => {
    const installed = { updateId: LCU, revision: 200, title: 'LCU', kbArticleIds: ['5035857'], isInstalled: true, isHidden: false, isDownloaded: true, rebootRequired: false, rebootBehavior: 1 };
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'search', exitCode: 0, stdout: { verb: 'search', resultCode: 2, updates: [installed], freeDiskBytes: 1 } },
      { program: 'wusa.exe', args: ['/uninstall', '/kb:5035857', '/quiet', '/norestart'], exitCode: 3010 },
      { program: 'powershell.exe', verb: 'search', exitCode: 0, stdout: { verb: 'search', resultCode: 2, updates: [], freeDiskBytes: 1 } },
    ]);
    const { e } = await executor(runner);
    expect(await e.handle(command('uninstall', { updateId: LCU, kb: 'KB5035857' }))).toMatchObject({ status: 'succeeded', result: { kb: 'KB5035857', exitCode: 3010, notInstalled: false } });
    expect(await e.handle(command('uninstall', { updateId: LCU, kb: 'KB5035857' }))).toMatchObject({ status: 'succeeded', result: { exitCode: 0x00240007, notInstalled: true } });
    done(runner);
  });

  test('skip_if_user_logged_on with someone at the console does not restart; ask cannot be shown from a service and is refused', async () => {
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z', 'CONTOSO\\alice') },
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z', 'CONTOSO\\alice') },
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z', 'CONTOSO\\alice') },
    ]);
    const { e } = await executor(runner);
    expect(await e.handle(command('reboot', { reason: 'r', mode: { kind: 'skip_if_user_logged_on' } }))).toEqual({
      status: 'succeeded', result: { previousBootId: e.bootId, bootId: e.bootId, skipped: { reason: 'user_logged_on' }, userWasLoggedOn: true, waitedMinutes: 0 },
    });
    const error = failure(await e.handle(command('reboot', { reason: 'r', mode: { kind: 'ask', minutes: 5, ifNoAnswer: 'reboot' } })));
    expect(error).toMatchObject({ code: 'RebootModeUnsupported', retryable: false });
    expect(error.message).toContain('CONTOSO\\alice');
    done(runner);
  });
});

function rebootPending(lastBootUpTime: string, loggedOnUser: string | null = null) {
  return {
    verb: 'reboot-pending', lastBootUpTime, loggedOnUser,
    keys: { cbsRebootPending: false, cbsRebootInProgress: false, cbsPackagesPending: false, wuRebootRequired: false, wuPostRebootReporting: false, wuServicesPending: false, pendingFileRenameOperations: false, updateExeVolatile: false },
  };
}

function runnerPush(runner: ReplayRunner, calls: Call[]): void {
  (runner as unknown as { calls: Call[] }).calls.push(...calls);
}

describe('Windows Update executor: an agent that died mid-command', () => {
  test('an execute that began and never finished asks Windows first: installed, so the installer does not run again', async () => {
    const journal = new MemoryJournal();
    const patch = await staged(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu');
    const execute = command('execute', { patch, installFolder: INSTALL });
    await journal.begin(execute); // the previous process began it, ran wusa, and died before the answer
    const lcu = { updateId: LCU, revision: 200, title: 'LCU', kbArticleIds: ['5035857'], isInstalled: true, isHidden: false, isDownloaded: true, rebootRequired: false, rebootBehavior: 1 };
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'search', exitCode: 0, stdout: { verb: 'search', resultCode: 2, updates: [lcu], freeDiskBytes: 1 } },
    ]);
    const { e } = await executor(runner, { journal });
    expect(executeResult(await e.handle(execute))).toMatchObject({ exitCode: 0x00240006, alreadyInstalled: true });
    expect(journal.interrupted()).toEqual([]);
    done(runner);
  });

  test('an execute_patches that began and never finished: each patch asks Windows first, the one installed is not run again, the rest wait for a go-ahead', async () => {
    const journal = new MemoryJournal();
    const lcu = await staged(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu');
    const net = await staged(NET, 'KB5034439', 'windows10.0-kb5034439-x64.msu');
    const batch = command('execute_patches', { patches: [lcu, net], installFolder: INSTALL });
    await journal.begin(batch); // the previous process began it, ran the LCU's installer, and died before the answer
    const installed = { updateId: LCU, revision: 200, title: 'LCU', kbArticleIds: ['5035857'], isInstalled: true, isHidden: false, isDownloaded: true, rebootRequired: false, rebootBehavior: 1 };
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'search', exitCode: 0, stdout: { verb: 'search', resultCode: 2, updates: [installed], freeDiskBytes: 1 } },
    ]);
    const { e } = await executor(runner, { journal });
    const asked: string[] = [];
    // The install was halted since: the second patch gets no go-ahead and nothing of it runs.
    const askToStart = async (start: PatchStart): Promise<GoAhead> => {
      asked.push(start.kb);
      return start.kb === 'KB5035857' ? { proceed: true } : { proceed: false, reason: 'halted', message: 'halted by user:ops: freeze' };
    };
    const outcome = await e.handle(batch, { askToStart });
    expect(outcome).toEqual({ status: 'succeeded', result: { patches: [
      { updateId: LCU, kb: 'KB5035857', status: 'executed', exitCode: 0x00240006, durationMs: expect.any(Number), alreadyInstalled: true },
      { updateId: NET, kb: 'KB5034439', status: 'not_started', reason: 'halted', message: 'halted by user:ops: freeze' },
    ] } });
    expect(asked).toEqual(['KB5035857', 'KB5034439']);
    expect(journal.interrupted()).toEqual([]);
    // Answered from the journal from now on: nothing asked, nothing run.
    expect(await e.handle({ ...batch, attempt: 2 }, { askToStart })).toEqual(outcome);
    expect(asked).toHaveLength(2);
    done(runner);
  });

  test('execute_patches: a payload without patches is refused before anything runs', async () => {
    const runner = new ReplayRunner([{ program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') }]);
    const { e } = await executor(runner);
    expect(await e.handle(command('execute_patches', { patches: [], installFolder: INSTALL }))).toMatchObject({ status: 'failed', error: { retryable: false } });
    done(runner);
  });

  test('a COM error in the script comes back as a retryable failure naming its HRESULT; a shape the agent does not know is refused the same way', async () => {
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'search', exitCode: 1, stdout: { verb: 'search', error: { hresult: 0x8024402c | 0, message: 'Exception from HRESULT: 0x8024402C' } } },
      { program: 'powershell.exe', verb: 'search', exitCode: 0, stdout: { verb: 'search', resultCode: 2, updates: [{ updateId: 'not-a-guid' }], freeDiskBytes: 1 } },
    ]);
    const { e } = await executor(runner);
    const com = failure(await e.handle(command('scan', { reason: 'pre-scan' })));
    expect(com).toMatchObject({ code: 'WindowsUpdateError', retryable: true });
    expect(com.message).toContain('wua.ps1 search failed with 0x8024402c');
    const shape = failure(await e.handle(command('scan', { reason: 'pre-scan' })));
    expect(shape.message).toContain('answered a shape the agent does not know: updates.0.updateId');
    expect(shape.retryable).toBe(false); // a broken agent install: no retry mends it
    done(runner);
  });
});

describe('Windows Update executor: WUA refusing a .cab', () => {
  test.each([
    ['CopyToCache throws (the file is not what WUA would have downloaded)', { verb: 'download', exitCode: 1, stdout: { verb: 'download', error: { hresult: 0x80246002 | 0, message: 'Exception from HRESULT: 0x80246002' } } }, 0x80246002],
    ['the download row fails', { verb: 'download', exitCode: 0, stdout: { verb: 'download', resultCode: 4, hresult: 0x80240022 | 0, updates: [{ updateId: NET, resultCode: 4, hresult: 0x80246007 | 0 }] } }, 0x80246007],
    ['WUA is busy with another operation', { verb: 'download', exitCode: 1, stdout: { verb: 'download', error: { hresult: 0x80240009 | 0, message: 'Exception from HRESULT: 0x80240009' } } }, 0x80240009],
  ])('%s: answered as an exit code the table reads, never a failure retried without end', async (_what, call, code) => {
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', ...call },
    ]);
    const { e, journal } = await executor(runner);
    const patch = await staged(NET, 'KB5035220', 'ndp48-kb5035220-x64.cab');
    const execute = command('execute', { patch, installFolder: INSTALL });
    const progress: string[] = [];
    expect(executeResult(await e.handle(execute, { onProgress: (p) => progress.push(p.message) }))).toMatchObject({ exitCode: code, alreadyInstalled: false });
    const busy = interpretExitCode(code).outcome === 'busy';
    expect(journal.finished(execute.id) !== undefined).toBe(!busy); // busy invites another delivery; a failure is final
    expect(progress.join(' ')).toMatch(/Windows Update|0x8024/);
    done(runner);
  });
});

describe('the working and install folders\' access lists', () => {
  const SYSTEM_ONLY = [
    { sid: 'S-1-5-18', allow: true, rights: 2032127, inheritOnly: false },
    { sid: 'S-1-5-32-544', allow: true, rights: 2032127, inheritOnly: false },
    { sid: 'S-1-3-0', allow: true, rights: 0x10000000 | 0, inheritOnly: true },
    { sid: 'S-1-5-32-545', allow: true, rights: 1179817, inheritOnly: false }, // Users: read and execute only
  ];
  const acl = (folder: string, ownerSid: string, rules: unknown[]) => ({ program: 'powershell.exe', verb: 'folder-acl', exitCode: 0, stdout: { verb: 'folder-acl', folders: [{ path: folder, exists: true, ownerSid, rules }] } });

  test('a folder the agent creates is restricted to SYSTEM and Administrators with icacls (an argument array), then checked', async () => {
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'icacls.exe', args: [WORKING, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F'], exitCode: 0 },
      acl(WORKING, 'S-1-5-32-544', SYSTEM_ONLY),
    ]);
    const content = Buffer.from('x');
    const patch = patchFor(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu', content);
    const { e } = await executor(runner, { fetch: (async () => new Response(content)) as unknown as typeof fetch, folderAclGuard: undefined });
    expect((e as unknown as { folderGuard: unknown }).folderGuard).toBeInstanceOf(ScriptFolderAclGuard);
    expect(await e.handle(command('download', { patch, workingFolder: WORKING }))).toMatchObject({ status: 'succeeded' });
    expect(runner.started.find((s) => s.args[6] === 'folder-acl')!.argsFile).toEqual({ folders: [WORKING] });
    done(runner);
  });

  test.each([
    ['Users may create files (ProgramData\'s default)', 'S-1-5-18', [...SYSTEM_ONLY, { sid: 'S-1-5-32-545', allow: true, rights: 0x2 | 0x4, inheritOnly: false }], 'can be written by S-1-5-32-545 (Users)'],
    ['Everyone has GENERIC_ALL', 'S-1-5-18', [{ sid: 'S-1-1-0', allow: true, rights: 0x10000000, inheritOnly: false }], 'S-1-1-0 (Everyone)'],
    ['a user owns it', 'S-1-5-21-1004336348-1177238915-682003330-1001', SYSTEM_ONLY, 'is owned by S-1-5-21-1004336348-1177238915-682003330-1001'],
  ])('an existing install folder where %s is refused before anything runs', async (_what, owner, rules, message) => {
    await mkdir(sandbox.localPath(INSTALL), { recursive: true });
    const patch = await staged(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu');
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      acl(INSTALL, owner, rules),
    ]);
    const { e } = await executor(runner, { folderAclGuard: undefined });
    const error = failure(await e.handle(command('execute', { patch, installFolder: INSTALL })));
    expect(error).toMatchObject({ code: 'UnsafeFolder', retryable: false });
    expect(error.message).toContain(message);
    expect(runner.started.map((s) => s.program)).not.toContain('wusa.exe');
    done(runner);
  });
});

describe('the executor state file', () => {
  test('survives a new process (a file, replaced whole), mode 0600; a file that is not state stops the agent naming it', async () => {
    const file = path.join(root, 'state', 'windows-executor-state.json');
    const store = new FileExecutorStateStore(file);
    expect(await store.load()).toEqual(emptyExecutorState());
    const state = { ...emptyExecutorState(), loops: { [LCU]: { successes: 2, comebacks: 2, awaitingScan: false } } };
    await store.save(state);
    expect(await new FileExecutorStateStore(file).load()).toEqual(state);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await writeFile(file, JSON.stringify({ version: 1, loops: 'lots' }));
    await expect(new FileExecutorStateStore(file).load()).rejects.toThrow(/is not a Windows executor state file: loops/);
  });
});

describe('Windows Update executor: health checks', () => {
  test('health-check-services: Get-Service through wua.ps1 services, names in the arguments file; a stopped service is unhealthy', async () => {
    const t = await fixture('health-check-services.json');
    const runner = new ReplayRunner(t.calls!);
    const { e } = await executor(runner);
    const check = { kind: 'services_running', services: ['Spooler', 'W32Time', 'PfNoSuchSvc'] };
    const outcome = await e.handle(command('health_check', { check, reason: 'after install' }));
    expect(outcome).toEqual({
      status: 'succeeded',
      result: {
        healthy: false,
        output: 'Spooler: stopped (expected running); W32Time: running; PfNoSuchSvc: not found (expected running)',
        items: [
          { name: 'Spooler', ok: false, state: 'stopped' },
          { name: 'W32Time', ok: true, state: 'running' },
          { name: 'PfNoSuchSvc', ok: false, state: 'not found' },
        ],
      },
    });
    // The command line holds fixed words only; the names travel in the arguments file.
    const started = runner.started.find((s) => s.args[6] === 'services')!;
    expect(started.args.join(' ')).not.toContain('Spooler');
    expect(started.argsFile).toEqual({ services: ['Spooler', 'W32Time', 'PfNoSuchSvc'] });
    done(runner);
  });

  test.each([
    [{ kind: 'services_running', services: ['Spooler; Restart-Computer'] }],
    [{ kind: 'services_running', services: ['*'] }],
    [{ kind: 'script', script: 'Get-Service | Stop-Service' }],
    [{ kind: 'services_running', services: [] }],
  ])('a check that is not a named check with plain names is refused before anything runs: %j', async (check) => {
    const runner = new ReplayRunner((await fixture('health-check-services.json')).calls!.slice(0, 1));
    const { e } = await executor(runner);
    expect(failure(await e.handle(command('health_check', { check, reason: 'after install' })))).toMatchObject({ code: 'InvalidPayload', retryable: false });
    done(runner);
  });

  test('processes_running is refused clearly on Windows (services are what it checks)', async () => {
    const runner = new ReplayRunner((await fixture('health-check-services.json')).calls!.slice(0, 1));
    const { e } = await executor(runner);
    const error = failure(await e.handle(command('health_check', { check: { kind: 'processes_running', processes: ['explorer'] }, reason: 'after install' })));
    expect(error).toMatchObject({ code: 'UnsupportedCheck', retryable: false });
    expect(error.message).toContain('use services_running');
    done(runner);
  });
});

describe('Windows Update executor: the Patch Test', () => {
  const FULL = 0x1f01ff;
  const services = (startTypes: Record<string, string | null>) => ({
    program: 'powershell.exe', verb: 'services', exitCode: 0,
    stdout: { verb: 'services', services: Object.entries(startTypes).map(([name, startType]) => ({ name, found: startType !== null, status: startType ? 'Stopped' : null, startType })) },
  });
  const WU = { wuauserv: 'Manual', msiserver: 'Manual', BITS: 'Disabled', CryptSvc: 'Automatic', TrustedInstaller: null };

  test('observes the folder\'s rules, free space, each file\'s hash and the services\' start types; writes nothing; the server\'s verdict names each problem', async () => {
    const good = Buffer.from('the March cumulative update');
    const lcu = patchFor(LCU, 'KB5035857', 'windows10.0-kb5035857-x64.msu', good);
    const net = patchFor(NET, 'KB5034439', 'ndp48-kb5034439.msu', Buffer.from('.NET update v1'));
    const defender = patchFor(DEFENDER, 'KB2267602', 'defender-kb2267602.cab', Buffer.from('definitions'));
    const fetched: string[] = [];
    const fakeFetch = (async (url: URL | string) => {
      fetched.push(String(url));
      if (String(url).endsWith(net.fileName)) return new Response(Buffer.from('.NET update v2'));
      if (String(url).endsWith(defender.fileName)) throw new Error('connect ETIMEDOUT');
      return new Response(good);
    }) as unknown as typeof fetch;
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'folder-acl', exitCode: 0, stdout: { verb: 'folder-acl', folders: [{ path: WORKING, exists: true, ownerSid: 'S-1-5-18', rules: [
        { sid: 'S-1-5-18', allow: true, rights: FULL, inheritOnly: false },
        { sid: 'S-1-5-20', allow: true, rights: FULL, inheritOnly: false }, // seed 003's Network Service: refused by this agent
      ] }] } },
      services(WU),
    ]);
    const { e } = await executor(runner, { fetch: fakeFetch });
    const outcome = await e.handle(command('patch_test', { workingFolder: 'c:\\programdata\\patchflow\\working\\', installFolder: INSTALL, patches: [lcu, net, defender] }));
    expect(outcome.status).toBe('succeeded');
    const observed = (outcome as { result: PatchTestObservation }).result;
    expect(observed).toMatchObject({ credential: { kind: 'system' }, platform: 'windows', workingFolder: 'C:\\programdata\\patchflow\\working', freeBytes: 50 * 1024 ** 3 });
    expect(observed.workingFolderAcl).toMatchObject({ path: WORKING, exists: true }); // Get-Acl's spelling; Windows ignores case
    expect(observed.services).toEqual({ wuauserv: 'Manual', msiserver: 'Manual', BITS: 'Disabled', CryptSvc: 'Automatic', TrustedInstaller: 'Missing' });
    expect(observed.files.map((f) => [f.patchId, f.answered, f.sha256])).toEqual([
      ['KB5035857', true, lcu.sha256],
      ['KB5034439', true, createHash('sha256').update('.NET update v2').digest('hex')],
      ['KB2267602', false, null],
    ]);
    expect(fetched).toEqual([lcu.downloadUrl, net.downloadUrl, defender.downloadUrl]);
    // A Patch Test stages nothing: no folder, no file.
    await expect(stat(sandbox.localPath(WORKING))).rejects.toThrow();
    // The folder-acl and services verbs got their names in the arguments file, nothing on the command line.
    expect(runner.started.find((s) => s.args[6] === 'services')!.argsFile).toEqual({ services: ['wuauserv', 'msiserver', 'BITS', 'CryptSvc', 'TrustedInstaller'] });
    done(runner);

    const verdict = evaluatePatchTest(observed);
    expect(verdict.passed).toBe(false);
    expect(verdict.checks.filter((c) => !c.passed).map((c) => [c.check, c.subject ?? null, c.reason])).toEqual([
      ['working-folder-permissions', null, expect.stringContaining('can be written by S-1-5-20 (Network Service)')],
      ['file-source', `KB5034439 from ${net.downloadUrl}`, expect.stringContaining('hash mismatch for KB5034439')],
      ['file-source', `KB2267602 from ${defender.downloadUrl}`, expect.stringContaining('connect ETIMEDOUT')],
      ['windows-update-services', null, 'BITS is Disabled; TrustedInstaller is Missing'],
    ]);
  });

  test('a working folder not there yet passes (the download step creates it locked down); a protected one is refused before anything runs', async () => {
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'folder-acl', exitCode: 0, stdout: { verb: 'folder-acl', folders: [{ path: WORKING, exists: false, ownerSid: null, rules: [] }] } },
      services({ ...WU, BITS: 'Automatic', TrustedInstaller: 'Manual' }),
    ]);
    const { e } = await executor(runner);
    const outcome = await e.handle(command('patch_test', { workingFolder: WORKING, installFolder: INSTALL, patches: [] }));
    expect(evaluatePatchTest((outcome as { result: PatchTestObservation }).result)).toMatchObject({ passed: true });
    expect(failure(await e.handle(command('patch_test', { workingFolder: 'C:\\Windows\\System32', installFolder: INSTALL, patches: [] })))).toMatchObject({ code: 'UnsafeFolder', retryable: false });
    done(runner);
  });

  test('a script that does not report start types fails the test rather than guess', async () => {
    const runner = new ReplayRunner([
      { program: 'powershell.exe', verb: 'reboot-pending', exitCode: 0, stdout: rebootPending('2024-03-12T06:10:41Z') },
      { program: 'powershell.exe', verb: 'folder-acl', exitCode: 0, stdout: { verb: 'folder-acl', folders: [{ path: WORKING, exists: false, ownerSid: null, rules: [] }] } },
      { program: 'powershell.exe', verb: 'services', exitCode: 0, stdout: { verb: 'services', services: [{ name: 'wuauserv', found: true, status: 'Running' }] } },
    ]);
    const { e } = await executor(runner);
    expect(failure(await e.handle(command('patch_test', { workingFolder: WORKING, installFolder: INSTALL, patches: [] })))).toMatchObject({ code: 'DeviceError', message: expect.stringContaining('no start types') });
    done(runner);
  });
});
