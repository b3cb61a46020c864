import { performance } from 'node:perf_hooks';
import type {
  ApprovalDevice, ApprovalModel, ApprovalPatch, ApprovalPolicy, ApprovalStatus, DevicePatchState, InstallType,
  PatchAction, PolicyApproval,
} from '../domain/approval-model';
import { mulberry32 } from '../agent/prng';
import { type DeviceStates, resolveFleet } from '../domain/approval-resolver';

/** Seeded, so every run resolves the same model. */
const rng = mulberry32;

const CLASSIFICATIONS = [
  'Security Updates', 'Critical Updates', 'Service Packs', 'Update Rollups', 'Updates', 'Feature Packs',
  'Definition Updates', 'Tools', 'Drivers',
];
const PRODUCTS = [
  'Windows 10', 'Windows 11', 'Windows Server 2016', 'Windows Server 2019', 'Windows Server 2022', 'Office 2016',
  'Microsoft 365 Apps', 'Exchange Server 2019', 'SQL Server 2019', 'SQL Server 2022', '.NET Framework',
  'Microsoft Defender Antivirus', 'Visual Studio 2022', 'Edge', 'Silverlight', 'SharePoint Server 2019',
];

/**
 * A realistic fleet: `clients` clients × 3 sites, servers (1 in 5) and workstations; production
 * policies per device type (Kaseya's recommended defaults, switches on), a pilot policy for one site
 * in ten, and their own policy for one client in ten, so devices sit in 1–3 policies; most patches
 * stamped or set explicitly; a few KB overrides; a few hundred actions at every scope level.
 */
export function buildResolverModel(devices: number, patches: number, seed = 2026): { model: ApprovalModel; states: DeviceStates } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const clients = Math.max(1, Math.min(200, Math.ceil(devices / 50)));
  const statuses: ApprovalStatus[] = ['approved', 'pending_approval', 'denied'];

  const patchList: ApprovalPatch[] = Array.from({ length: patches }, (_, i) => ({
    updateId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    kb: `KB${5000000 + Math.floor(i / 3)}`,
    title: `Update ${i}`,
    classification: pick(CLASSIFICATIONS),
    product: pick(PRODUCTS),
    // no severity draw: the seeded model stays the one earlier runs measured
    severity: 'Unrated',
    installType: (r() < 0.03 ? 'manual_install_only' : r() < 0.03 ? 'windows_update_web_site' : 'normal') as InstallType,
    supersededBy: r() < 0.15 ? `KB${4000000 + i}` : null,
    uninstallable: r() < 0.6,
  }));

  const recommended = new Map<string, ApprovalStatus>(CLASSIFICATIONS.map((c) => [c, 'pending_approval']));
  recommended.set('Security Updates', 'approved').set('Critical Updates', 'approved').set('Service Packs', 'denied');
  const mkPolicy = (id: string, name: string, over: Partial<ApprovalPolicy>, explicitShare: number): ApprovalPolicy => {
    const approvals = new Map<string, PolicyApproval>();
    for (const p of patchList) {
      const x = r();
      if (x < explicitShare) approvals.set(p.updateId, { status: pick(statuses), source: 'explicit', note: 'bench' });
      else if (x < 0.9) approvals.set(p.updateId, { status: recommended.get(p.classification)!, source: 'default', note: `classification '${p.classification}'` });
    }
    return {
      id, name, denyManualInstallOnly: false, denyWindowsUpdateWebSite: false, denySuperseded: false,
      approvals, classificationDefaults: recommended, kaseyaClassificationDefaults: new Map(), productDefaults: new Map(), fallbackDefault: 'pending_approval', ...over,
    };
  };
  const policies: ApprovalPolicy[] = [
    mkPolicy('prod-server', 'D - Production - Server', { denyManualInstallOnly: true, denyWindowsUpdateWebSite: true, denySuperseded: true,
      productDefaults: new Map([['SQL Server 2019', 'denied'], ['Exchange Server 2019', 'pending_approval']]) }, 0.3),
    mkPolicy('prod-ws', 'D - Production - Workstation', { denyManualInstallOnly: true,
      productDefaults: new Map([['Microsoft Defender Antivirus', 'approved'], ['Edge', 'approved']]) }, 0.2),
    mkPolicy('pilot', 'T - Pilot', { fallbackDefault: 'approved' }, 0.5),
    mkPolicy('dc', 'Domain Controllers', { denySuperseded: true }, 0.4),
    mkPolicy('acme', 'Acme - Strict', { fallbackDefault: 'denied', denySuperseded: true }, 0.1),
    mkPolicy('globex', 'Globex - Relaxed', { classificationDefaults: new Map([['Updates', 'approved'], ['Update Rollups', 'approved']]) }, 0.1),
    mkPolicy('finance', 'Finance - Change Board', { fallbackDefault: 'denied' }, 0.6),
    mkPolicy('labs', 'Labs - Everything', { fallbackDefault: 'approved', classificationDefaults: new Map() }, 0.05),
  ];
  const ownPolicy = ['acme', 'globex', 'finance', 'labs'];

  const deviceList: ApprovalDevice[] = Array.from({ length: devices }, (_, i) => {
    const client = i % clients;
    const site = client * 3 + (Math.floor(i / clients) % 3);
    const deviceType = i % 5 === 0 ? 'server' : 'workstation';
    const policyIds = [deviceType === 'server' ? 'prod-server' : 'prod-ws'];
    if (site % 10 === 0) policyIds.push('pilot');
    if (client % 10 === 1) policyIds.push(ownPolicy[client % ownPolicy.length]);
    if (deviceType === 'server' && i % 25 === 0) policyIds.push('dc');
    return { id: `dev-${i}`, name: `${deviceType === 'server' ? 'SRV' : 'WS'}-${i}`, siteId: `site-${site}`, clientId: `client-${client}`, deviceType, policyIds };
  });

  const actionKinds: PatchAction[] = ['approve', 'ignore', 'do_nothing', 'reprocess_failed', 'uninstall', 'inherit'];
  const actions = new Map<string, Map<string, PatchAction>>();
  const addActions = (key: string, count: number) => {
    const m = actions.get(key) ?? new Map<string, PatchAction>();
    for (let k = 0; k < count; k++) m.set(pick(patchList).updateId, pick(actionKinds));
    actions.set(key, m);
  };
  addActions('device_type:server', 40);
  addActions('device_type:workstation', 40);
  for (let k = 0; k < 60; k++) addActions(`client:client-${Math.floor(r() * clients)}`, 5);
  for (let k = 0; k < 100; k++) addActions(`site:site-${Math.floor(r() * clients * 3)}`, 3);
  for (let k = 0; k < 150; k++) addActions(`device:${pick(deviceList).id}`, 2);

  const kbOverrides = new Map<string, ApprovalStatus>([
    ['KB890830', 'approved'], ...Array.from({ length: 10 }, () => [pick(patchList).kb, pick(statuses)] as [string, ApprovalStatus]),
  ]);
  const names = {
    sites: new Map(Array.from({ length: clients * 3 }, (_, s) => [`site-${s}`, `Site ${s}`])),
    clients: new Map(Array.from({ length: clients }, (_, c) => [`client-${c}`, `Client ${c}`])),
  };
  // asked only for Uninstall actions: every other patch installed
  const states: DeviceStates = (deviceId, updateId): DevicePatchState =>
    ({ status: (deviceId.length + updateId.charCodeAt(updateId.length - 1)) % 2 === 0 ? 'installed' : 'missing', failedAttempts: 0 });
  return { model: { patches: patchList, devices: deviceList, policies, kbOverrides, actions, names }, states };
}

/**
 * `npm run bench -- resolver [--devices N] [--patches N]`: resolves every (device, patch) decision of a
 * seeded fleet with resolveFleet, in this process, single-threaded. Model construction is timed apart.
 */
export function resolverBench(devices = 10000, patches = 3000): void {
  const t0 = performance.now();
  const { model, states } = buildResolverModel(devices, patches);
  const buildMs = performance.now() - t0;
  const t1 = performance.now();
  const fleet = resolveFleet(model, states);
  const seconds = (performance.now() - t1) / 1000;
  const c = fleet.counts();
  const actionCount = [...model.actions.values()].reduce((n, m) => n + m.size, 0);
  console.log(`model: ${devices} devices, ${patches} patches, ${model.policies.length} policies, ${actionCount} scoped actions, `
    + `${model.kbOverrides.size} KB overrides; built in ${(buildMs / 1000).toFixed(2)} s`);
  console.log(`decisions: approved ${c.approved}, pending_approval ${c.pending_approval}, denied ${c.denied}, `
    + `ignored ${c.ignored}, uninstall ${c.uninstall} (reprocess failed ${c.reprocessFailed})`);
  console.log(`resolver: ${fleet.size} decisions in ${seconds.toFixed(2)} s`);
}
