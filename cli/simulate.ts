/**
 * `patchflow agent --simulate <n>`: registers simulated devices through the operators' API and runs
 * their agents in this process until Ctrl-C. The agents talk to the agent gateway (/agent/v1) of the
 * same server, exactly as real endpoints would.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet, type FleetMember } from '../agent/fleet';
import { ALL_OS, type DeviceOs } from '../agent/catalog';
import { seedFromText } from '../agent/prng';
import { SimulatedWindowsDevice } from '../agent/simulated-device';
import type { DeviceRow } from '../db/fleet-repository';
import type { PinnedCommandKey } from '../domain/command-envelope';
import { checkTransport } from '../agent/transport';
import type { PatchflowApi } from './api-client';
import type { DeviceType } from './format';

export interface SimulateOptions {
  apiUrl: string;
  count: number;
  clientName: string;
  siteName: string;
  /** only this kind of device; unset: a mix of servers and workstations */
  type?: DeviceType;
  seed?: number;
  /** each device's sandbox is <sandboxRoot>/<device name>; credentials.json sits next to them */
  sandboxRoot: string;
  pollWaitSeconds: number;
  verbose: boolean;
  /** PEM the https:// gateway must present (--ca-cert): every agent pins it and refuses any other */
  caCert?: string;
  /** --insecure-http: credentials may go over http:// to a host that is not loopback */
  allowInsecureHttp?: boolean;
}

interface Output { say(line: string): void; warn(line: string): void }

/** A mix of Windows kinds: by --type, else alternating servers and workstations. */
export function osFor(index: number, type?: DeviceType): DeviceOs {
  const kinds: DeviceOs[] = type === 'server' ? ['server2022', 'server2019']
    : type === 'workstation' ? ['win11', 'win10']
      : ['server2022', 'win11', 'server2019', 'win10'];
  return kinds[index % kinds.length]!;
}

export const deviceTypeOf = (os: DeviceOs): DeviceType => (os.startsWith('server') ? 'server' : 'workstation');
export const simName = (n: number): string => `SIM-${String(n).padStart(3, '0')}`;

/**
 * Credentials survive restarts in <sandboxRoot>/credentials.json (mode 0600), so running the command
 * again re-uses SIM-001… instead of registering new devices each time: the API shows an enrollment
 * token only once and a device enrolls only once.
 */
type SavedCredentials = Record<string, { name: string; credential: string; commandKeys?: PinnedCommandKey[] }>;
const credentialsFile = (root: string) => path.join(root, 'credentials.json');

function loadCredentials(root: string): SavedCredentials {
  try {
    return JSON.parse(fs.readFileSync(credentialsFile(root), 'utf8')) as SavedCredentials;
  } catch {
    return {};
  }
}

function saveCredentials(root: string, saved: SavedCredentials): void {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(credentialsFile(root), JSON.stringify(saved, null, 2), { mode: 0o600 });
}

async function ensureClientAndSite(api: PatchflowApi, clientName: string, siteName: string) {
  const client = (await api.listClients()).find((c) => c.name === clientName) ?? (await api.createClient(clientName));
  const site = (await api.listSites(client.id)).find((s) => s.name === siteName) ?? (await api.createSite(client.id, siteName));
  return { client, site };
}

interface Planned { member: FleetMember; deviceId: string; reused: boolean }

/**
 * Picks SIM-001, SIM-002, … in the site: an existing one is re-used when its credential was saved
 * (and its type fits --type); one whose credential is lost is skipped; a free name is registered.
 */
async function planDevices(api: PatchflowApi, siteId: string, options: SimulateOptions, saved: SavedCredentials, out: Output): Promise<Planned[]> {
  const existing = new Map<string, DeviceRow>((await api.listDevices({ siteId })).map((d) => [d.name.toUpperCase(), d]));
  const planned: Planned[] = [];
  for (let n = 1; planned.length < options.count; n++) {
    if (n > 999) throw new Error(`no free SIM-### name left in this site for ${options.count} devices`);
    const name = simName(n);
    const row = existing.get(name);
    let os = osFor(planned.length, options.type);
    let deviceId: string;
    let credential: string | undefined;
    let commandKeys: PinnedCommandKey[] | undefined;
    let enrollmentToken: string | undefined;
    if (row) {
      if (options.type && row.deviceType !== options.type) continue;
      const cred = saved[row.id]?.credential;
      if (!cred) {
        if (options.verbose) out.warn(`${name} exists but its credential was not saved here; skipping it`);
        continue;
      }
      // The keys are the agent's trust: never fetched again from the server, so one saved without them is lost.
      if (!saved[row.id]?.commandKeys?.length) {
        if (options.verbose) out.warn(`${name} was saved without its pinned command keys (an agent from before signed commands); skipping it`);
        continue;
      }
      if (row.os && (ALL_OS as readonly string[]).includes(row.os)) os = row.os as DeviceOs;
      deviceId = row.id;
      credential = cred;
      commandKeys = saved[row.id]!.commandKeys;
    } else {
      const created = await api.createDevice({ siteId, name, deviceType: deviceTypeOf(os), os });
      deviceId = created.device.id;
      enrollmentToken = created.enrollmentToken;
    }
    const device = new SimulatedWindowsDevice({
      id: deviceId, // the server's id: each device is missing a different set of patches by default
      name,
      os,
      sandboxDir: path.join(options.sandboxRoot, name),
      // The site's LAN share file source: one folder for all of this site's simulated devices.
      lanShareDir: path.join(options.sandboxRoot, 'lan-share', siteId),
      // What it installed, its journal and boot id survive a restart of this command, as on a real machine.
      stateFile: path.join(options.sandboxRoot, name, 'device-state.json'),
      seed: options.seed === undefined ? undefined : seedFromText(`${options.seed}:${name}`),
      // Slower than the simulator's test defaults, so `install show --watch` can see the steps.
      downloadDurationMs: 500,
      executeDurationMs: 1000,
      rebootDurationMs: 5000,
    });
    planned.push({ member: { device, credential, commandKeys, enrollmentToken }, deviceId, reused: !!credential });
  }
  return planned;
}

/** Resolves when SIGINT/SIGTERM arrives (a second Ctrl-C exits at once) or when `done` settles. */
function untilInterrupted(done: Promise<unknown>): Promise<string> {
  return new Promise((resolve) => {
    let count = 0;
    const onSignal = (signal: string) => {
      if (++count > 1) process.exit(130);
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    done.then(() => resolve('done'), () => resolve('done'));
  });
}

/** Runs the simulated fleet; resolves with the process exit code once it has stopped. */
export async function runSimulatedAgents(api: PatchflowApi, options: SimulateOptions, out: Output): Promise<number> {
  // Before any device is registered: agents that may not talk to this URL would leave tokens unused.
  checkTransport(options.apiUrl, options);
  const { client, site } = await ensureClientAndSite(api, options.clientName, options.siteName);
  const saved = loadCredentials(options.sandboxRoot);
  const planned = await planDevices(api, site.id, options, saved, out);
  const byName = new Map(planned.map((p) => [p.member.device.name, p]));
  out.say(`Running ${planned.length} simulated agent${planned.length === 1 ? '' : 's'} for ${client.name} / ${site.name} against ${options.apiUrl} (Ctrl-C stops)`);

  let stopped = 0;
  let allStopped!: () => void;
  const allAgentsStopped = new Promise<void>((resolve) => { allStopped = resolve; });
  const line = (name: string, what: string) => {
    const p = byName.get(name);
    return `${name.padEnd(8)}  ${what}  device ${p?.deviceId ?? '?'}  ${p?.member.device.os ?? ''}`.trimEnd();
  };
  const fleet = startSimulatedFleet({
    baseUrl: options.apiUrl,
    caCert: options.caCert,
    allowInsecureHttp: options.allowInsecureHttp,
    devices: planned.map((p) => p.member),
    pollWaitSeconds: options.pollWaitSeconds,
    log: (obj, msg) => {
      const name = String(obj.device ?? '');
      if (msg === 'enrolled') out.say(line(name, 'enrolled'));
      else if (msg === 'agent stopped') {
        out.warn(`${name}: agent stopped: ${String(obj.err)}`);
        if (++stopped === planned.length) allStopped();
      } else if (options.verbose) out.say(`${name}: ${msg} ${JSON.stringify({ ...obj, device: undefined })}`);
    },
  });
  for (const p of planned) if (p.reused) out.say(line(p.member.device.name, 'online  '));

  const save = () => {
    fleet.agents.forEach((a, i) => {
      const deviceId = a.deviceId ?? planned[i]!.deviceId;
      if (a.error) delete saved[deviceId]; // refused by the gateway: the device was deleted, or another server
      else if (a.credential) saved[deviceId] = { name: a.device.name, credential: a.credential, commandKeys: a.commandKeys };
    });
    saveCredentials(options.sandboxRoot, saved);
  };
  fleet.ready.then(() => {
    save();
    out.say(`${planned.length === 1 ? 'The agent is' : `All ${planned.length} agents are`} polling. Start an install: patchflow install start <deviceId>`);
  }, () => save());

  const why = await untilInterrupted(allAgentsStopped);
  if (why !== 'done') out.say('stopping the simulated agents…');
  await fleet.stop();
  save();
  if (why === 'done') {
    out.warn('every simulated agent stopped with an error');
    return 1;
  }
  out.say(`stopped ${planned.length} simulated agent${planned.length === 1 ? '' : 's'}`);
  return 0;
}
