/**
 * The apt executor's refusals and its reboot bookkeeping, on the real file system, without running a
 * package tool (the real runs are test/integration/apt-agent.test.ts, in a Debian root).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { AptExecutor } from '../../agent/apt-executor';
import type { AgentCommand, GoAhead, PatchFile, PatchStart } from '../../domain/device-protocol';
import { evaluatePatchTest, type PatchTestObservation } from '../../domain/patch-test';

const asRoot = process.getuid?.() === 0 ? describe : describe.skip; // the folder walk wants root-owned parents

const DEB = Buffer.from('!<arch>\nnot really a deb, but the bytes the catalog vouches for\n');
const SHA = createHash('sha256').update(DEB).digest('hex');

let dir: string;
let root: string;
let server: Server;
let baseUrl: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/pool/pf-demo_1.1_amd64.deb') res.writeHead(200).end(DEB);
    else if (req.url === '/pool/tampered.deb') res.writeHead(200).end(Buffer.concat([DEB, Buffer.from('x')]));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => { await new Promise((r) => server.close(r)); });
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-aptx-'));
  root = path.join(dir, 'root');
  fs.mkdirSync(root, { mode: 0o755 });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const patch = (over: Partial<PatchFile> = {}): PatchFile => ({
  updateId: 'apt:bookworm-security:pf-demo:amd64:1.1', kb: 'PF-DEMO=1.1', fileName: 'pf-demo_1.1_amd64.deb',
  downloadUrl: `${baseUrl}/pool/pf-demo_1.1_amd64.deb`, sizeBytes: DEB.length, sha256: SHA, ...over,
});
let n = 0;
const download = (p: PatchFile, workingFolder = '/var/lib/patchflow/working'): AgentCommand =>
  ({ id: `dl-${++n}`, type: 'download', payload: { patch: p, workingFolder }, attempt: 1 });
const executor = (over: Partial<ConstructorParameters<typeof AptExecutor>[0]> = {}) =>
  new AptExecutor({ stateDir: path.join(dir, 'state'), root, updateBeforeScan: false, ...over });

asRoot('AptExecutor', () => {
  test('downloads into the working folder with size and SHA-256 checked', async () => {
    const outcome = await executor().handle(download(patch()));
    expect(outcome).toEqual({
      status: 'succeeded',
      result: { kb: 'PF-DEMO=1.1', path: '/var/lib/patchflow/working/pf-demo_1.1_amd64.deb', sha256: SHA, bytes: DEB.length, source: expect.objectContaining({ servedBy: 'internet', bytes: DEB.length, fellBack: [] }) },
    });
    expect(fs.readFileSync(path.join(root, 'var/lib/patchflow/working/pf-demo_1.1_amd64.deb'))).toEqual(DEB);
  });

  test('file sources: bad bytes from the cache are refused (hash checked again) and the internet serves', async () => {
    const asked: string[] = [];
    const cachedFile = async (sha256: string) => { asked.push(sha256); return new Response(new Uint8Array(Buffer.concat([DEB.subarray(1), Buffer.from('x')]))); };
    const cmd = download(patch());
    const outcome = await executor().handle({ ...cmd, payload: { ...(cmd.payload as object), sources: ['cache', 'internet'] } } as AgentCommand, { cachedFile });
    expect(asked).toEqual([SHA]);
    expect(outcome).toMatchObject({ status: 'succeeded', result: { sha256: SHA, source: { servedBy: 'internet', fellBack: [{ source: 'cache', reason: expect.stringMatching(/from the Patchflow cache .* has SHA-256 [0-9a-f]{64}, the catalog says/) }] } } });
  });

  test('file sources: the cache serves when it has the right bytes; no LAN share on this agent', async () => {
    const cachedFile = async () => new Response(new Uint8Array(DEB));
    const cmd = download(patch({ downloadUrl: `${baseUrl}/pool/missing.deb` }));
    const outcome = await executor().handle({ ...cmd, payload: { ...(cmd.payload as object), sources: ['lan-share', 'cache', 'internet'] } } as AgentCommand, { cachedFile });
    expect(outcome).toMatchObject({ status: 'succeeded', result: { source: { servedBy: 'cache', fellBack: [{ source: 'lan-share', reason: expect.stringContaining('no LAN share') }] } } });
  });

  test('a file that is not the catalog\'s is removed and refused, for good', async () => {
    const outcome = await executor().handle(download(patch({ downloadUrl: `${baseUrl}/pool/tampered.deb` })));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'HashMismatch', retryable: false } });
    expect(fs.readdirSync(path.join(root, 'var/lib/patchflow/working'))).toEqual([]);
  });

  test.each([
    ['a package name with shell metacharacters', { updateId: 'apt:bookworm:pf-demo;reboot:amd64:1.1' }, /not an apt package version/],
    ['a version with shell metacharacters', { updateId: 'apt:bookworm:pf-demo:amd64:1.1$(id)' }, /not an apt package version/],
    ['a Windows update id', { updateId: '5a4f2c1e-1111-2222-3333-444455556666' }, /not an apt package version/],
    ['a file name with a path', { fileName: '../../etc/cron.d/x.deb' }, /plain file name/],
    ['a file name that looks like an option', { fileName: '--force-all.deb' }, /not a \.deb file name/],
  ])('refuses %s; nothing is written', async (_what, over, message) => {
    const outcome = await executor().handle(download(patch(over as Partial<PatchFile>)));
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'InvalidPayload', message: expect.stringMatching(message), retryable: false } });
    expect(fs.existsSync(path.join(root, 'var'))).toBe(false);
  });

  test('refuses a system folder and one another user can write to', async () => {
    expect(await executor().handle(download(patch(), '/etc'))).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder', message: expect.stringContaining('(rule: protected)') } });
    fs.mkdirSync(path.join(root, 'srv/shared'), { recursive: true });
    fs.chmodSync(path.join(root, 'srv/shared'), 0o777);
    expect(await executor().handle(download(patch(), '/srv/shared'))).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder', message: expect.stringContaining('writable-by-others') } });
    expect(fs.readdirSync(path.join(root, 'srv/shared'))).toEqual([]);
  });

  test('a download of several packages checks each: the tampered one is refused for good, the other kept', async () => {
    const tampered = patch({ updateId: 'apt:bookworm-security:pf-other:amd64:1.1', kb: 'PF-OTHER=1.1', fileName: 'pf-other_1.1_amd64.deb', downloadUrl: `${baseUrl}/pool/tampered.deb` });
    const outcome = await executor().handle({ id: `dl-${++n}`, type: 'download', payload: { patches: [patch(), tampered], workingFolder: '/var/lib/patchflow/working' }, attempt: 1 });
    expect(outcome).toMatchObject({
      status: 'succeeded',
      result: {
        downloaded: [{ updateId: patch().updateId, kb: 'PF-DEMO=1.1', sha256: SHA, bytes: DEB.length }],
        failed: [{ updateId: tampered.updateId, kb: 'PF-OTHER=1.1', error: { code: 'HashMismatch', retryable: false } }],
      },
    });
    expect(fs.readdirSync(path.join(root, 'var/lib/patchflow/working'))).toEqual(['pf-demo_1.1_amd64.deb']);
  });

  test('the Patch Test: each package hashed as fetched (none written), free space, the working folder as the download would check it; the server names each problem', async () => {
    const tampered = patch({ updateId: 'apt:bookworm-security:pf-other:amd64:1.1', kb: 'PF-OTHER=1.1', fileName: 'pf-other_1.1_amd64.deb', downloadUrl: `${baseUrl}/pool/tampered.deb` });
    const gone = patch({ updateId: 'apt:bookworm-security:pf-gone:amd64:1.1', kb: 'PF-GONE=1.1', fileName: 'pf-gone_1.1_amd64.deb', downloadUrl: `${baseUrl}/pool/gone.deb` });
    const test = (workingFolder: string): AgentCommand => ({ id: `pt-${++n}`, type: 'patch_test', payload: { workingFolder, installFolder: '/var/lib/patchflow/install', patches: [patch(), tampered, gone] }, attempt: 1 });
    const outcome = await executor().handle(test('/var/lib/patchflow/working'));
    expect(outcome.status).toBe('succeeded');
    const observed = (outcome as { result: PatchTestObservation }).result;
    expect(observed).toMatchObject({ credential: { kind: 'system' }, platform: 'posix', workingFolder: '/var/lib/patchflow/working', workingFolderAcl: null, services: {} });
    expect(observed.folderProblem).toBeUndefined();
    expect(observed.freeBytes).toBeGreaterThan(0);
    expect(observed.files.map((f) => [f.patchId, f.answered, f.sha256 === SHA])).toEqual([['PF-DEMO=1.1', true, true], ['PF-OTHER=1.1', true, false], ['PF-GONE=1.1', false, false]]);
    expect(fs.readdirSync(path.join(root, 'var/lib/patchflow/working'))).toEqual([]); // nothing staged
    const verdict = evaluatePatchTest(observed);
    expect(verdict.checks.filter((c) => !c.passed).map((c) => [c.check, c.subject])).toEqual([
      ['file-source', `PF-OTHER=1.1 from ${tampered.downloadUrl}`],
      ['file-source', `PF-GONE=1.1 from ${gone.downloadUrl}`],
    ]);
    expect(verdict.checks.find((c) => c.check === 'credentials')!.reason).toBe('runs as root');

    // A working folder others can write to fails the permissions check with the agent's own reason.
    fs.mkdirSync(path.join(root, 'srv/shared'), { recursive: true });
    fs.chmodSync(path.join(root, 'srv/shared'), 0o777);
    const shared = (await executor().handle(test('/srv/shared'))) as { result: PatchTestObservation };
    expect(shared.result.folderProblem).toContain('writable-by-others');
    expect(evaluatePatchTest(shared.result).checks.find((c) => c.check === 'working-folder-permissions')).toMatchObject({ passed: false, reason: expect.stringContaining('/srv/shared: ') });
    // A system folder is refused before anything is fetched.
    expect(await executor().handle(test('/etc'))).toMatchObject({ status: 'failed', error: { code: 'UnsafeFolder', message: expect.stringContaining('(rule: protected)') } });
  });

  test('execute_patches: each package through the one-patch execute, asked for first; answers journalled per patch, so a new executor resumes', async () => {
    const bad = patch({ updateId: 'apt:bookworm:pf-demo;reboot:amd64:1.1' });
    const other = patch({ updateId: 'apt:bookworm-security:pf-other:amd64:1.1', kb: 'PF-OTHER=1.1', fileName: 'pf-other_1.1_amd64.deb' });
    const cmd: AgentCommand = { id: `ex-${++n}`, type: 'execute_patches', payload: { patches: [bad, other], installFolder: '/var/lib/patchflow/install' }, attempt: 1 };
    const asked: string[] = [];
    const halted = async (start: PatchStart): Promise<GoAhead> => { asked.push(start.kb); return { proceed: false, reason: 'window_closed', message: 'the maintenance window has closed' }; };
    const proceed = async (start: PatchStart): Promise<GoAhead> => { asked.push(start.kb); return { proceed: true }; };
    // The first patch is refused for good (never reaches dpkg); before the second the install says no.
    let askedFirst = false;
    const outcome = await executor().handle(cmd, { askToStart: async (start) => (askedFirst ? halted(start) : ((askedFirst = true), proceed(start))) });
    expect(outcome).toMatchObject({ status: 'succeeded', result: { patches: [
      { updateId: bad.updateId, status: 'failed', error: { code: 'InvalidPayload', retryable: false } },
      { updateId: other.updateId, status: 'not_started', reason: 'window_closed' },
    ] } });
    expect(asked).toEqual(['PF-DEMO=1.1', 'PF-OTHER=1.1']);
    // A restarted agent answers the whole command from the journal on disk.
    expect(await executor().handle({ ...cmd, attempt: 2 }, { askToStart: proceed })).toEqual(outcome);
    expect(asked).toHaveLength(2);
  });

  test('a final outcome is answered from the journal by a new executor (a restarted agent)', async () => {
    const command = download(patch({ downloadUrl: `${baseUrl}/pool/tampered.deb` }));
    const first = await executor().handle(command);
    const again = executor();
    expect(again.journalEntry(command.id)).toEqual(first);
    expect(await again.handle({ ...command, attempt: 2 })).toEqual(first);
  });

  test('reboot: acknowledged, restarts with the configured command, and is done once the boot id changed', async () => {
    const bootIdFile = path.join(dir, 'boot_id');
    fs.writeFileSync(bootIdFile, 'boot-a\n');
    const marker = path.join(dir, 'rebooted');
    const e = executor({ bootIdFile, rebootCommand: ['touch', marker] });
    const reboot: AgentCommand = { id: 'reboot-1', type: 'reboot', payload: { reason: 'test' }, attempt: 1 };
    expect(await e.handle(reboot)).toEqual({ status: 'acknowledged' });
    const stop = new AbortController();
    const restarting = e.restart(stop.signal);
    await new Promise((r) => setTimeout(r, 200));
    expect(fs.existsSync(marker)).toBe(true);
    stop.abort();
    await restarting;
    // Same boot: delivered again, still only acknowledged (no second restart is asked for by the answer).
    expect(await e.handle({ ...reboot, attempt: 2 })).toEqual({ status: 'acknowledged' });
    // After the restart, a new agent process on the new boot answers it done.
    fs.writeFileSync(bootIdFile, 'boot-b\n');
    expect(await executor({ bootIdFile }).handle({ ...reboot, attempt: 3 })).toEqual({ status: 'succeeded', result: { previousBootId: 'boot-a', bootId: 'boot-b' } });
  });

  test('uninstall and unknown commands are refused, not run', async () => {
    expect(await executor().handle({ id: 'u-1', type: 'uninstall', payload: { updateId: 'x', kb: 'PF-DEMO=1.1' }, attempt: 1 }))
      .toMatchObject({ status: 'failed', error: { code: 'UninstallNotSupported', retryable: false } });
    expect(await executor().handle({ id: 'x-1', type: 'format_disk' as never, payload: {} as never, attempt: 1 }))
      .toMatchObject({ status: 'failed', error: { code: 'UnknownCommand' } });
  });
});
