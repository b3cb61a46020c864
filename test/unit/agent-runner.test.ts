import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runAgent, runSimulatedAgent } from '../../agent/agent-runner';
import type { DeviceExecutor } from '../../agent/executor';
import { FileResultOutbox } from '../../agent/result-outbox';
import { findUpdate } from '../../agent/catalog';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { signCommand } from '../../domain/command-envelope';
import type { AgentCommand, CommandOutcome, PatchFile } from '../../domain/device-protocol';
import { generateSigningKeyPair, keyIdOf } from '../../domain/signatures';
import { DEFAULT_INSTALL_FOLDER, DEFAULT_WORKING_FOLDER } from '../../domain/folders';

/** What the fake gateway saw, one entry per request. */
interface Seen { method: string; url: string; auth?: string; bootId?: string; body?: unknown; at: number }

/** The fake server's command key: enrollment hands out its public half, `push` signs with it. */
const SERVER_KEY = generateSigningKeyPair();
const COMMAND_KEYS = [{ keyId: keyIdOf(SERVER_KEY.publicKeyPem), publicKey: SERVER_KEY.publicKeyPem }];

/**
 * A minimal in-memory stand-in for /agent/v1: enough to drive the runner's HTTP loop. The real
 * gateway is tested by the integration suite.
 */
class FakeGateway {
  private sequence = 0;
  readonly seen: Seen[] = [];
  readonly queue: AgentCommand[] = [];
  readonly results = new Map<string, CommandOutcome[]>();
  /** status codes to answer the next result posts with, before accepting */
  resultFailures: number[] = [];
  /** the same for enrollments and polls */
  enrollFailures: number[] = [];
  pollFailures: number[] = [];
  /** status codes to answer the next progress posts with; then `progressAnswer` (default: no go-ahead, as a gateway before execute_patches) */
  progressFailures: number[] = [];
  progressAnswer: (body: { starting?: { kb: string } }) => unknown = () => ({ accepted: true });
  private waiters: (() => void)[] = [];
  private server!: Server;
  baseUrl = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => { void this.route(req, res); });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
  /** Queues a command for dev-1, signed as the worker would sign it (a fresh sequence per push). */
  push(command: AgentCommand, options: { signed?: boolean } = {}): void {
    if (options.signed !== false) {
      const now = Date.now();
      command = { ...command, signature: signCommand(SERVER_KEY.privateKeyPem, COMMAND_KEYS[0]!.keyId, command, { deviceId: 'dev-1', sequence: ++this.sequence, issuedAtMs: now, expiresAtMs: now + 60_000 }) };
    }
    this.queue.push(command);
    this.waiters.splice(0).forEach((w) => w());
  }
  async until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error('condition not reached in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const chunk of req) raw += chunk;
    const body = raw ? JSON.parse(raw) : undefined;
    const url = req.url ?? '';
    this.seen.push({ method: req.method!, url, auth: req.headers.authorization, bootId: req.headers['x-patchflow-boot-id'] as string | undefined, body, at: Date.now() });
    const send = (status: number, json: unknown) => { res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json)); };

    if (url === '/agent/v1/enroll') {
      const failure = this.enrollFailures.shift();
      if (failure) return send(failure, { error: `simulated ${failure}` });
      if (body.enrollmentToken !== 'token-0123456789abcdefghij') return send(401, { error: 'enrollment token is unknown or already used' });
      return send(201, { deviceId: 'dev-1', credential: 'dev-1.secret', commandKeys: COMMAND_KEYS });
    }
    if (req.headers.authorization !== 'Bearer dev-1.secret') return send(401, { error: 'device credential is not valid' });
    if (url.startsWith('/agent/v1/commands?')) {
      const failure = this.pollFailures.shift();
      if (failure) return send(failure, { error: `simulated ${failure}` });
      const wait = Number(new URL(url, 'http://x').searchParams.get('wait')) * 1000;
      if (this.queue.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          this.waiters.push(() => { clearTimeout(timer); resolve(); });
          res.on('close', () => { clearTimeout(timer); resolve(); });
        });
      }
      return send(200, { commands: this.queue.splice(0) });
    }
    const m = /^\/agent\/v1\/commands\/([^/]+)\/(result|progress)$/.exec(url);
    if (m && m[2] === 'progress') {
      const failure = this.progressFailures.shift();
      if (failure) return send(failure, { error: `simulated ${failure}` });
      return send(202, this.progressAnswer(body));
    }
    if (m && m[2] === 'result') {
      const failure = this.resultFailures.shift();
      if (failure) return send(failure, { error: `simulated ${failure}` });
      const id = decodeURIComponent(m[1]!);
      this.results.set(id, [...(this.results.get(id) ?? []), body]);
      return send(200, { accepted: true });
    }
    send(404, { error: `no route ${req.method} ${url}` });
  }
}

function patchFile(kb: string): PatchFile {
  const u = findUpdate({ kb })!;
  return { updateId: u.updateId, kb: u.kb, fileName: u.fileName, downloadUrl: u.downloadUrl, sizeBytes: u.sizeBytes, sha256: u.sha256 };
}

let sandboxDir: string;
let gateway: FakeGateway;
let controller: AbortController;
beforeEach(async () => {
  sandboxDir = await mkdtemp(path.join(tmpdir(), 'patchflow-runner-'));
  gateway = new FakeGateway();
  await gateway.start();
  controller = new AbortController();
});
afterEach(async () => {
  controller.abort();
  await gateway.stop();
  await rm(sandboxDir, { recursive: true, force: true });
});

const newDevice = (options: Partial<ConstructorParameters<typeof SimulatedWindowsDevice>[0]> = {}) =>
  new SimulatedWindowsDevice({ id: 'ws-01', sandboxDir, os: 'win10', missingKbs: ['KB5034441', 'KB5035845'], executeDurationMs: 0, downloadDurationMs: 0, rebootDurationMs: 200, ...options });

describe('runSimulatedAgent', () => {
  it('enrolls, then polls with credential and boot id, runs commands and posts outcomes and progress', async () => {
    const device = newDevice();
    const run = runSimulatedAgent({ baseUrl: gateway.baseUrl, device, enrollmentToken: 'token-0123456789abcdefghij', pollWaitSeconds: 1, signal: controller.signal });
    const id = 'install/dev-1/op/download-KB5034441'; // slashes: ids are workflow id + activity id
    gateway.push({ id, type: 'download', payload: { patch: patchFile('KB5034441'), workingFolder: DEFAULT_WORKING_FOLDER }, attempt: 1 });
    await gateway.until(() => gateway.results.has(id));

    expect(gateway.seen[0]).toMatchObject({ method: 'POST', url: '/agent/v1/enroll', body: { hostname: 'WS-01', bootId: device.bootId } });
    const poll = gateway.seen.find((s) => s.url.startsWith('/agent/v1/commands?'))!;
    // Its first poll since it started says so: the gateway re-offers commands claimed before (issue 18.2).
    expect(poll).toMatchObject({ auth: 'Bearer dev-1.secret', bootId: device.bootId, url: '/agent/v1/commands?wait=1&restarted=true' });
    expect(gateway.results.get(id)).toEqual([{ status: 'succeeded', result: expect.objectContaining({ kb: 'KB5034441', sha256: patchFile('KB5034441').sha256 }) }]);
    const progress = gateway.seen.filter((s) => s.url.endsWith('/progress')).map((s) => (s.body as { percent: number }).percent);
    expect(progress).toEqual([50, 100]);
    controller.abort();
    await run;
  });

  it('acknowledges a reboot, stays away, and comes back with a new boot id', async () => {
    const device = newDevice();
    const firstBoot = device.bootId;
    const run = runSimulatedAgent({ baseUrl: gateway.baseUrl, device, credential: 'dev-1.secret', commandKeys: COMMAND_KEYS, pollWaitSeconds: 1, signal: controller.signal });
    gateway.push({ id: 'reboot-1', type: 'reboot', payload: { reason: 'install' }, attempt: 1 });
    await gateway.until(() => gateway.results.has('reboot-1'));
    const ackedAt = Date.now();
    expect(gateway.results.get('reboot-1')).toEqual([{ status: 'acknowledged' }]);
    await gateway.until(() => gateway.seen.some((s) => s.bootId && s.bootId !== firstBoot));
    const back = gateway.seen.find((s) => s.bootId && s.bootId !== firstBoot)!;
    expect(back.at - ackedAt).toBeGreaterThanOrEqual(150); // no poll during the 200 ms restart
    expect(back.bootId).toBe(device.bootId);
    // Delivered again after the restart: answered "done" from the journal, no second restart.
    gateway.push({ id: 'reboot-1', type: 'reboot', payload: { reason: 'install' }, attempt: 2 });
    await gateway.until(() => gateway.results.get('reboot-1')!.length === 2);
    expect(gateway.results.get('reboot-1')![1]).toEqual({ status: 'succeeded', result: { previousBootId: firstBoot, bootId: device.bootId } });
    expect(device.events.filter((e) => e.type === 'reboot-completed')).toHaveLength(1);
    controller.abort();
    await run;
  });

  it('goes silent after an offline-spell command, answers when back, and retries a result that hit a 503', async () => {
    const device = newDevice({ offline: [{ afterCommand: 'execute', kb: 'KB5034441', durationMs: 300 }] });
    await device.handle({ id: 'd', type: 'download', payload: { patch: patchFile('KB5034441'), workingFolder: DEFAULT_WORKING_FOLDER }, attempt: 1 });
    await device.handle({ id: 'c', type: 'copy', payload: { patches: [patchFile('KB5034441')], workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER }, attempt: 1 });
    gateway.resultFailures = [503];
    const run = runSimulatedAgent({ baseUrl: gateway.baseUrl, device, credential: 'dev-1.secret', commandKeys: COMMAND_KEYS, pollWaitSeconds: 1, signal: controller.signal });
    const sentAt = Date.now();
    gateway.push({ id: 'exec-1', type: 'execute', payload: { patch: patchFile('KB5034441'), installFolder: DEFAULT_INSTALL_FOLDER }, attempt: 1 });
    await gateway.until(() => gateway.results.has('exec-1'));
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(300);
    expect(gateway.results.get('exec-1')).toEqual([{ status: 'succeeded', result: expect.objectContaining({ exitCode: 0 }) }]);
    expect(gateway.seen.filter((s) => s.url.endsWith('/exec-1/result'))).toHaveLength(2); // 503, then accepted
    expect(device.events.map((e) => e.type)).toEqual(expect.arrayContaining(['offline', 'online']));
    // The server re-delivers the same command (its attempt timed out): the journal answers.
    gateway.push({ id: 'exec-1', type: 'execute', payload: { patch: patchFile('KB5034441'), installFolder: DEFAULT_INSTALL_FOLDER }, attempt: 2 });
    await gateway.until(() => gateway.results.get('exec-1')!.length === 2);
    expect(device.executionCount('KB5034441')).toBe(1);
    controller.abort();
    await run;
  });

  it('refuses an unsigned command before anything runs and posts the refusal', async () => {
    const device = newDevice();
    const run = runSimulatedAgent({ baseUrl: gateway.baseUrl, device, credential: 'dev-1.secret', commandKeys: COMMAND_KEYS, pollWaitSeconds: 1, signal: controller.signal });
    gateway.push({ id: 'forged-1', type: 'download', payload: { patch: patchFile('KB5034441'), workingFolder: DEFAULT_WORKING_FOLDER }, attempt: 1 }, { signed: false });
    await gateway.until(() => gateway.results.has('forged-1'));
    expect(gateway.results.get('forged-1')).toEqual([{ status: 'failed', error: { code: 'CommandRefused', message: 'refused by the device: unsigned (the command carries no signature)', retryable: false } }]);
    expect(device.events).toEqual([]); // the device never saw it
    expect(await device.folderContents()).toEqual({ working: [], install: [] });
    // The same envelope delivered twice (the gateway re-offers a claimed command whose poll reply may
    // have been lost, issue 18.2): admitted again and answered from the journal, never run twice.
    // (It was refused as replayed before; another envelope with a used sequence still is:
    // test/unit/command-trust.test.ts.)
    const once: AgentCommand = { id: 'scan-1', type: 'scan', payload: { reason: 'test' }, attempt: 1 };
    gateway.push(once);
    const delivered = gateway.queue[gateway.queue.length - 1]!;
    await gateway.until(() => gateway.results.has('scan-1'));
    gateway.push(delivered, { signed: false });
    await gateway.until(() => gateway.results.get('scan-1')!.length === 2);
    expect(gateway.results.get('scan-1')![0]).toMatchObject({ status: 'succeeded' });
    expect(gateway.results.get('scan-1')![1]).toEqual(gateway.results.get('scan-1')![0]);
    expect(device.events.filter((e) => e.type === 'scan')).toHaveLength(1);
    expect(device.events.filter((e) => e.type === 'journal-hit')).toHaveLength(1);
    controller.abort();
    await run;
  });

  it('pins the keys a trust_keys command carries, then runs commands signed by the new key', async () => {
    const device = newDevice();
    const next = generateSigningKeyPair();
    const nextKey = { keyId: keyIdOf(next.publicKeyPem), publicKey: next.publicKeyPem };
    const pinnedNow: string[][] = [];
    const run = runSimulatedAgent({
      baseUrl: gateway.baseUrl, device, credential: 'dev-1.secret', commandKeys: COMMAND_KEYS, pollWaitSeconds: 1, signal: controller.signal,
      onCommandKeys: (keys) => pinnedNow.push(keys.map((k) => k.keyId)),
    });
    const now = Date.now();
    const byNext = (c: AgentCommand, sequence: number): AgentCommand => ({ ...c, signature: signCommand(next.privateKeyPem, nextKey.keyId, c, { deviceId: 'dev-1', sequence, issuedAtMs: now, expiresAtMs: now + 60_000 }) });
    gateway.push(byNext({ id: 'early', type: 'scan', payload: { reason: 'too early' }, attempt: 1 }, 1000), { signed: false });
    await gateway.until(() => gateway.results.has('early'));
    expect(gateway.results.get('early')![0]).toMatchObject({ error: { message: expect.stringMatching(/^refused by the device: unknown key/) } });

    gateway.push({ id: 'rotate', type: 'trust_keys', payload: { keys: [...COMMAND_KEYS, nextKey] }, attempt: 1 });
    await gateway.until(() => gateway.results.has('rotate'));
    expect(gateway.results.get('rotate')).toEqual([{ status: 'succeeded', result: { keyIds: [COMMAND_KEYS[0]!.keyId, nextKey.keyId] } }]);
    expect(pinnedNow).toEqual([[COMMAND_KEYS[0]!.keyId, nextKey.keyId]]);

    gateway.push(byNext({ id: 'late', type: 'scan', payload: { reason: 'after rotation' }, attempt: 1 }, 1001), { signed: false });
    await gateway.until(() => gateway.results.has('late'));
    expect(gateway.results.get('late')![0]).toMatchObject({ status: 'succeeded' });
    controller.abort();
    await run;
  });

  it('retries an enrollment, a poll and a result the gateway answered 408 (its request timeout under load)', async () => {
    const device = newDevice();
    gateway.enrollFailures = [408];
    gateway.pollFailures = [408];
    gateway.resultFailures = [408];
    const run = runSimulatedAgent({ baseUrl: gateway.baseUrl, device, enrollmentToken: 'token-0123456789abcdefghij', pollWaitSeconds: 1, signal: controller.signal, backoff: () => 10 });
    const id = 'dl-408';
    gateway.push({ id, type: 'download', payload: { patch: patchFile('KB5034441'), workingFolder: DEFAULT_WORKING_FOLDER }, attempt: 1 });
    await gateway.until(() => gateway.results.has(id));
    expect(gateway.seen.filter((s) => s.url === '/agent/v1/enroll')).toHaveLength(2);
    // The poll after the 408 says restarted: its reply may have carried commands.
    const polls = gateway.seen.filter((s) => s.url.startsWith('/agent/v1/commands?'));
    expect(polls[1]!.url).toBe('/agent/v1/commands?wait=1&restarted=true');
    expect(gateway.seen.filter((s) => s.url === `/agent/v1/commands/${id}/result`)).toHaveLength(2);
    expect(gateway.results.get(id)).toEqual([{ status: 'succeeded', result: expect.objectContaining({ kb: 'KB5034441' }) }]);
    controller.abort();
    await run;
  });

  it('rejects when the enrollment token is refused', async () => {
    const device = newDevice();
    await expect(runSimulatedAgent({ baseUrl: gateway.baseUrl, device, enrollmentToken: 'wrong-token-0123456789', signal: controller.signal }))
      .rejects.toMatchObject({ status: 401, message: 'enrollment token is unknown or already used' });
  });
});

describe('startSimulatedFleet', () => {
  it('runs several agents and stops promptly while they long-poll', async () => {
    const devices = [0, 1, 2].map((i) => newDevice({ id: `ws-0${i}` }));
    const fleet = startSimulatedFleet({ baseUrl: gateway.baseUrl, devices: devices.map((device) => ({ device, credential: 'dev-1.secret', commandKeys: COMMAND_KEYS })), pollWaitSeconds: 30 });
    await fleet.ready;
    await gateway.until(() => new Set(gateway.seen.filter((s) => s.url.startsWith('/agent/v1/commands?')).map((s) => s.bootId)).size === 3);
    const started = Date.now();
    await fleet.stop();
    expect(Date.now() - started).toBeLessThan(1000); // the 30 s long polls were aborted
    expect(fleet.agents.every((a) => a.error === undefined)).toBe(true);
  });
});

/** An executor whose commands finish only once the agent is told to stop (a result in hand at SIGTERM). */
class FinishesAtStop implements DeviceExecutor {
  readonly name = 'STOPPER';
  readonly bootId = 'boot-stop';
  started = 0;
  async handle(command: AgentCommand, options: { signal?: AbortSignal } = {}): Promise<CommandOutcome> {
    this.started++;
    await new Promise<void>((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
    return { status: 'succeeded', result: { removedFiles: 0, workingFolderEmpty: true, installFolderEmpty: true, command: command.id } as never };
  }
  journalEntry(): CommandOutcome | undefined {
    return undefined;
  }
  async restart(): Promise<void> {}
}

describe('graceful stop (issue 18.5)', () => {
  const cleanup = (id: string) => ({ id, type: 'cleanup' as const, payload: { workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER }, attempt: 1 });

  it('posts a result the executor finished after the stop signal, before runAgent resolves', async () => {
    const executor = new FinishesAtStop();
    const run = runAgent({ baseUrl: gateway.baseUrl, executor, credential: 'dev-1.secret', commandKeys: COMMAND_KEYS, pollWaitSeconds: 1, signal: controller.signal });
    gateway.push(cleanup('cleanup-at-stop'));
    await gateway.until(() => executor.started === 1);
    controller.abort();
    await run;
    expect(gateway.results.get('cleanup-at-stop')).toEqual([{ status: 'succeeded', result: expect.objectContaining({ command: 'cleanup-at-stop' }) }]);
  });

  it('keeps a result it could not deliver while stopping on disk, and posts it first at the next start', async () => {
    const outboxFile = path.join(sandboxDir, 'outbox.json');
    const executor = new FinishesAtStop();
    const first = runAgent({ baseUrl: gateway.baseUrl, executor, outbox: new FileResultOutbox(outboxFile), credential: 'dev-1.secret', commandKeys: COMMAND_KEYS, pollWaitSeconds: 1, signal: controller.signal });
    gateway.push(cleanup('cleanup-kept'));
    await gateway.until(() => executor.started === 1);
    gateway.resultFailures = [503];
    controller.abort();
    await first;
    expect(gateway.results.has('cleanup-kept')).toBe(false);
    expect(new FileResultOutbox(outboxFile).pending()).toEqual([expect.objectContaining({ commandId: 'cleanup-kept', type: 'cleanup' })]);

    // A new process: a new outbox object on the same file, another executor object.
    const again = new AbortController();
    const seenBefore = gateway.seen.length;
    const second = runAgent({ baseUrl: gateway.baseUrl, executor: new FinishesAtStop(), outbox: new FileResultOutbox(outboxFile), credential: 'dev-1.secret', commandKeys: COMMAND_KEYS, pollWaitSeconds: 1, signal: again.signal });
    await gateway.until(() => gateway.results.has('cleanup-kept'));
    const after = gateway.seen.slice(seenBefore);
    expect(after[0]).toMatchObject({ method: 'POST', url: '/agent/v1/commands/cleanup-kept/result' });
    again.abort();
    await second;
    expect(new FileResultOutbox(outboxFile).pending()).toEqual([]);
  });
});

describe('execute_patches through the runner: the go-ahead before each patch', () => {
  const KBS = ['KB5034441', 'KB5035845'];
  async function staged(device: SimulatedWindowsDevice) {
    for (const kb of KBS) await device.handle({ id: `dl-${kb}`, type: 'download', payload: { patch: patchFile(kb), workingFolder: DEFAULT_WORKING_FOLDER }, attempt: 1 });
    await device.handle({ id: 'copy', type: 'copy', payload: { patches: KBS.map(patchFile), workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER }, attempt: 1 });
  }
  const batch = (id: string): AgentCommand => ({ id, type: 'execute_patches', payload: { patches: KBS.map(patchFile), installFolder: DEFAULT_INSTALL_FOLDER }, attempt: 1 });

  it('asks before each patch (through 503s, backing off) and starts only on proceed; a halt stops the rest', async () => {
    const device = newDevice({ freeDiskBytes: 100 * 1024 ** 3 });
    await staged(device);
    gateway.progressFailures = [503, 503];
    gateway.progressAnswer = (body) => ({ accepted: true, goAhead: body.starting?.kb === 'KB5034441' ? { proceed: true } : { proceed: false, reason: 'halted', message: 'halted by user:ops: freeze' } });
    void runSimulatedAgent({ baseUrl: gateway.baseUrl, device, enrollmentToken: 'token-0123456789abcdefghij', pollWaitSeconds: 1, signal: controller.signal, backoff: () => 10 });
    const id = 'install/dev-1/run/execute-batch';
    gateway.push(batch(id));
    await gateway.until(() => gateway.results.has(id));

    const asked = gateway.seen.filter((r) => r.url.endsWith('/progress')).map((r) => (r.body as { starting?: { kb: string } }).starting?.kb);
    expect(asked).toEqual(['KB5034441', 'KB5034441', 'KB5034441', 'KB5035845']);
    expect(gateway.results.get(id)![0]).toMatchObject({ status: 'succeeded', result: { patches: [
      { kb: 'KB5034441', status: 'executed' },
      { kb: 'KB5035845', status: 'not_started', reason: 'halted', message: 'halted by user:ops: freeze' },
    ] } });
    expect(device.executionCount('KB5034441')).toBe(1);
    expect(device.executionCount('KB5035845')).toBe(0);
  });

  it('a gateway that answers without a go-ahead (older than execute_patches) starts nothing', async () => {
    const device = newDevice({ freeDiskBytes: 100 * 1024 ** 3 });
    await staged(device);
    void runSimulatedAgent({ baseUrl: gateway.baseUrl, device, enrollmentToken: 'token-0123456789abcdefghij', pollWaitSeconds: 1, signal: controller.signal, backoff: () => 10 });
    const id = 'install/dev-1/run/execute-batch-old-gateway';
    gateway.push(batch(id));
    await gateway.until(() => gateway.results.has(id));
    const answer = gateway.results.get(id)![0] as { result: { patches: { status: string; reason: string }[] } };
    expect(answer.result.patches.map((p) => [p.status, p.reason])).toEqual([['not_started', 'no_go_ahead'], ['not_started', 'no_go_ahead']]);
    for (const kb of KBS) expect(device.executionCount(kb)).toBe(0);
  });

  it('a withdrawn command (409) is a no: nothing more starts', async () => {
    const device = newDevice({ freeDiskBytes: 100 * 1024 ** 3 });
    await staged(device);
    gateway.progressFailures = [409];
    void runSimulatedAgent({ baseUrl: gateway.baseUrl, device, enrollmentToken: 'token-0123456789abcdefghij', pollWaitSeconds: 1, signal: controller.signal, backoff: () => 10 });
    const id = 'install/dev-1/run/execute-batch-withdrawn';
    gateway.push(batch(id));
    await gateway.until(() => gateway.results.has(id));
    const answer = gateway.results.get(id)![0] as { result: { patches: { status: string; reason: string }[] } };
    expect(answer.result.patches.map((p) => p.reason)).toEqual(['withdrawn', 'withdrawn']);
    for (const kb of KBS) expect(device.executionCount(kb)).toBe(0);
  });
});
