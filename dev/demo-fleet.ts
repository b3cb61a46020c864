import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { catalogFor } from '../agent/catalog';
import { startSimulatedFleet, type FleetMember, type SimulatedFleet } from '../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../agent/simulated-device';
import type { PinnedCommandKey } from '../domain/command-envelope';
import { demoApi } from './demo-policy';

/** One demo machine: where it lives and how its simulated Windows behaves. */
interface DemoDevice {
  client: string;
  site: string;
  name: string;
  type: 'server' | 'workstation';
  /** a newly enrolled machine: Initial Update rather than a plain install */
  initialUpdate?: boolean;
  sim: Omit<SimulatedDeviceOptions, 'id' | 'sandboxDir' | 'name'>;
}

/**
 * The demo fleet: three clients, two sites each, servers and workstations, with the field's usual
 * trouble sprinkled in (a failing installer, a corrupt download, a machine that drops off the network).
 */
function demoDevices(count: number): DemoDevice[] {
  const layout: [string, string][] = [
    ['Acme Manufacturing', 'HQ'], ['Acme Manufacturing', 'Plant 2'],
    ['Northwind Legal', 'Downtown'], ['Northwind Legal', 'Remote'],
    ['Contoso Clinics', 'Main Street'], ['Contoso Clinics', 'Lakeside'],
  ];
  // Each trouble names security updates (approved by the demo policy) so that the install meets it.
  const trouble: DemoDevice['sim'][] = [
    {},
    { exitCodes: { KB5034439: [0x80070643], KB5034232: [0x80070643] }, missingKbs: ['KB5034439', 'KB5034232'] },
    { offline: [{ afterCommand: 'download', durationMs: 20_000 }] },
    { corruptDownloads: ['KB2918614'], missingKbs: ['KB2918614'] },
    {},
    { exitCodes: { KB2918614: [1618, 0] }, missingKbs: ['KB2918614'] },
  ];
  const devices: DemoDevice[] = [];
  for (let i = 0; i < count; i++) {
    const [client, site] = layout[i % layout.length];
    const server = i % 3 !== 2;
    const os = server ? (i % 2 === 0 ? 'server2022' : 'server2019') : (i % 2 === 0 ? 'win11' : 'win10');
    const prefix = client.split(' ')[0].toUpperCase().slice(0, 4);
    devices.push({
      client, site, type: server ? 'server' : 'workstation',
      name: `${prefix}-${server ? 'SRV' : 'WS'}-${String(i + 1).padStart(2, '0')}`,
      sim: {
        os, seed: 1000 + i, rebootDurationMs: 8_000, executeDurationMs: 1_500, downloadDurationMs: 800, ...trouble[i % trouble.length],
        // An administrator logged on by RDP who postpones the restart twice (Acme's schedule allows two
        // postponements, then forces it: issue 14 part 4).
        ...(i === 0 ? { userLoggedOn: true, defersReboots: 2 } : {}),
      },
    });
  }
  // A machine that just joined Acme: never patched, it gets an Initial Update instead of an install.
  devices.push({
    client: 'Acme Manufacturing', site: 'HQ', type: 'workstation', name: 'ACME-WS-NEW', initialUpdate: true,
    sim: { os: 'win10', seed: 999, rebootDurationMs: 5_000, executeDurationMs: 500, downloadDurationMs: 200,
      missingKbs: catalogFor('win10').map((u) => u.kb), prerequisites: { KB5035845: 'KB5031539' } },
  });
  return devices;
}

interface SavedAgent { deviceId: string; credential: string; commandKeys?: PinnedCommandKey[] }

 
type Api = (method: string, urlPath: string, body?: unknown) => Promise<any>;

/** Finds or creates a client, site and device through the API; a new device comes with its enrollment token. */
async function ensureDevice(api: Api, d: DemoDevice): Promise<{ deviceId: string; siteId: string; enrollmentToken?: string }> {
  type Named = { id: string; name: string };
  const { clients } = (await api('GET', '/api/v1/clients')) as { clients: Named[] };
  const client: Named = clients.find((c) => c.name === d.client) ?? (await api('POST', '/api/v1/clients', { name: d.client }));
  const { sites } = (await api('GET', `/api/v1/sites?clientId=${client.id}`)) as { sites: Named[] };
  const site: Named = sites.find((s) => s.name === d.site) ?? (await api('POST', `/api/v1/clients/${client.id}/sites`, { name: d.site }));
  const { devices } = (await api('GET', `/api/v1/devices?siteId=${site.id}`)) as { devices: Named[] };
  const existing = devices.find((x) => x.name === d.name);
  if (existing) return { deviceId: existing.id, siteId: site.id };
  const created: { device: { id: string }; enrollmentToken: string } = await api('POST', '/api/v1/devices', {
    siteId: site.id, name: d.name, deviceType: d.type, os: d.sim.os,
  });
  return { deviceId: created.device.id, siteId: site.id, enrollmentToken: created.enrollmentToken };
}

export interface DemoFleet {
  fleet: SimulatedFleet;
  /** devices that get a plain install */
  deviceIds: string[];
  /** newly enrolled devices that get an Initial Update */
  newMachineIds: string[];
  stop(): Promise<void>;
}

/**
 * Registers the demo devices (once; their credentials are kept in DATA_DIR so the next `npm start`
 * re-uses them) and runs their simulated agents in this process.
 */
export async function startDemoFleet(options: {
  apiUrl: string; apiKey: string; dataDir: string; count: number; log: Logger;
  /** the API's certificate: every demo agent pins it (and the demo's own calls trust only it) */
  caCert: string;
  fetch: typeof fetch;
  /**
   * The server's command keys, for demo agents saved before commands were signed: handed over here, out
   * of band, as an installer would bake them in (never taken from the gateway, which would defeat pinning).
   */
  commandKeys: PinnedCommandKey[];
}): Promise<DemoFleet> {
  const api: Api = demoApi(options.apiUrl, options.apiKey, options.fetch);
  const savedFile = path.join(options.dataDir, 'demo-agents.json');
  const saved: Record<string, SavedAgent> = fs.existsSync(savedFile) ? JSON.parse(fs.readFileSync(savedFile, 'utf8')) : {};

  const members: FleetMember[] = [];
  const deviceIds: string[] = [];
  const newMachineIds: string[] = [];
  const order: string[] = [];
  for (const d of demoDevices(options.count)) {
    const { deviceId, siteId, enrollmentToken } = await ensureDevice(api, d);
    const credential = saved[d.name]?.deviceId === deviceId ? saved[d.name].credential : undefined;
    if (!credential && !enrollmentToken) {
      options.log.warn({ device: d.name }, 'demo device exists but its credential is lost; skipping it');
      continue;
    }
    // lanShareDir: the site's LAN share file source, one folder per site for its simulated devices.
    const base = { id: d.name.toLowerCase(), name: d.name, sandboxDir: path.join(options.dataDir, 'simulated-agents', d.name), lanShareDir: path.join(options.dataDir, 'simulated-agents', 'lan-share', siteId), ...d.sim };
    // The trouble's KBs come on top of what the seed leaves missing (where they apply to this OS).
    const seeded = new SimulatedWindowsDevice({ ...base, missingKbs: undefined }).missingKbs();
    // Its state file keeps what it installed across restarts of `npm start` (then missingKbs no longer applies).
    const device = new SimulatedWindowsDevice({ ...base, missingKbs: [...new Set([...seeded, ...(d.sim.missingKbs ?? [])])], stateFile: path.join(base.sandboxDir, 'device-state.json') });
    const commandKeys = credential ? (saved[d.name].commandKeys ?? options.commandKeys) : undefined;
    members.push({ device, credential, commandKeys, enrollmentToken: credential ? undefined : enrollmentToken });
    (d.initialUpdate ? newMachineIds : deviceIds).push(deviceId);
    order.push(deviceId);
  }

  const fleet = startSimulatedFleet({
    baseUrl: options.apiUrl,
    caCert: options.caCert,
    devices: members,
    pollWaitSeconds: 20,
    log: (obj, msg) => options.log.debug({ component: 'simulated-agent', ...obj }, msg),
  });
  await fleet.ready;
  fleet.agents.forEach((a, i) => {
    if (a.credential) saved[a.device.name] = { deviceId: a.deviceId ?? order[i], credential: a.credential, commandKeys: a.commandKeys };
  });
  fs.mkdirSync(options.dataDir, { recursive: true });
  fs.writeFileSync(savedFile, JSON.stringify(saved, null, 2), { mode: 0o600 });
  return { fleet, deviceIds, newMachineIds, stop: () => fleet.stop() };
}
