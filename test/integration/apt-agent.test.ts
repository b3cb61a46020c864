/**
 * The real agent with the apt executor against a real Debian root (bookworm minbase from mmdebstrap,
 * cached under .data/apt-agent/) and a real Patchflow (Temporal, PostgreSQL, API, gateway). The agent
 * runs as its own process, `patchflow agent --server … --enroll … --executor apt --root <debian root>`:
 * the steps README "Running the agent on a real machine" gives, with the package tools in a chroot so
 * the host's packages are never touched. Skipped, saying why, where the root cannot be built.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { AptExecutor } from '../../agent/apt-executor';
import type { AgentCommand, CommandOutcome, ExecutePatchesResult } from '../../domain/device-protocol';
import type { InstallResult } from '../../workflows/install.contract';
import { buildAptFeed } from '../../cli/apt-feed';
import { buildRepository, debianRootUnavailable, DEBIAN_SUITE, prepareRoot, unpackCount, unpackRoot } from './debian-root';
import { eventually, FAST_TIMING, startHarness, type Harness } from './harness';

jest.setTimeout(300_000);

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const FEED_ID = 'debian-test';
const DEMO = 'PF-DEMO=1.1';
const BROKEN = 'PF-BROKEN=1.1';

const unavailable = debianRootUnavailable();
if (unavailable) console.warn(`apt-agent tests skipped: ${unavailable}`);
const describeReal = unavailable ? describe.skip : describe;

describeReal('the apt agent in a real Debian root', () => {
  let h: Harness;
  let root: string;
  let stateDir: string;
  let repoDir: string;
  let repoServer: Server;
  let repoUrl: string;
  const agents: ChildProcess[] = [];
  const agentLog: string[] = [];

  beforeAll(async () => {
    root = unpackRoot();
    repoDir = fs.mkdtempSync(path.join(path.dirname(root), 'pf-repo-'));
    const repo = buildRepository(repoDir);
    prepareRoot(root, repo.dir, repo.suites, ['pf-demo', 'pf-broken']);
    // pf-demo 1.1's postinst pauses this long: the window in which the test kills the agent.
    fs.writeFileSync(path.join(root, 'etc', 'pf-demo-postinst-sleep'), '4\n');
    stateDir = fs.mkdtempSync(path.join(path.dirname(root), 'pf-agent-state-'));
    repoServer = createServer((req, res) => {
      const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\/+/, '');
      const file = path.join(repo.dir, rel);
      if (rel.split('/').includes('..') || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/vnd.debian.binary-package' });
      fs.createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => repoServer.listen(0, '127.0.0.1', resolve));
    repoUrl = `http://127.0.0.1:${(repoServer.address() as AddressInfo).port}`;

    h = await startHarness({
      // apt in a chroot on a shared machine: generous step timeouts (the simulator's are seconds).
      installTiming: { ...FAST_TIMING, commandTimeoutSeconds: { scan: 60, download: 30, copy: 30, execute: 60, reboot: 30, cleanup: 30 } },
    });
    const { feed, refused } = buildAptFeed({
      repoDir: repo.dir, suites: repo.suites, baseUrl: repoUrl, privateKeyPem: h.feedKey.privateKeyPem, feedId: FEED_ID, sequence: 1,
      product: `Debian 12 (${DEBIAN_SUITE})`,
    });
    expect(refused).toEqual([]);
    h.publishFeed(feed);
    const synced = await h.syncCatalog(FEED_ID);
    expect(synced.outcome).not.toBe('refused');
  });

  afterAll(async () => {
    for (const a of agents) if (a.exitCode === null && a.signalCode === null) a.kill('SIGKILL');
    await h?.stop();
    await new Promise((r) => repoServer?.close(r));
    if (process.env.KEEP_DEBIAN_ROOT !== '1') for (const d of [root, stateDir, repoDir]) if (d) fs.rmSync(d, { recursive: true, force: true });
  });

  /** `patchflow agent` as its own process, as systemd would start it. */
  function startAgent(enrollmentToken: string): ChildProcess {
    const child = spawn(process.execPath, [
      '--import', 'tsx', path.join(REPO_ROOT, 'cli', 'main.ts'), 'agent',
      '--server', h.server.url, '--enroll', enrollmentToken, '--executor', 'apt', '--work-dir', stateDir, '--root', root, '--poll-wait', '2',
    ], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer) => agentLog.push(...d.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    agents.push(child);
    return child;
  }
  const exited = (child: ChildProcess) => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const patchesByKb = async (deviceId: string) =>
    Object.fromEntries(((await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[]).map((p) => [p.kb, p]));
  const dpkgLog = () => fs.readFileSync(path.join(root, 'var', 'log', 'dpkg.log'), 'utf8');

  test('scan, install (killed mid-install and restarted), Reboot Required, dpkg failure, journal answers a redelivery', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice('DEB-01', { os: 'Debian 12 (bookworm)' });
    let agent = startAgent(enrollmentToken);
    try {
      // Enrolled: the config holds the credential, readable by root only.
      const configFile = path.join(stateDir, 'agent.json');
      await eventually(async () => (fs.existsSync(configFile) ? true : undefined), 60_000, 'enrollment');
      expect(fs.statSync(configFile).mode & 0o777).toBe(0o600);

      // The scan finds both upgrades, pf-demo's from the security suite.
      const scan = await h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
      expect(scan.status).toBe(202);
      await h.client.workflow.getHandle(scan.body.workflowId).result();
      const before = await patchesByKb(deviceId);
      expect(before[DEMO]).toMatchObject({ status: 'missing', classification: 'Security Updates' });
      expect(before[BROKEN]).toMatchObject({ status: 'missing' });
      expect(before['PF-DEMO=1.0']).toMatchObject({ status: 'installed' });

      const started = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, { kbs: [DEMO, BROKEN], rebootAllowed: false });
      expect(started.status).toBe(202);

      // Killed while dpkg configures pf-demo 1.1 (its postinst pauses), restarted at once.
      await eventually(async () => (/ upgrade pf-demo:amd64 1\.0 1\.1$/m.test(dpkgLog()) ? true : undefined), 120_000, 'pf-demo unpack');
      agent.kill('SIGKILL');
      await exited(agent);
      agent = startAgent(enrollmentToken);

      const result = (await h.client.workflow.getHandle(started.body.workflowId).result()) as InstallResult;
      expect(result.outcome).toBeDefined();
      const after = await patchesByKb(deviceId);
      if (after[DEMO]?.status !== 'reboot_required') console.warn(JSON.stringify({ demo: after[DEMO], result }, null, 1));
      expect(after[DEMO]).toMatchObject({ status: 'reboot_required' });
      expect(after[BROKEN]).toMatchObject({ status: 'failed', lastExitCode: 1 });
      // dpkg unpacked pf-demo 1.1 once, though the agent died during the install and ran again.
      expect(unpackCount(root, 'pf-demo', '1.1')).toBe(1);
      expect(fs.existsSync(path.join(root, 'run', 'reboot-required'))).toBe(true);
      // Cleanup emptied both folders.
      expect(fs.readdirSync(path.join(root, 'var', 'lib', 'patchflow', 'working'))).toEqual([]);
      expect(fs.readdirSync(path.join(root, 'var', 'lib', 'patchflow', 'install'))).toEqual([]);

      // SIGTERM: the agent stops cleanly.
      agent.kill('SIGTERM');
      await exited(agent);
      expect(agent.exitCode).toBe(0);

      // A second delivery of the execute command is answered from the on-disk journal: dpkg never runs.
      const lines = fs.readFileSync(path.join(stateDir, 'journal.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      // (the attempts that found dpkg still busy after the kill were answered busy: not final, not journalled)
      const finishedIds = new Set(lines.map((l) => l.finish as string | undefined).filter(Boolean));
      // (an execute_patches that found dpkg still busy after the kill answered pf-demo busy; the install's
      // next batch, pf-demo alone, installed it)
      const finishedOf = (id: string) => lines.filter((l) => l.finish === id).pop()?.outcome as CommandOutcome | undefined;
      const installedDemo = (id: string) => {
        const o = finishedOf(id);
        return o?.status === 'succeeded' && (o.result as ExecutePatchesResult).patches.some((p) => p.kb === DEMO && p.status === 'executed' && p.exitCode === 3010);
      };
      const execute = lines.map((l) => l.begin as AgentCommand<'execute_patches'> | undefined)
        .find((c) => c?.type === 'execute_patches' && c.payload.patches.some((p) => p.kb === DEMO) && finishedIds.has(c.id) && installedDemo(c.id))!;
      const finished = finishedOf(execute.id)!;
      expect(finished).toMatchObject({ status: 'succeeded', result: { patches: expect.arrayContaining([expect.objectContaining({ kb: DEMO, status: 'executed', exitCode: 3010 })]) } });
      const logBefore = dpkgLog();
      const executor = new AptExecutor({ stateDir, root, updateBeforeScan: false });
      expect(await executor.handle({ ...execute, attempt: execute.attempt + 1 })).toEqual(finished);
      expect(dpkgLog()).toBe(logBefore);
    } catch (err) {
      console.error(`agent log:\n${agentLog.slice(-80).join('\n')}`);
      throw err;
    }
  });
});
