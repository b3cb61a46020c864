import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileHashMismatchError, PatchFileCache, downloadHashProblem, sha256Of, type CacheResult } from '../../api/file-cache';
import { createMetrics } from '../../api/metrics';
import { AllFileSourcesFailedError, FileSource, downloadSummary, downloadWithFallback } from '../../domain/file-source';

const files = new Map<string, Buffer>([
  ['/kb1.msu', Buffer.alloc(200_000, 1)],
  ['/kb2.msu', Buffer.alloc(150_000, 2)],
  ['/kb3.cab', Buffer.alloc(50_000, 3)],
]);
const patches = [...files].map(([path, bytes]) => ({ path, sha256: sha256Of(bytes) }));

let server: Server;
let origin: string;
const served = new Map<string, number>();
let tamper = false;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    served.set(req.url!, (served.get(req.url!) ?? 0) + 1);
    const body = files.get(req.url!);
    if (!body) { res.statusCode = 404; res.end(); return; }
    setTimeout(() => res.end(tamper ? Buffer.concat([body, Buffer.from('x')]) : body), 20);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => { await new Promise((r) => server.close(r)); });
beforeEach(async () => { served.clear(); tamper = false; dir = await mkdtemp(join(tmpdir(), 'pf-cache-')); });
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

/** A simulated device at a site: LAN share first (device 0 fills it), then the cache, then the internet. */
async function simulatedDevice(index: number, cache: PatchFileCache, share: Map<string, Buffer>, patch: { path: string; sha256: string }) {
  return downloadWithFallback(
    { source: FileSource.LanShare, fallback: true },
    async (source) => {
      if (source === FileSource.LanShare) {
        const copy = share.get(patch.sha256);
        if (!copy) throw new Error('not on the share yet');
        return copy;
      }
      if (source === FileSource.Cache) {
        const { bytes } = await cache.get(patch.sha256, `${origin}${patch.path}`);
        if (index === 0) share.set(patch.sha256, bytes); // the site's filler
        return bytes;
      }
      const res = await fetch(`${origin}${patch.path}`);
      return Buffer.from(await res.arrayBuffer());
    },
    (bytes, source) => downloadHashProblem(bytes, patch.sha256, source),
  );
}

describe('PatchFileCache and file-source fallback', () => {
  it('50 devices at one site, 3 patches: the origin serves each file once and every hash check passes', async () => {
    const results: CacheResult[] = [];
    const cache = new PatchFileCache({ dir, maxBytes: 10_000_000, maxAgeMs: 3600_000, onResult: (r) => results.push(r) });
    const share = new Map<string, Buffer>();
    const downloads = await Promise.all(Array.from({ length: 50 }, (_, i) => patches.map((p) => simulatedDevice(i, cache, share, p))).flat());
    expect(downloads).toHaveLength(150);
    for (const [i, d] of downloads.entries()) expect(downloadHashProblem(d.bytes, patches[i % 3].sha256, d.report.servedBy)).toBeUndefined();
    expect([...served.values()]).toEqual([1, 1, 1]);
    expect(results.filter((r) => r === 'miss')).toHaveLength(3);
    // a second wave reads the share the filler filled
    const wave2 = await Promise.all(patches.map((p) => simulatedDevice(7, cache, share, p)));
    expect(wave2.map((d) => d.report.servedBy)).toEqual([FileSource.LanShare, FileSource.LanShare, FileSource.LanShare]);
    expect(downloadSummary(wave2[0].report)).toMatch(/^from lan-share, /);
    expect([...served.values()]).toEqual([1, 1, 1]);
  });

  it('a corrupted cached file is a hash mismatch: deleted, refetched from the origin, never served', async () => {
    const results: CacheResult[] = [];
    const cache = new PatchFileCache({ dir, maxBytes: 10_000_000, maxAgeMs: 3600_000, onResult: (r) => results.push(r) });
    const [p] = patches;
    await cache.get(p.sha256, `${origin}${p.path}`);
    await writeFile(join(dir, p.sha256), Buffer.from('MZ evil'));
    const again = await cache.get(p.sha256, `${origin}${p.path}`);
    expect(sha256Of(again.bytes)).toBe(p.sha256);
    expect(results).toEqual(['miss', 'corrupt']);
    expect(served.get(p.path)).toBe(2);
  });

  it('a LAN share copy that is corrupt falls back to the cache and says so', async () => {
    const cache = new PatchFileCache({ dir, maxBytes: 10_000_000, maxAgeMs: 3600_000 });
    const share = new Map<string, Buffer>([[patches[0].sha256, Buffer.from('bad')]]);
    const d = await simulatedDevice(3, cache, share, patches[0]);
    expect(d.report.servedBy).toBe(FileSource.Cache);
    expect(d.report.fellBack).toEqual([{ source: FileSource.LanShare, reason: expect.stringMatching(/^hash mismatch from lan-share/) }]);
  });

  it('the cache refuses an origin file whose hash differs; the agent refuses it from the internet too', async () => {
    tamper = true;
    const cache = new PatchFileCache({ dir, maxBytes: 10_000_000, maxAgeMs: 3600_000 });
    await expect(cache.get(patches[1].sha256, `${origin}${patches[1].path}`)).rejects.toBeInstanceOf(FileHashMismatchError);
    expect((await readdir(dir)).filter((n) => !n.startsWith('.'))).toEqual([]);
    const err = await simulatedDevice(2, cache, new Map(), patches[1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AllFileSourcesFailedError);
    expect((err as AllFileSourcesFailedError).failures.map((f) => f.source)).toEqual([FileSource.LanShare, FileSource.Cache, FileSource.Internet]);
    expect((err as AllFileSourcesFailedError).failures[2].reason).toMatch(/^hash mismatch from internet/);
  });

  it('counts hits and misses in the Prometheus hit-rate counter', async () => {
    const metrics = createMetrics();
    const cache = new PatchFileCache({ dir, maxBytes: 10_000_000, maxAgeMs: 3600_000, onResult: (result) => metrics.fileCacheRequests.inc({ result }) });
    for (let i = 0; i < 4; i++) await cache.get(patches[2].sha256, `${origin}${patches[2].path}`);
    const text = await metrics.registry.getSingleMetricAsString('patchflow_file_cache_requests_total');
    expect(text).toContain('patchflow_file_cache_requests_total{result="hit"} 3');
    expect(text).toContain('patchflow_file_cache_requests_total{result="miss"} 1');
  });

  it('is bounded by size (least recently used goes first) and by age', async () => {
    let t = 0;
    const cache = new PatchFileCache({ dir, maxBytes: 360_000, maxAgeMs: 1000, now: () => t });
    const [a, b, c] = patches;
    await cache.get(a.sha256, `${origin}${a.path}`); t = 1;
    await cache.get(b.sha256, `${origin}${b.path}`); t = 2;
    await cache.get(a.sha256, `${origin}${a.path}`); t = 3; // a used more recently than b
    await cache.get(c.sha256, `${origin}${c.path}`); // 400k > 360k: b goes
    expect((await readdir(dir)).sort()).toEqual([a.sha256, c.sha256].sort());
    t = 5000;
    await cache.get(c.sha256, `${origin}${c.path}`); // everything older than 1 s expired, c refetched
    expect(served.get(c.path)).toBe(2);
    expect(cache.usage().files).toBe(1);
  });
});
