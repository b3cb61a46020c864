import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { findUpdate, sha256Of, simulatedFileContent } from '../../agent/catalog';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import type { AgentCommand, DownloadResult, PatchFile } from '../../domain/device-protocol';
import { FileSource, sourcesOf, sourceOrder } from '../../domain/file-source';
import { DEFAULT_WORKING_FOLDER } from '../../domain/folders';
import { generateSigningKeyPair } from '../../domain/signatures';
import { signCommand, verifyCommand, SequenceWindow, RefusalReason } from '../../domain/command-envelope';
import { keyIdOf } from '../../domain/signatures';

const KB = 'KB5034441';
let dir: string;
beforeEach(async () => { dir = await mkdtemp(path.join(tmpdir(), 'patchflow-sources-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

const device = (id: string, options: Partial<SimulatedDeviceOptions> = {}) =>
  new SimulatedWindowsDevice({ id, sandboxDir: path.join(dir, id), os: 'win10', executeDurationMs: 0, downloadDurationMs: 0, missingKbs: [KB], ...options });

function patchFile(kb: string): PatchFile {
  const u = findUpdate({ kb })!;
  return { updateId: u.updateId, kb: u.kb, fileName: u.fileName, downloadUrl: u.downloadUrl, sizeBytes: u.sizeBytes, sha256: u.sha256 };
}
let n = 0;
const download = (sources?: FileSource[]): AgentCommand<'download'> =>
  ({ id: `dl-${++n}`, type: 'download', attempt: 1, payload: { patch: patchFile(KB), workingFolder: DEFAULT_WORKING_FOLDER, ...(sources ? { sources } : {}) } });
const good = simulatedFileContent(findUpdate({ kb: KB })!);
/** a stand-in for the gateway's cache route: answers these bytes, counting calls */
function cacheServing(bytes: Buffer | Error) {
  const calls: string[] = [];
  return {
    calls,
    cachedFile: async (sha256: string) => {
      calls.push(sha256);
      if (bytes instanceof Error) throw bytes;
      return new Response(new Uint8Array(bytes));
    },
  };
}
const resultOf = (o: Awaited<ReturnType<SimulatedWindowsDevice['handle']>>) => {
  if (o.status !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(o)}`);
  return o.result as DownloadResult;
};

describe('the simulated agent tries the signed file sources in order', () => {
  it('a command without sources downloads from the internet, as before file sources', async () => {
    const r = resultOf(await device('a').handle(download()));
    expect(r.source).toMatchObject({ servedBy: 'internet', bytes: good.length, fellBack: [] });
  });

  it('cache first: served by the cache, hash checked, and says so', async () => {
    const cache = cacheServing(good);
    const r = resultOf(await device('a').handle(download(sourceOrder({ source: FileSource.Cache, fallback: true })), { cachedFile: cache.cachedFile }));
    expect(cache.calls).toEqual([patchFile(KB).sha256]);
    expect(r.sha256).toBe(sha256Of(good));
    expect(r.source).toMatchObject({ servedBy: 'cache', bytes: good.length, fellBack: [] });
    expect(r.source!.durationMs).toBeGreaterThan(0);
  });

  it('bad bytes from the cache are a hash mismatch from cache, and the internet serves', async () => {
    const cache = cacheServing(Buffer.from('not the file'));
    const r = resultOf(await device('a').handle(download([FileSource.Cache, FileSource.Internet]), { cachedFile: cache.cachedFile }));
    expect(r.source!.servedBy).toBe('internet');
    expect(r.source!.fellBack).toEqual([{ source: 'cache', reason: expect.stringMatching(/^SHA-256 of .* from cache is [0-9a-f]{64}, catalog says [0-9a-f]{64}$/) }]);
  });

  it('cache without fallback: an unreachable cache fails the step as retryable, naming why', async () => {
    const cache = cacheServing(new Error('GET /agent/v1/files/x answered 502: the origin could not be fetched'));
    const o = await device('a').handle(download([FileSource.Cache]), { cachedFile: cache.cachedFile });
    expect(o).toMatchObject({ status: 'failed', error: { code: 'DownloadFailed', retryable: true, message: expect.stringContaining('answered 502') } });
  });

  it('bad bytes from every source: HashMismatch, final, and no file is kept', async () => {
    const cache = cacheServing(good);
    const d = device('a', { corruptDownloads: [KB] });
    const o = await d.handle(download([FileSource.Cache, FileSource.Internet]), { cachedFile: cache.cachedFile });
    expect(o).toMatchObject({ status: 'failed', error: { code: 'HashMismatch', retryable: false, message: expect.stringMatching(/^every file source failed: cache: SHA-256 .*; internet: SHA-256 /) } });
    expect((await d.folderContents()).working).toEqual([]);
  });

  it('LAN share: the first device of the site fills it from the cache, the next reads it, a damaged copy falls back', async () => {
    const share = path.join(dir, 'lan-share', 'site-1');
    const cache = cacheServing(good);
    const order = sourceOrder({ source: FileSource.LanShare, fallback: true });
    expect(order).toEqual(['lan-share', 'cache', 'internet']);
    const first = resultOf(await device('a', { lanShareDir: share }).handle(download(order), { cachedFile: cache.cachedFile }));
    expect(first.source).toMatchObject({ servedBy: 'cache', fellBack: [{ source: 'lan-share', reason: expect.stringContaining('not on the LAN share') }] });
    const second = resultOf(await device('b', { lanShareDir: share }).handle(download(order), { cachedFile: cache.cachedFile }));
    expect(second.source).toMatchObject({ servedBy: 'lan-share', fellBack: [] });
    expect(cache.calls).toHaveLength(1);
    await writeFile(path.join(share, patchFile(KB).sha256), 'damaged');
    const third = resultOf(await device('c', { lanShareDir: share }).handle(download(order), { cachedFile: cache.cachedFile }));
    expect(third.source).toMatchObject({ servedBy: 'cache', fellBack: [{ source: 'lan-share', reason: expect.stringContaining('from lan-share is') }] });
  });

  it('a device with no LAN share says so and falls back to the cache', async () => {
    const cache = cacheServing(good);
    const r = resultOf(await device('a').handle(download([FileSource.LanShare, FileSource.Cache, FileSource.Internet]), { cachedFile: cache.cachedFile }));
    expect(r.source).toMatchObject({ servedBy: 'cache', fellBack: [{ source: 'lan-share', reason: 'no LAN share configured on this device' }] });
  });

  it('a source this agent does not know fails in its turn; it is never replaced by the internet', async () => {
    expect(sourcesOf({ sources: ['carrier-pigeon'] })).toEqual(['carrier-pigeon']);
    expect(sourcesOf({})).toEqual(['internet']);
    const o = await device('a').handle(download(['carrier-pigeon' as FileSource]));
    expect(o).toMatchObject({ status: 'failed', error: { code: 'DownloadFailed', message: 'this agent does not know the file source "carrier-pigeon"' } });
  });
});

describe('the sources are part of the signed command', () => {
  it('an agent refuses a download whose sources were changed after signing', () => {
    const key = generateSigningKeyPair();
    const keyId = keyIdOf(key.publicKeyPem);
    const cmd = download([FileSource.Cache, FileSource.Internet]);
    const signature = signCommand(key.privateKeyPem, keyId, cmd, { deviceId: 'dev-1', sequence: 1, issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000 });
    const ctx = () => ({ deviceId: 'dev-1', keys: [{ keyId, publicKey: key.publicKeyPem }], sequences: new SequenceWindow(), now: Date.now() });
    expect(verifyCommand({ ...cmd, signature }, ctx())).toEqual({ ok: true });
    const altered = { ...cmd, payload: { ...cmd.payload, sources: [FileSource.Internet] }, signature };
    expect(verifyCommand(altered, ctx())).toMatchObject({ ok: false, reason: RefusalReason.BadSignature });
  });
});
