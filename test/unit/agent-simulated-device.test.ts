import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { catalogFor, findUpdate, SERVER_2019_PREREQUISITES, sha256Of, simulatedFileContent } from '../../agent/catalog';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import type {
  AgentCommand,
  CommandOutcome,
  CommandPayloads,
  CommandType,
  DownloadPatchesResult,
  ExecutePatchesResult,
  ExecuteResult,
  GoAhead,
  PatchFile,
  PatchStart,
  ScanResult,
} from '../../domain/device-protocol';
import { DEFAULT_INSTALL_FOLDER, DEFAULT_WORKING_FOLDER } from '../../domain/folders';

const INSTALL_FAILURE = 0x80070643; // 2147944003
const ALREADY_INSTALLED = 0x00240006; // 2359302

let sandboxDir: string;
beforeEach(async () => {
  sandboxDir = await mkdtemp(path.join(tmpdir(), 'patchflow-agent-'));
});
afterEach(async () => {
  await rm(sandboxDir, { recursive: true, force: true });
});

const device = (options: Partial<SimulatedDeviceOptions> = {}) =>
  new SimulatedWindowsDevice({ id: 'srv-01', sandboxDir, os: 'win10', executeDurationMs: 0, downloadDurationMs: 0, ...options });

let nextId = 0;
const command = <T extends CommandType>(type: T, payload: CommandPayloads[T], id = `cmd-${++nextId}`): AgentCommand<T> => ({ id, type, payload, attempt: 1 });

function patchFile(kb: string): PatchFile {
  const u = findUpdate({ kb })!;
  return { updateId: u.updateId, kb: u.kb, fileName: u.fileName, downloadUrl: u.downloadUrl, sizeBytes: u.sizeBytes, sha256: u.sha256 };
}
const download = (kb: string) => command('download', { patch: patchFile(kb), workingFolder: DEFAULT_WORKING_FOLDER });
const copy = (...kbs: string[]) => command('copy', { patches: kbs.map(patchFile), workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER });
const execute = (kb: string, id?: string) => command('execute', { patch: patchFile(kb), installFolder: DEFAULT_INSTALL_FOLDER }, id);
const cleanup = () => command('cleanup', { workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER });

function succeeded<R>(outcome: CommandOutcome): R {
  if (outcome.status !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
  return outcome.result as R;
}

/** Download and copy a KB so it is ready to execute. */
async function stage(d: SimulatedWindowsDevice, kb: string): Promise<void> {
  succeeded(await d.handle(download(kb)));
  succeeded(await d.handle(copy(kb)));
}

async function scan(d: SimulatedWindowsDevice): Promise<ScanResult> {
  return succeeded<ScanResult>(await d.handle(command('scan', { reason: 'pre-scan' })));
}

describe('catalog', () => {
  it('gives each kind of Windows its own updates with hashes of the simulated files', () => {
    const win10 = catalogFor('win10').map((u) => u.kb);
    expect(win10).toContain('KB5034441');
    expect(win10).not.toContain('KB5034129'); // a Server 2022 cumulative update
    for (const u of catalogFor('server2022')) {
      expect(u.sha256).toBe(sha256Of(simulatedFileContent(u)));
      expect(u.kb).toMatch(/^KB\d{6,8}$/);
      expect(u.updateId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    }
  });
});

describe('SimulatedWindowsDevice', () => {
  it('scan lists every applicable update and flags exactly the missing ones', async () => {
    const d = device({ missingKbs: ['KB5034441', 'KB5035845'] });
    const result = await scan(d);
    expect(result.updates.map((u) => u.kb).sort()).toEqual(catalogFor('win10').map((u) => u.kb).sort());
    expect(result.updates.filter((u) => !u.installed).map((u) => u.kb).sort()).toEqual(['KB5034441', 'KB5035845']);
    expect(result.bootId).toBe(d.bootId);
    expect(result.rebootPending).toBe(false);
    expect(result.freeDiskBytes).toBeGreaterThan(0);
  });

  it('download writes a file whose SHA-256 matches the catalog', async () => {
    const d = device({ missingKbs: ['KB5034441'] });
    const result = succeeded<{ kb: string; path: string; sha256: string; bytes: number }>(await d.handle(download('KB5034441')));
    expect(result.kb).toBe('KB5034441');
    expect(result.path).toBe(`${DEFAULT_WORKING_FOLDER}\\windows10.0-kb5034441-x64.msu`);
    expect(result.sha256).toBe(patchFile('KB5034441').sha256);
    expect((await d.folderContents()).working).toEqual(['windows10.0-kb5034441-x64.msu']);
    // The file really is in the sandbox, under the mapped Windows path.
    const local = path.join(sandboxDir, 'C', 'ProgramData', 'Patchflow', 'Working', 'windows10.0-kb5034441-x64.msu');
    expect(d.sandbox.localFile(DEFAULT_WORKING_FOLDER, 'windows10.0-kb5034441-x64.msu')).toBe(local);
  });

  it('refuses a corrupted download with a non-retryable HashMismatch and leaves no file', async () => {
    const d = device({ missingKbs: ['KB5034441'], corruptDownloads: ['KB5034441'] });
    const outcome = await d.handle(download('KB5034441'));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'HashMismatch', retryable: false } });
    expect(outcome.status === 'failed' && outcome.error.message).toMatch(/^SHA-256 of C:\\ProgramData\\Patchflow\\Working\\windows10\.0-kb5034441-x64\.msu is [0-9a-f]{64}, catalog says [0-9a-f]{64}$/);
    expect((await d.folderContents()).working).toEqual([]);
  });

  it('downloads all the patches of an install in one command, answering for each: a corrupted one is refused, the others kept', async () => {
    const d = device({ missingKbs: ['KB5034441', 'KB5031539', 'KB4023057'], corruptDownloads: ['KB5031539'] });
    const result = succeeded<DownloadPatchesResult>(await d.handle(command('download', {
      patches: ['KB5034441', 'KB5031539', 'KB4023057'].map(patchFile), workingFolder: DEFAULT_WORKING_FOLDER,
    })));
    expect(result.downloaded.map((r) => [r.updateId, r.kb, r.sha256])).toEqual(['KB5034441', 'KB4023057'].map((kb) => [patchFile(kb).updateId, kb, patchFile(kb).sha256]));
    expect(result.failed).toEqual([{ updateId: patchFile('KB5031539').updateId, kb: 'KB5031539', error: expect.objectContaining({ code: 'HashMismatch', retryable: false }) }]);
    expect(result.failed[0]!.error.message).toMatch(/^SHA-256 of .* is [0-9a-f]{64}, catalog says [0-9a-f]{64}$/);
    expect((await d.folderContents()).working.sort()).toEqual(['KB5034441', 'KB4023057'].map((kb) => patchFile(kb).fileName).sort());
  });

  it('refuses a download of several patches into a protected folder as a whole, UnsafeFolder, writing nothing', async () => {
    const d = device({ missingKbs: ['KB5034441', 'KB4023057'] });
    const outcome = await d.handle(command('download', { patches: ['KB5034441', 'KB4023057'].map(patchFile), workingFolder: 'C:\\Windows\\System32' }));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder', retryable: false } });
    expect((await d.folderContents()).working).toEqual([]);
  });

  it('fails a download of several patches retryable when one of them may work later (a full disk), naming it', async () => {
    const d = device({ missingKbs: ['KB5034441', 'KB5035845'], freeDiskBytes: 400 * 1024 * 1024 });
    const outcome = await d.handle(command('download', { patches: ['KB5034441', 'KB5035845'].map(patchFile), workingFolder: DEFAULT_WORKING_FOLDER }));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'DiskFull', retryable: true, message: expect.stringMatching(/^KB5035845: /) } });
  });

  describe('execute_patches: the installers of an install in one command', () => {
    const KBS = ['KB5034441', 'KB5031539', 'KB4023057'];
    async function staged(...kbs: string[]) {
      const d = device({ missingKbs: KBS, exitCodes: { KB5031539: [0x80240016] } });
      for (const kb of kbs) succeeded(await d.handle(download(kb)));
      succeeded(await d.handle(copy(...kbs)));
      return d;
    }
    const batch = (kbs: string[], id?: string) => command('execute_patches', { patches: kbs.map(patchFile), installFolder: DEFAULT_INSTALL_FOLDER }, id);
    const goAheads = (answers: Record<string, GoAhead> = {}) => {
      const asked: string[] = [];
      const askToStart = async (start: PatchStart) => { asked.push(start.kb); return answers[start.kb] ?? { proceed: true as const }; };
      return { asked, askToStart };
    };

    it('asks before each patch and answers each: exit codes in order, a busy one answered busy', async () => {
      const d = await staged(...KBS);
      const { asked, askToStart } = goAheads();
      const result = succeeded<ExecutePatchesResult>(await d.handle(batch(KBS), { askToStart }));
      expect(asked).toEqual(KBS);
      expect(result.patches.map((p) => [p.kb, p.status, p.status === 'executed' ? p.exitCode : undefined])).toEqual([
        ['KB5034441', 'executed', 0], ['KB5031539', 'executed', 0x80240016], ['KB4023057', 'executed', 0],
      ]);
      expect(d.executionCount('KB5034441')).toBe(1);
      expect(d.executionCount('KB5031539')).toBe(0); // busy: the installer never ran
      // A busy patch is no final answer: a new command runs it (the workflow's retry batch).
      const again = succeeded<ExecutePatchesResult>(await d.handle(batch(['KB5031539']), { askToStart }));
      expect(again.patches).toEqual([expect.objectContaining({ kb: 'KB5031539', status: 'executed', exitCode: 0 })]);
    });

    it('a KB halt skips only that patch; a halt stops it and every later one; nothing starts without a go-ahead', async () => {
      const d = await staged(...KBS);
      const kbHalt = goAheads({ KB5034441: { proceed: false, reason: 'kb_halted', message: 'KB5034441 halted by user:ops: pulled' } });
      const first = succeeded<ExecutePatchesResult>(await d.handle(batch(KBS), { askToStart: kbHalt.askToStart }));
      expect(first.patches.map((p) => [p.kb, p.status === 'not_started' ? p.reason : p.status])).toEqual([['KB5034441', 'kb_halted'], ['KB5031539', 'executed'], ['KB4023057', 'executed']]);
      expect(d.executionCount('KB5034441')).toBe(0);

      const d2 = await staged(...KBS);
      const halt = goAheads({ KB5031539: { proceed: false, reason: 'halted', message: 'halted by user:ops: freeze' } });
      const second = succeeded<ExecutePatchesResult>(await d2.handle(batch(KBS), { askToStart: halt.askToStart }));
      expect(second.patches.map((p) => [p.kb, p.status === 'not_started' ? p.reason : p.status])).toEqual([['KB5034441', 'executed'], ['KB5031539', 'halted'], ['KB4023057', 'halted']]);
      expect(halt.asked).toEqual(['KB5034441', 'KB5031539']);
      expect(d2.executionCount('KB4023057')).toBe(0);

      const d3 = await staged(...KBS);
      const none = succeeded<ExecutePatchesResult>(await d3.handle(batch(KBS)));
      expect(none.patches.every((p) => p.status === 'not_started' && p.reason === 'no_go_ahead')).toBe(true);
      for (const kb of KBS) expect(d3.executionCount(kb)).toBe(0);
    });

    it('a failure that may pass (a file gone) fails the command retryable; the next delivery resumes after the patches already answered', async () => {
      const d = await staged('KB5034441', 'KB4023057');
      const { asked, askToStart } = goAheads();
      const cmd = batch(['KB5034441', 'KB5031539', 'KB4023057'], 'batch-resume');
      const first = await d.handle(cmd, { askToStart });
      expect(first).toMatchObject({ status: 'failed', error: { code: 'FileMissing', retryable: true, message: expect.stringMatching(/^KB5031539: /) } });
      // KB5031539 is staged now (copied again); the same command is delivered again.
      succeeded(await d.handle(download('KB5031539')));
      succeeded(await d.handle(copy('KB5031539')));
      const again = succeeded<ExecutePatchesResult>(await d.handle({ ...cmd, attempt: 2 }, { askToStart }));
      expect(again.patches.map((p) => p.kb)).toEqual(['KB5034441', 'KB5031539', 'KB4023057']);
      expect(asked).toEqual(['KB5034441', 'KB5031539', 'KB5031539', 'KB4023057']); // KB5034441 answered from the journal
      expect(d.executionCount('KB5034441')).toBe(1);
      // A final answer: a third delivery comes from the journal, nothing asked or run.
      expect(await d.handle({ ...cmd, attempt: 3 }, { askToStart })).toEqual({ status: 'succeeded', result: again });
      expect(asked).toHaveLength(4);
    });

    it('refuses a protected install folder as a whole, running nothing', async () => {
      const d = await staged(...KBS);
      const { askToStart } = goAheads();
      const outcome = await d.handle(command('execute_patches', { patches: KBS.map(patchFile), installFolder: 'C:\\Windows\\System32' }), { askToStart });
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder', retryable: false } });
      for (const kb of KBS) expect(d.executionCount(kb)).toBe(0);
    });
  });

  it('never executes a file that no longer matches the catalog', async () => {
    const d = device({ missingKbs: ['KB5034441'] });
    await stage(d, 'KB5034441');
    await writeFile(d.sandbox.localFile(DEFAULT_INSTALL_FOLDER, patchFile('KB5034441').fileName), 'tampered');
    const outcome = await d.handle(execute('KB5034441'));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'HashMismatch', retryable: false } });
    expect(d.executionCount('KB5034441')).toBe(0);
  });

  it('execute runs the configured exit-code sequence: 0x80070643, then 0', async () => {
    const d = device({ missingKbs: ['KB5034441'], exitCodes: { KB5034441: [INSTALL_FAILURE] } });
    await stage(d, 'KB5034441');
    const first = succeeded<ExecuteResult>(await d.handle(execute('KB5034441')));
    expect(first).toMatchObject({ kb: 'KB5034441', exitCode: 2147944003, alreadyInstalled: false });
    expect(d.isInstalled('KB5034441')).toBe(false);
    const second = succeeded<ExecuteResult>(await d.handle(execute('KB5034441')));
    expect(second).toMatchObject({ exitCode: 0, alreadyInstalled: false });
    expect(d.isInstalled('KB5034441')).toBe(true);
    expect(d.executionCount('KB5034441')).toBe(2);
  });

  it('answers a repeated command id from the journal without executing again', async () => {
    const d = device({ missingKbs: ['KB5034441'], exitCodes: { KB5034441: [INSTALL_FAILURE] } });
    await stage(d, 'KB5034441');
    const first = await d.handle(execute('KB5034441', 'install/dev-1/op-1/execute-KB5034441'));
    const again = await d.handle({ ...execute('KB5034441', 'install/dev-1/op-1/execute-KB5034441'), attempt: 2 });
    expect(again).toEqual(first);
    expect(succeeded<ExecuteResult>(again).exitCode).toBe(INSTALL_FAILURE); // the journalled answer, not the next code (0)
    expect(d.executionCount('KB5034441')).toBe(1);
    expect(d.events.filter((e) => e.type === 'journal-hit')).toHaveLength(1);
  });

  // Busy is what the domain's exit-code table says is busy (domain/exit-codes.ts), as the server reads it.
  it.each([
    ['ERROR_INSTALL_ALREADY_RUNNING', 1618],
    ['WU_E_INSTALL_NOT_ALLOWED', 0x80240016],
  ])('does not journal a busy answer (%s), so a later delivery of the same command runs', async (_name, busy) => {
    const d = device({ missingKbs: ['KB5034441'], exitCodes: { KB5034441: [busy] } });
    await stage(d, 'KB5034441');
    expect(succeeded<ExecuteResult>(await d.handle(execute('KB5034441', 'exec-busy'))).exitCode).toBe(busy);
    expect(d.journalEntry('exec-busy')).toBeUndefined();
    expect(succeeded<ExecuteResult>(await d.handle(execute('KB5034441', 'exec-busy'))).exitCode).toBe(0);
    expect(d.executionCount('KB5034441')).toBe(1);
  });

  it('answers 0x00240006 for an already-installed KB without running the installer', async () => {
    const d = device({ missingKbs: [] });
    await stage(d, 'KB5034441');
    const result = succeeded<ExecuteResult>(await d.handle(execute('KB5034441')));
    expect(result).toMatchObject({ exitCode: ALREADY_INSTALLED, alreadyInstalled: true });
    expect(result.exitCode).toBe(2359302);
    expect(d.executionCount('KB5034441')).toBe(0);
  });

  it('after 3010 the KB is not installed until the restart; the reboot is journalled by command id', async () => {
    const d = device({ missingKbs: ['KB5035845'] }); // a cumulative update: "always" reboots, so 3010 by default
    await stage(d, 'KB5035845');
    expect(succeeded<ExecuteResult>(await d.handle(execute('KB5035845'))).exitCode).toBe(3010);
    let result = await scan(d);
    expect(result.updates.find((u) => u.kb === 'KB5035845')!.installed).toBe(false);
    expect(result.rebootPending).toBe(true);
    // Executing it again before the restart finds it installed (pending reboot) and does not run it.
    expect(succeeded<ExecuteResult>(await d.handle(execute('KB5035845'))).exitCode).toBe(ALREADY_INSTALLED);

    const bootBefore = d.bootId;
    expect(await d.handle(command('reboot', { reason: 'install' }, 'reboot-1'))).toEqual({ status: 'acknowledged' });
    const { bootId } = d.completeReboot();
    expect(bootId).not.toBe(bootBefore);
    result = await scan(d);
    expect(result.updates.find((u) => u.kb === 'KB5035845')!.installed).toBe(true);
    expect(result.rebootPending).toBe(false);
    expect(result.bootId).toBe(bootId);
    // The same reboot delivered again after the restart is answered as done, with no second restart.
    expect(await d.handle(command('reboot', { reason: 'install' }, 'reboot-1'))).toEqual({
      status: 'succeeded',
      result: { previousBootId: bootBefore, bootId },
    });
    expect(d.bootId).toBe(bootId);
    expect(d.executionCount('KB5035845')).toBe(1);
  });

  it('cleanup empties both folders and gives the staged space back', async () => {
    const d = device({ missingKbs: ['KB5034441', 'KB5035845'] });
    const freeBefore = d.freeDiskBytes();
    await stage(d, 'KB5034441');
    await stage(d, 'KB5035845');
    expect(await d.folderContents()).toEqual({
      working: ['windows10.0-kb5034441-x64.msu', 'windows10.0-kb5035845-x64.msu'],
      install: ['windows10.0-kb5034441-x64.msu', 'windows10.0-kb5035845-x64.msu'],
    });
    expect(d.freeDiskBytes()).toBeLessThan(freeBefore);
    const result = succeeded(await d.handle(cleanup()));
    expect(result).toEqual({ removedFiles: 4, workingFolderEmpty: true, installFolderEmpty: true });
    expect(await d.folderContents()).toEqual({ working: [], install: [] });
    expect(d.freeDiskBytes()).toBe(freeBefore);
  });

  it('refuses C:\\Windows\\System32 as a working folder and writes nothing', async () => {
    const d = device({ missingKbs: ['KB5034441'] });
    const outcome = await d.handle(command('download', { patch: patchFile('KB5034441'), workingFolder: 'C:\\Windows\\System32' }));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder', retryable: false } });
    const cleaned = await d.handle(command('cleanup', { workingFolder: 'C:\\Windows\\System32', installFolder: DEFAULT_INSTALL_FOLDER }));
    expect(cleaned).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder' } });
    expect(await d.folderContents('C:\\Windows\\System32')).toEqual({ working: [], install: [] });
  });

  it.each([
    ['cleanup', 'installFolder', 'protected', 'C:\\Windows\\System32\\config'],
    ['cleanup', 'workingFolder', 'parent-segment', 'C:\\ProgramData\\..\\Windows\\System32'],
    ['cleanup', 'workingFolder', 'short-name', 'C:\\PROGRA~1'],
    ['cleanup', 'installFolder', 'protected', 'C:\\Windows.\\System32'],
    ['cleanup', 'installFolder', 'protected', 'C:\\Windows \\System32'],
    ['cleanup', 'installFolder', 'stream', 'C:\\Windows\\System32::$INDEX_ALLOCATION'],
    ['cleanup', 'workingFolder', 'too-long', `C:\\${'x'.repeat(1_000_000)}`],
    ['download', 'workingFolder', 'parent-segment', 'C:\\Users\\Public\\..\\..'],
    ['copy', 'installFolder', 'protected', 'C:\\Windows\\System32\\config'],
    ['execute', 'installFolder', 'protected', 'C:\\Windows\\SysWOW64'],
  ] as const)('refuses a %s whose %s breaks rule %s, and touches nothing', async (type, field, rule, folder) => {
    const d = device({ missingKbs: ['KB5034441'] });
    // A file already in the real System32\config of the sandbox: a cleanup that obeyed would delete it.
    const victim = d.sandbox.localFile('C:\\Windows\\System32\\config', 'SYSTEM');
    await mkdir(path.dirname(victim), { recursive: true });
    await writeFile(victim, 'hive');
    const folders = { workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER, [field]: folder };
    const sent = type === 'cleanup' ? command('cleanup', folders)
      : type === 'copy' ? command('copy', { patches: [patchFile('KB5034441')], ...folders })
        : type === 'download' ? command('download', { patch: patchFile('KB5034441'), workingFolder: folders.workingFolder })
          : command('execute', { patch: patchFile('KB5034441'), installFolder: folders.installFolder });
    const outcome = await d.handle(sent);
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder', retryable: false } });
    expect(outcome.status === 'failed' && outcome.error.message).toMatch(new RegExp(`^refused by the device: .*\\(rule: ${rule}\\)$`));
    expect(await readFile(victim, 'utf8')).toBe('hive');
    expect(await d.folderContents()).toEqual({ working: [], install: [] });
  });

  it('works in the canonical folder whatever spelling the server sends', async () => {
    const d = device({ missingKbs: ['KB5034441'] });
    const out = succeeded<{ path: string }>(await d.handle(command('download', { patch: patchFile('KB5034441'), workingFolder: 'C:/ProgramData//Patchflow/./Working./' })));
    expect(out.path).toBe(`${DEFAULT_WORKING_FOLDER}\\${patchFile('KB5034441').fileName}`);
    expect((await d.folderContents()).working).toEqual([patchFile('KB5034441').fileName]);
  });

  it('refuses a download when the disk is too small, as a retryable DiskFull', async () => {
    const d = device({ missingKbs: ['KB5035845'], freeDiskBytes: 100 * 1024 * 1024 });
    const outcome = await d.handle(download('KB5035845')); // ~675 MB
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'DiskFull', retryable: true } });
  });

  it('reports a missing installer as a retryable FileMissing', async () => {
    const d = device({ missingKbs: ['KB5034441'] });
    const outcome = await d.handle(execute('KB5034441'));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'FileMissing', retryable: true } });
    expect(d.executionCount('KB5034441')).toBe(0);
  });

  it('same seed → same OS, missing set and boot id; another seed → a different device', () => {
    const a = new SimulatedWindowsDevice({ id: 'a', sandboxDir, seed: 42 });
    const b = new SimulatedWindowsDevice({ id: 'b', sandboxDir, seed: 42 });
    expect(b.os).toBe(a.os);
    expect(b.missingKbs()).toEqual(a.missingKbs());
    expect(b.bootId).toBe(a.bootId);
    expect(a.missingKbs().length).toBeGreaterThanOrEqual(3);
    expect(a.missingKbs().length).toBeLessThanOrEqual(8);
    const others = [1, 2, 3, 4, 5].map((seed) => new SimulatedWindowsDevice({ id: 'c', sandboxDir, seed, os: a.os }).missingKbs());
    expect(others.some((m) => JSON.stringify(m) !== JSON.stringify(a.missingKbs()))).toBe(true);
  });

  it('offline spells match by command type and KB and are used up', () => {
    const d = device({ offline: [{ afterCommand: 'execute', kb: 'KB5034441', durationMs: 500, times: 1 }] });
    expect(d.offlineSpellFor(download('KB5034441'))).toBeUndefined();
    expect(d.offlineSpellFor(execute('KB5035845'))).toBeUndefined();
    expect(d.offlineSpellFor(execute('KB5034441'))).toBe(500);
    expect(d.offlineSpellFor(execute('KB5034441'))).toBeUndefined();
  });
});

describe('SimulatedWindowsDevice prerequisites', () => {
  const NOT_APPLICABLE = 0x80240017; // WU_E_NOT_APPLICABLE, 2149842967
  const SSU = 'KB5005112'; // Server 2019 servicing stack
  const LCU = 'KB5035849'; // 2024-03 Server 2019 cumulative update, needs the SSU
  const server2019 = (options: Partial<SimulatedDeviceOptions> = {}) =>
    device({ os: 'server2019', missingKbs: [SSU, LCU], prerequisites: { ...SERVER_2019_PREREQUISITES }, ...options });
  const listed = async (d: SimulatedWindowsDevice) => new Map((await scan(d)).updates.map((u) => [u.kb, u.installed]));

  it('none by default: the cumulative update is reported while the servicing stack is missing', async () => {
    const scanned = await listed(device({ os: 'server2019', missingKbs: [SSU, LCU] }));
    expect(scanned.get(LCU)).toBe(false);
    expect(scanned.get(SSU)).toBe(false);
  });

  it('leaves an update out of the scan until its prerequisite is installed, then lists it as missing', async () => {
    const d = server2019();
    const before = await listed(d);
    expect(before.has(LCU)).toBe(false);
    expect(before.get(SSU)).toBe(false);
    // an update that is already installed is reported as usual, prerequisite or not
    expect(before.get('KB5034127')).toBe(true);
    expect(d.missingKbs()).not.toContain(LCU);
    expect(d.missingPrerequisiteOf(LCU)).toBe(SSU);

    await stage(d, SSU);
    expect(succeeded<ExecuteResult>(await d.handle(execute(SSU))).exitCode).toBe(0);
    const after = await listed(d);
    expect(after.get(SSU)).toBe(true);
    expect(after.get(LCU)).toBe(false);
    expect(d.missingKbs()).toContain(LCU);
    expect(d.missingPrerequisiteOf(LCU)).toBeUndefined();

    // and once installed it stays listed, installed
    await stage(d, LCU);
    expect(succeeded<ExecuteResult>(await d.handle(execute(LCU))).exitCode).toBe(3010);
    d.completeReboot();
    expect((await listed(d)).get(LCU)).toBe(true);
  });

  it('execute before the prerequisite answers 0x80240017 without running the installer', async () => {
    const d = server2019();
    await stage(d, LCU);
    const result = succeeded<ExecuteResult>(await d.handle(execute(LCU)));
    expect(result).toMatchObject({ kb: LCU, exitCode: NOT_APPLICABLE, alreadyInstalled: false });
    expect(d.executionCount(LCU)).toBe(0);
    expect(d.isInstalled(LCU)).toBe(false);
    expect(d.isRebootPending()).toBe(false);
  });

  it('a prerequisite waiting for a restart does not count until the restart', async () => {
    const d = server2019({ exitCodes: { [SSU]: [3010] } });
    await stage(d, SSU);
    await stage(d, LCU);
    expect(succeeded<ExecuteResult>(await d.handle(execute(SSU))).exitCode).toBe(3010);
    expect((await listed(d)).has(LCU)).toBe(false);
    expect(succeeded<ExecuteResult>(await d.handle(execute(LCU))).exitCode).toBe(NOT_APPLICABLE);
    d.completeReboot();
    expect((await listed(d)).get(LCU)).toBe(false);
    expect(succeeded<ExecuteResult>(await d.handle(execute(LCU))).exitCode).toBe(3010);
    expect(d.executionCount(LCU)).toBe(1);
  });

  it('accepts KBs without the prefix or in lower case', async () => {
    const d = device({ os: 'server2019', missingKbs: [SSU, LCU], prerequisites: { '5035849': 'kb5005112' } });
    expect((await listed(d)).has(LCU)).toBe(false);
  });
});

describe('SimulatedWindowsDevice reboot modes (Kaseya Reboot Actions)', () => {
  type Mode = NonNullable<CommandPayloads['reboot']['mode']>;
  const reboot = (mode: Mode | undefined, id?: string) => command('reboot', mode ? { reason: 'install', mode } : { reason: 'install' }, id);
  const eventsOf = (d: SimulatedWindowsDevice, type: string) => d.events.filter((e) => e.type === type);
  const skipped = (d: SimulatedWindowsDevice, reason: string, extra: object = {}) => ({
    status: 'succeeded',
    result: { previousBootId: d.bootId, bootId: d.bootId, skipped: { reason }, userWasLoggedOn: true, ...extra },
  });
  const ACK = { status: 'acknowledged' };

  const MODES: Mode[] = [
    { kind: 'immediate' },
    { kind: 'warn', minutes: 5 },
    { kind: 'skip_if_user_logged_on' },
    { kind: 'ask_every', minutes: 5 },
    { kind: 'ask', minutes: 5, ifNoAnswer: 'reboot' },
    { kind: 'ask', minutes: 5, ifNoAnswer: 'do_nothing' },
  ];

  it.each(MODES)('nobody logged on: $kind restarts at once, without warning or asking', async (mode) => {
    const d = device({ minuteMs: 1000 }); // a wait would show
    const started = Date.now();
    expect(await d.handle(reboot(mode))).toEqual(ACK);
    expect(Date.now() - started).toBeLessThan(500);
    expect(eventsOf(d, 'reboot-warning')).toEqual([]);
    expect(eventsOf(d, 'reboot-prompt')).toEqual([]);
  });

  it('no mode (older servers) and immediate restart at once even with a user logged on', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 1000 });
    expect(await d.handle(reboot(undefined))).toEqual(ACK);
    expect(await d.handle(reboot({ kind: 'immediate' }))).toEqual(ACK);
    expect(eventsOf(d, 'reboot-prompt')).toEqual([]);
  });

  it('warn: a logged-on user is warned, the device waits N minutes, then restarts', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 10 });
    const progress: string[] = [];
    const started = Date.now();
    expect(await d.handle(reboot({ kind: 'warn', minutes: 3 }), { onProgress: (p) => progress.push(p.message) })).toEqual(ACK);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(eventsOf(d, 'reboot-warning').map((e) => e.detail)).toEqual(['user warned: restart in 3 min']);
    expect(progress).toEqual(['warned the logged-on user: restart in 3 minutes']);
    expect(eventsOf(d, 'reboot-prompt')).toEqual([]); // no permission asked
  });

  it('skip_if_user_logged_on: a logged-on user means no restart, answered at once with the same boot id', async () => {
    const d = device({ userLoggedOn: true, missingKbs: ['KB5035845'] });
    await stage(d, 'KB5035845');
    expect(succeeded<ExecuteResult>(await d.handle(execute('KB5035845'))).exitCode).toBe(3010);
    const boot = d.bootId;
    expect(await d.handle(reboot({ kind: 'skip_if_user_logged_on' }, 'skip-1'))).toEqual(skipped(d, 'user_logged_on', { waitedMinutes: 0 }));
    expect(d.bootId).toBe(boot);
    expect(d.isRebootPending()).toBe(true); // the patch stays Reboot Required
    expect(eventsOf(d, 'reboot-skipped')).toHaveLength(1);
    // The same command again is answered from the journal, even after the user logs off.
    d.userLogsOff();
    expect(await d.handle(reboot({ kind: 'skip_if_user_logged_on' }, 'skip-1'))).toEqual(skipped(d, 'user_logged_on', { waitedMinutes: 0 }));
    expect(eventsOf(d, 'journal-hit')).toHaveLength(1);
    // A new reboot command, now that nobody is logged on, restarts.
    expect(await d.handle(reboot({ kind: 'skip_if_user_logged_on' }, 'skip-2'))).toEqual(ACK);
  });

  it('ask_every: asks again every N minutes until the user says yes', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 1, rebootAnswers: ['none', 'no', 'none', 'yes'] });
    expect(await d.handle(reboot({ kind: 'ask_every', minutes: 2 }))).toEqual(ACK);
    expect(eventsOf(d, 'reboot-prompt').map((e) => e.detail)).toEqual([
      'prompt 1 (answer within 2 min): none',
      'prompt 2 (answer within 2 min): no',
      'prompt 3 (answer within 2 min): none',
      'prompt 4 (answer within 2 min): yes',
    ]);
  });

  it('ask_defer: the user postpones k questions (defersReboots), each for the minutes offered, then restarts', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 0, defersReboots: 2 });
    const ask = (left: number, id: string) => reboot({ kind: 'ask_defer', minutes: 30, deferralsLeft: left }, id);
    expect(await d.handle(ask(3, 'q1'))).toEqual(skipped(d, 'user_deferred', { waitedMinutes: 0, deferredMinutes: 30 }));
    expect(await d.handle(ask(2, 'q2'))).toEqual(skipped(d, 'user_deferred', { waitedMinutes: 0, deferredMinutes: 30 }));
    expect(await d.handle(ask(1, 'q3'))).toEqual(ACK);
    expect(eventsOf(d, 'reboot-prompt').map((e) => e.detail)).toEqual([
      'restart now or postpone 30 min (3 left): defer',
      'restart now or postpone 30 min (2 left): defer',
      'restart now or postpone 30 min (1 left): yes',
    ]);
  });

  it('ask_defer: no postponement left, or nobody logged on, restarts; a queued "none" restarts after the minutes', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 0, rebootAnswers: ['defer', 'none'] });
    expect(await d.handle(reboot({ kind: 'ask_defer', minutes: 5, deferralsLeft: 0 }, 'q1'))).toEqual(ACK);
    expect(await d.handle(reboot({ kind: 'ask_defer', minutes: 5, deferralsLeft: 2 }, 'q2'))).toEqual(ACK);
    const nobody = device({ userLoggedOn: false, defersReboots: 5 });
    expect(await nobody.handle(reboot({ kind: 'ask_defer', minutes: 5, deferralsLeft: 2 }, 'q3'))).toEqual(ACK);
    expect(eventsOf(nobody, 'reboot-prompt')).toEqual([]);
  });

  it('ask_every: gives up after 50 prompts without a yes and reports no answer', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 0, rebootAnswers: ['no', 'no'] });
    expect(await d.handle(reboot({ kind: 'ask_every', minutes: 10 }))).toEqual(skipped(d, 'no_answer', { waitedMinutes: 500 }));
    expect(eventsOf(d, 'reboot-prompt')).toHaveLength(50);
  });

  it('ask: yes restarts at once, no declines at once', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 1000, rebootAnswers: ['yes', 'no', 'no'] });
    const started = Date.now();
    expect(await d.handle(reboot({ kind: 'ask', minutes: 5, ifNoAnswer: 'do_nothing' }))).toEqual(ACK);
    expect(await d.handle(reboot({ kind: 'ask', minutes: 5, ifNoAnswer: 'do_nothing' }))).toEqual(skipped(d, 'user_declined', { waitedMinutes: 0 }));
    // "no" means no, even when silence would have rebooted
    expect(await d.handle(reboot({ kind: 'ask', minutes: 5, ifNoAnswer: 'reboot' }))).toEqual(skipped(d, 'user_declined', { waitedMinutes: 0 }));
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('ask, no answer: waits N minutes, then restarts (reboot) or does nothing (do_nothing)', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 5 });
    let started = Date.now();
    expect(await d.handle(reboot({ kind: 'ask', minutes: 4, ifNoAnswer: 'reboot' }))).toEqual(ACK);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    started = Date.now();
    expect(await d.handle(reboot({ kind: 'ask', minutes: 4, ifNoAnswer: 'do_nothing' }))).toEqual(skipped(d, 'no_answer', { waitedMinutes: 4 }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(eventsOf(d, 'reboot-prompt')).toHaveLength(2);
  });

  it('a re-delivered reboot neither prompts nor restarts again, before or after the restart', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 0, rebootAnswers: ['yes'] });
    const mode: Mode = { kind: 'ask', minutes: 5, ifNoAnswer: 'do_nothing' };
    const boot = d.bootId;
    expect(await d.handle(reboot(mode, 'ask-1'))).toEqual(ACK);
    // delivered again before the restart (the acknowledgement got lost): no second prompt
    expect(await d.handle(reboot(mode, 'ask-1'))).toEqual(ACK);
    expect(eventsOf(d, 'reboot-prompt')).toHaveLength(1);
    const { bootId } = d.completeReboot();
    expect(await d.handle(reboot(mode, 'ask-1'))).toEqual({ status: 'succeeded', result: { previousBootId: boot, bootId } });
    expect(eventsOf(d, 'reboot-prompt')).toHaveLength(1);
    expect(eventsOf(d, 'reboot-completed')).toHaveLength(1);
  });

  it('a second delivery during a prompt waits for the same answer', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 5, rebootAnswers: ['none'] });
    const cmd = reboot({ kind: 'ask', minutes: 2, ifNoAnswer: 'do_nothing' }, 'ask-2');
    const [first, second] = await Promise.all([d.handle(cmd), d.handle({ ...cmd, attempt: 2 })]);
    expect(first).toEqual(skipped(d, 'no_answer', { waitedMinutes: 2 }));
    expect(second).toEqual(first);
    expect(eventsOf(d, 'reboot-prompt')).toHaveLength(1);
  });

  it('the agent stopping during a warning or prompt does not restart and leaves the command to a later delivery', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 1000, rebootAnswers: ['none'] });
    const stop = new AbortController();
    const pending = d.handle(reboot({ kind: 'warn', minutes: 10 }, 'warn-1'), { signal: stop.signal });
    setTimeout(() => stop.abort(), 10);
    const outcome = await pending;
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'Interrupted', retryable: true } });
    expect(d.journalEntry('warn-1')).toBeUndefined();
    // the next delivery warns again and restarts
    d.userLogsOff();
    expect(await d.handle(reboot({ kind: 'warn', minutes: 10 }, 'warn-1'))).toEqual(ACK);
  });

  it('refuses a mode it does not know instead of restarting', async () => {
    const d = device({ userLoggedOn: true });
    const outcome = await d.handle(reboot({ kind: 'nag' } as unknown as Mode));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'InvalidPayload', retryable: false } });
    expect((outcome as { error: { message: string } }).error.message).toMatch(/reboot mode "nag"/);
    expect(await d.handle(reboot({ kind: 'warn', minutes: 0 }))).toMatchObject({ status: 'failed', error: { code: 'InvalidPayload' } });
  });

  it('answers can be queued later; when they run out the user does not answer', async () => {
    const d = device({ userLoggedOn: true, minuteMs: 0 });
    d.queueRebootAnswers('no');
    expect(await d.handle(reboot({ kind: 'ask', minutes: 1, ifNoAnswer: 'reboot' }))).toEqual(skipped(d, 'user_declined', { waitedMinutes: 0 }));
    expect(await d.handle(reboot({ kind: 'ask', minutes: 1, ifNoAnswer: 'do_nothing' }))).toEqual(skipped(d, 'no_answer', { waitedMinutes: 1 }));
    expect(d.isUserLoggedOn()).toBe(true);
  });
});

describe('state kept in the sandbox (issue 10.4)', () => {
  const KB = 'KB5034441';
  it('a device built again on the same state file is the machine as it was: installed, journal, boot id', async () => {
    const stateFile = path.join(sandboxDir, 'device-state.json');
    const first = device({ missingKbs: [KB, 'KB5035845'], stateFile, rebootDurationMs: 10 });
    for (const c of [download(KB), copy(KB)]) expect((await first.handle(c)).status).toBe('succeeded');
    const run = execute(KB, 'exec-once');
    const outcome = await first.handle(run);
    expect(outcome.status).toBe('succeeded');
    await first.restart(new AbortController().signal);
    const bootAfterReboot = first.bootId;

    // "npm start" again: the options would make KB missing; the saved state says otherwise.
    const again = device({ missingKbs: [KB, 'KB5035845'], stateFile, rebootDurationMs: 10 });
    expect(again.isInstalled(KB)).toBe(true);
    expect(again.missingKbs()).toEqual(['KB5035845']);
    expect(again.bootId).toBe(bootAfterReboot);
    expect(again.executionCount(KB)).toBe(1);
    // The same command id is answered from the journal, never run again.
    expect(await again.handle({ ...run, attempt: 2 })).toEqual(outcome);
    expect(again.executionCount(KB)).toBe(1);
    // Its next restart brings a boot id it never had (the seeded stream continues where it stopped).
    await again.restart(new AbortController().signal);
    expect(again.bootId).not.toBe(bootAfterReboot);
    expect(again.bootId).not.toBe(device({ missingKbs: [KB] }).bootId);
  });

  it('without a state file nothing is written', async () => {
    const d = device({ missingKbs: [KB] });
    await d.handle(download(KB));
    await expect(readFile(path.join(sandboxDir, 'device-state.json'))).rejects.toThrow();
  });
});
