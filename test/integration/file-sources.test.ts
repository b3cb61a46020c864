/**
 * Issue 17 part 1, the Patchflow cache file source, end to end on real Temporal and PostgreSQL: a site
 * set to "cache" (no fallback, so nothing else can mask the cache), 50 simulated devices installing the
 * same three patches, and a local origin on 127.0.0.1 standing in for the catalog's host. The cache's
 * origin fetch is pointed at it (AppDeps.fileCache.fetchOrigin: same path, other host): the simulator's
 * catalog names real Microsoft URLs, which a test must not reach.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { findUpdate, simulatedFileContent } from '../../agent/catalog';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { InstallResult } from '../../workflows/install.contract';
import { API_KEY, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(300_000);

// Windows Server 2022 updates that need no restart, so 50 devices finish quickly.
const KBS = ['KB5031988', 'KB890830', 'KB5034439'];
const DEVICES = 50;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let h: Harness;
let origin: Server;
let originUrl: string;
/** origin requests by path */
const originHits = new Map<string, number>();
const fleets: SimulatedFleet[] = [];
let cacheDir: string;

beforeAll(async () => {
  // The origin serves each catalog file by its path (the catalog's file name ends it), and counts.
  const byFileName = new Map(KBS.map((kb) => { const u = findUpdate({ kb })!; return [u.fileName, simulatedFileContent(u)]; }));
  origin = createServer((req, res) => {
    const p = req.url ?? '';
    originHits.set(p, (originHits.get(p) ?? 0) + 1);
    const body = byFileName.get(path.posix.basename(p));
    if (body) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const scratch = fs.mkdtempSync(path.join(process.env.PATCHFLOW_TEST_SCRATCH!, 'file-cache-'));
  cacheDir = path.join(scratch, 'cache');
  h = await startHarness({
    app: {
      fileCache: {
        dir: cacheDir, maxBytes: 1024 * 1024, maxAgeMs: 86_400_000,
        fetchOrigin: async (url) => {
          const res = await fetch(`${originUrl}${new URL(url).pathname}`);
          if (!res.ok) throw new Error(`origin answered ${res.status}`);
          return Buffer.from(await res.arrayBuffer());
        },
      },
    },
  });
});
afterAll(async () => {
  for (const f of fleets) await f.stop();
  await h?.stop();
  await new Promise((r) => origin?.close(r));
});

const catalogFile = (kb: string) => findUpdate({ kb })!;
const originCount = (kb: string) => originHits.get(new URL(catalogFile(kb).downloadUrl).pathname) ?? 0;

/** One sample of the Prometheus text at /metrics (0 when absent). */
async function metric(name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${h.server.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').pop()) : 0;
}

async function startDevices(siteId: string, names: string[]) {
  const members = [];
  const devices: { deviceId: string; device: SimulatedWindowsDevice }[] = [];
  for (const name of names) {
    const d = await h.api('POST', '/api/v1/devices', { siteId, name, deviceType: 'server', os: 'Windows Server 2022' });
    expect(d.status).toBe(201);
    const device = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), os: 'server2022', seed: 7,
      missingKbs: KBS, exitCodes: Object.fromEntries(KBS.map((kb) => [kb, [0]])), rebootDurationMs: 300,
    });
    members.push({ device, enrollmentToken: d.body.enrollmentToken as string });
    devices.push({ deviceId: d.body.device.id as string, device });
  }
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: members, pollWaitSeconds: 2 });
  fleets.push(fleet);
  await fleet.ready;
  return devices;
}

async function installAll(devices: { deviceId: string }[]): Promise<{ workflowIds: string[]; results: InstallResult[] }> {
  const workflowIds = await Promise.all(devices.map(async ({ deviceId }) => {
    const r = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, { kbs: KBS });
    expect(r.status).toBe(202);
    return r.body.workflowId as string;
  }));
  return { workflowIds, results: await Promise.all(workflowIds.map((id) => h.client.workflow.getHandle(id).result() as Promise<InstallResult>)) };
}

test('50 devices at one site install 3 patches through the cache: the origin serves each file once, every hash check passes', async () => {
  const c = await h.api('POST', '/api/v1/clients', { name: `Cache Co ${Date.now()}` });
  // The setting is checked at the API: an unknown source is a 422 naming the field, and nothing is made.
  const bad = await h.api('POST', `/api/v1/clients/${c.body.id}/sites`, { name: 'Branch', fileSource: { source: 'ftp' } });
  expect(bad.status).toBe(422);
  expect(bad.body.error).toMatch(/^body\.fileSource\.source: "ftp" is not a file source/);
  expect((await h.api('GET', `/api/v1/sites?clientId=${c.body.id}`)).body.sites).toEqual([]);
  const site = await h.api('POST', `/api/v1/clients/${c.body.id}/sites`, { name: 'Branch' });
  expect(site.body.fileSource).toEqual({ source: 'internet', fallback: true });
  const set = await h.api('PATCH', `/api/v1/sites/${site.body.id}`, { fileSource: { source: 'cache', fallback: false } });
  expect(set.status).toBe(200);
  expect(set.body.fileSource).toEqual({ source: 'cache', fallback: false });
  expect((await h.api('PATCH', `/api/v1/sites/${site.body.id}`, { fileSource: { source: 'carrier-pigeon' } })).status).toBe(422);
  const audit = await h.api('GET', '/api/v1/audit?action=site.file_source_set');
  expect(audit.body.entries.filter((e: any) => e.subject === site.body.id).map((e: any) => [e.details.from.source, e.details.to.source])).toEqual([['internet', 'cache']]);

  const names = Array.from({ length: DEVICES }, (_, i) => `CACHE-${String(i + 1).padStart(2, '0')}-${Date.now().toString(36)}`);
  const devices = await startDevices(site.body.id, names);
  const t0 = Date.now();
  const { workflowIds, results } = await installAll(devices);
  const seconds = (Date.now() - t0) / 1000;

  for (const r of results) {
    expect(r.outcome).toBe('succeeded');
    expect(r.patches.map((p) => p.status)).toEqual(KBS.map(() => 'installed'));
    // Each download says the cache served it, with nothing failed on the way.
    for (const p of r.patches) expect(p.download).toMatchObject({ servedBy: 'cache', bytes: 1024, fellBack: [] });
  }
  // The origin served each file exactly once, for 150 downloads.
  for (const kb of KBS) expect(originCount(kb)).toBe(1);
  // Every device ran each installer, whose hash it checked again right before running it.
  for (const { device } of devices) {
    expect(device.events.filter((e) => e.type === 'download').map((e) => e.detail)).toEqual(KBS.map(() => expect.stringMatching(/from cache, SHA-256 ok\)$/)));
    expect(device.events.filter((e) => e.type === 'execute').length).toBe(KBS.length);
  }
  expect(await metric('patchflow_file_cache_requests_total', '{result="miss"}')).toBe(3);
  expect(await metric('patchflow_file_cache_requests_total', '{result="hit"}')).toBe(DEVICES * KBS.length - 3);
  expect(await metric('patchflow_file_cache_origin_bytes_total')).toBe(3 * 1024);
  expect(await metric('patchflow_file_cache_served_bytes_total')).toBe(DEVICES * KBS.length * 1024);
  expect(await metric('patchflow_file_cache_hit_ratio')).toBeCloseTo((DEVICES * KBS.length - 3) / (DEVICES * KBS.length), 5);
  expect(await metric('patchflow_file_cache_files')).toBe(3);
  console.log(`file-sources: ${DEVICES} devices × ${KBS.length} patches through the cache in ${seconds.toFixed(1)} s; origin requests ${KBS.map(originCount).join('/')}`);
  // A history whose downloads carry source reports: the replay tests run the new code path.
  await maybeRecordHistory(h.client, workflowIds[0]!, 'deviceInstallWorkflow-file-source-cache');

  // A cached file corrupted on disk: the next download is a hash mismatch at the cache, which deletes
  // it and fetches the origin again; the device gets the catalog's bytes and never sees the corrupt ones.
  const victim = catalogFile(KBS[0]!);
  const stored = path.join(cacheDir, victim.sha256);
  fs.writeFileSync(stored, Buffer.from('corrupted on disk'));
  const [late] = await startDevices(site.body.id, [`CACHE-LATE-${Date.now().toString(36)}`]);
  const { results: [again] } = await installAll([late!]);
  expect(again!.outcome).toBe('succeeded');
  expect(again!.patches.every((p) => p.download?.servedBy === 'cache')).toBe(true);
  expect(await metric('patchflow_file_cache_requests_total', '{result="corrupt"}')).toBe(1);
  expect(originCount(KBS[0]!)).toBe(2);
  expect(originCount(KBS[1]!)).toBe(1);
  expect(sha256(fs.readFileSync(stored))).toBe(victim.sha256);
  const executed = late!.device.events.filter((e) => e.type === 'execute' && e.kb === KBS[0]);
  expect(executed).toHaveLength(1);
  const downloadResult = late!.device.events.find((e) => e.type === 'download' && e.kb === KBS[0]);
  expect(downloadResult?.detail).toMatch(/1024 bytes from cache, SHA-256 ok/);
});

test('the file route: only catalog files, by hash, with the device credential', async () => {
  const client = await h.api('POST', '/api/v1/clients', { name: `Route Co ${Date.now()}` });
  const site = await h.api('POST', `/api/v1/clients/${client.body.id}/sites`, { name: 'HQ' });
  await startDevices(site.body.id, [`ROUTE-${Date.now().toString(36)}`]);
  const noCredential = await fetch(`${h.server.url}/agent/v1/files/${catalogFile(KBS[1]!).sha256}`);
  expect(noCredential.status).toBe(401);
  const fleetAgent = fleets[fleets.length - 1]!.agents[0]!;
  const auth = { authorization: `Bearer ${fleetAgent.credential}` };
  const unknown = await fetch(`${h.server.url}/agent/v1/files/${'0'.repeat(64)}`, { headers: auth });
  expect(unknown.status).toBe(404);
  const notAHash = await fetch(`${h.server.url}/agent/v1/files/..%2F..%2Fetc%2Fpasswd`, { headers: auth });
  expect(notAHash.status).toBe(400);
  const ok = await fetch(`${h.server.url}/agent/v1/files/${catalogFile(KBS[1]!).sha256}`, { headers: auth });
  expect(ok.status).toBe(200);
  expect(ok.headers.get('x-patchflow-cache')).toBe('hit');
  expect(sha256(Buffer.from(await ok.arrayBuffer()))).toBe(catalogFile(KBS[1]!).sha256);
});
