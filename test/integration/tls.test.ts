import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { pinnedFetch } from '../../agent/transport';
import { startServer, type RunningServer } from '../../api/app';
import { ensureDevCertificate, loadServerTls, type ServerTls } from '../../config/tls';
import { ConnectionError, PatchflowApi } from '../../cli/api-client';
import type { InstallResult } from '../../workflows/install.contract';
import { API_KEY, eventually, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

const SECURITY = 'KB5034439'; // a Server 2022 security update from the simulator's catalog

let h: Harness;
let certA: ServerTls & { path: string };
let certB: ServerTls & { path: string };
/** A second gateway on the same database and Temporal, presenting certificate B (an impostor's, or a misdirected URL). */
let serverB: RunningServer;
const fleets: SimulatedFleet[] = [];

/** Two self-signed certificates for the same names (127.0.0.1, localhost), as `npm start` makes them. */
async function certificate(dir: string): Promise<ServerTls & { path: string }> {
  const made = await ensureDevCertificate(dir);
  return { ...loadServerTls({ TLS_CERT_PATH: made.certPath, TLS_KEY_PATH: made.keyPath })!, path: made.certPath };
}

beforeAll(async () => {
  const scratch = fs.mkdtempSync(path.join(process.env.PATCHFLOW_TEST_SCRATCH!, 'tls-'));
  certA = await certificate(path.join(scratch, 'a'));
  certB = await certificate(path.join(scratch, 'b'));
  h = await startHarness({ tls: certA });
  serverB = await startServer(
    {
      db: h.db, databaseUrl: process.env.PATCHFLOW_TEST_DATABASE_URL!, client: h.client, log: pino({ level: 'silent' }), taskQueue: h.taskQueue,
      apiKey: API_KEY, pollWaitSeconds: 2, commandKeys: h.commandKeys, reportsDir: path.join(scratch, 'reports'),
    },
    { port: 0, tls: certB },
  );
});
afterAll(async () => {
  for (const f of fleets) await f.stop();
  await serverB?.stop();
  await h?.stop();
});

function device(name: string) {
  return new SimulatedWindowsDevice({
    id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), os: 'server2022', seed: 42,
    missingKbs: [SECURITY], rebootDurationMs: 500,
  });
}

function fleet(options: Parameters<typeof startSimulatedFleet>[0]): SimulatedFleet {
  const f = startSimulatedFleet(options);
  fleets.push(f);
  return f;
}

/** Every HTTP request server B answered, by route, read from its own Prometheus histogram. */
async function routesServerBSaw(): Promise<string[]> {
  const pinned = pinnedFetch(certB.cert);
  try {
    const res = await pinned.fetch(`${serverB.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } });
    expect(res.status).toBe(200);
    const lines = (await res.text()).split('\n').filter((l) => l.startsWith('patchflow_http_request_duration_seconds_count'));
    return lines.map((l) => /route="([^"]*)"/.exec(l)![1]!);
  } finally {
    await pinned.close();
  }
}

test('the server speaks HTTPS; an agent pinned to its certificate enrolls, scans and installs end to end', async () => {
  expect(h.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const { deviceId, enrollmentToken } = await h.createDevice('SRV-TLS-A');
  const sim = device('SRV-TLS-A');
  const f = fleet({ baseUrl: h.server.url, caCert: certA.cert, devices: [{ device: sim, enrollmentToken }], pollWaitSeconds: 2 });
  await f.ready;
  expect(f.agents[0]!.error).toBeUndefined();
  expect(f.agents[0]!.deviceId).toBe(deviceId);

  const started = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, { kbs: [SECURITY] });
  expect(started.status).toBe(202);
  const result = (await h.client.workflow.getHandle(started.body.workflowId).result()) as InstallResult;
  expect(result.outcome).toBe('succeeded');
  expect(result.patches).toEqual([expect.objectContaining({ kb: SECURITY, status: 'installed' })]);
  const patches = await h.api('GET', `/api/v1/devices/${deviceId}/patches`);
  expect((patches.body.patches as any[]).find((p) => p.kb === SECURITY)).toMatchObject({ status: 'installed' });
  expect(sim.isInstalled(SECURITY)).toBe(true);
});

test('pinned to certificate A, an agent refuses a server presenting certificate B: no token or credential reaches it', async () => {
  // Positive control: B counts what it answers (this request shows up below).
  const pinnedB = pinnedFetch(certB.cert);
  expect((await pinnedB.fetch(`${serverB.url}/healthz`)).status).toBe(200);
  await pinnedB.close();

  // A new device: its enrollment token must not be spent at B.
  const fresh = await h.createDevice('SRV-TLS-NEW');
  // An enrolled device (pinned to A): its credential must not be presented to B.
  const { deviceId, enrollmentToken } = await h.createDevice('SRV-TLS-OLD');
  const old = device('SRV-TLS-OLD');
  const enrolled = fleet({ baseUrl: h.server.url, caCert: certA.cert, devices: [{ device: old, enrollmentToken }], pollWaitSeconds: 2 });
  await enrolled.ready;
  const agent = enrolled.agents[0]!;
  await enrolled.stop();
  const checkIn = async (id: string) => (await h.db.query('SELECT last_check_in_at, credential_hash IS NOT NULL AS enrolled FROM devices WHERE id = $1', [id])).rows[0];
  const before = await checkIn(deviceId);

  const lines: string[] = [];
  const misdirected = fleet({
    baseUrl: serverB.url, caCert: certA.cert, pollWaitSeconds: 2,
    devices: [
      { device: device('SRV-TLS-NEW'), enrollmentToken: fresh.enrollmentToken },
      { device: old, credential: agent.credential, commandKeys: agent.commandKeys },
    ],
    log: (obj, msg) => lines.push(`${msg} ${String(obj.err ?? '')}`),
  });
  // Both agents try (and retry) and are refused by their own TLS check each time.
  await eventually(async () => (lines.filter((l) => l.includes('not the pinned one')).length >= 2 ? true : undefined), 20_000, 'both agents refusing B');
  expect(lines.some((l) => l.startsWith('enrollment failed') && l.includes('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe(true);
  expect(lines.some((l) => l.startsWith('poll failed') && l.includes('nothing was sent'))).toBe(true);
  await misdirected.stop();

  // B answered nothing but the control and never saw an agent's request.
  const seen = await routesServerBSaw();
  expect(seen).toContain('/healthz');
  expect(seen.filter((r) => r !== '/healthz')).toEqual([]);
  // The enrolled device did not check in anywhere; the new device's token is still unspent ...
  expect(await checkIn(deviceId)).toEqual(before);
  expect(await checkIn(fresh.deviceId)).toMatchObject({ enrolled: false, last_check_in_at: null });
  // ... and it enrolls at the real server, over its pinned certificate.
  const f = fleet({ baseUrl: h.server.url, caCert: certA.cert, devices: [{ device: device('SRV-TLS-NEW'), enrollmentToken: fresh.enrollmentToken }], pollWaitSeconds: 2 });
  await f.ready;
  expect(f.agents[0]!.deviceId).toBe(fresh.deviceId);
});

test('the operators\' CLI client talks HTTPS with the CA it is given, and refuses another certificate', async () => {
  const pinned = new PatchflowApi({ baseUrl: h.server.url, apiKey: API_KEY, caCert: certA.cert });
  const created = await pinned.createClient('TLS client');
  expect((await pinned.listClients()).map((c) => c.id)).toContain(created.id);

  const wrong = new PatchflowApi({ baseUrl: h.server.url, apiKey: API_KEY, caCert: certB.cert });
  const refused = await wrong.listClients().then(() => undefined, (err: unknown) => err);
  expect(refused).toBeInstanceOf(ConnectionError);
  expect((refused as Error).message).toMatch(/TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\).*--ca-cert/);
  // Without a pinned certificate the system's CAs decide, and none of them signed the dev certificate.
  const system = await new PatchflowApi({ baseUrl: h.server.url, apiKey: API_KEY }).listClients().then(() => undefined, (err: unknown) => err);
  expect(system).toBeInstanceOf(ConnectionError);
});
