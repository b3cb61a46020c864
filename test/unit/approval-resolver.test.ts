import { mulberry32 } from '../../agent/prng';
import {
  type ApprovalDecision, type ApprovalModel, type ApprovalPatch, type ApprovalPolicy, type ApprovalStatus, type Decision,
  type DevicePatchState, type PatchAction, type PolicyApproval, type ScopeLevel, installsAutomatically, installsOnRequest,
} from '../../domain/approval-model';
import {
  type DeviceStates, automaticInstalls, explainDecision, requestableInstalls, resolveDevice, resolveFleet,
} from '../../domain/approval-resolver';
import { KASEYA_CLASSIFICATIONS } from '../../domain/kaseya-classification';

// Rows are readable against ../shared/DOMAIN-RULES.md (§1.1 actions, §1.2 scopes, §2.8 policies,
// §2.9 superseded) and Kaseya's best practices (seeds/003): a new policy approves Security and
// Critical Updates, denies Service Packs, and leaves everything else Pending Approval.

const patch = (over: Partial<ApprovalPatch> = {}): ApprovalPatch => ({
  updateId: 'u-1', kb: 'KB5000001', title: 'An update', classification: 'Updates', product: 'Windows Server 2022', severity: 'Unrated',
  installType: 'normal', supersededBy: null, uninstallable: true, ...over,
});

/** A policy with Kaseya's recommended defaults (seeds/003), plus what a row changes. */
const policy = (name: string, over: Partial<Omit<ApprovalPolicy, 'approvals'>> & { rows?: Record<string, PolicyApproval> } = {}): ApprovalPolicy => ({
  id: name, name, denyManualInstallOnly: false, denyWindowsUpdateWebSite: false, denySuperseded: false,
  classificationDefaults: new Map<string, ApprovalStatus>([
    ['Security Updates', 'approved'], ['Critical Updates', 'approved'], ['Service Packs', 'denied'],
    ['Updates', 'pending_approval'], ['Update Rollups', 'pending_approval'], ['Definition Updates', 'pending_approval'],
  ]),
  kaseyaClassificationDefaults: new Map(), productDefaults: new Map(), fallbackDefault: 'pending_approval',
  ...over,
  approvals: new Map(Object.entries(over.rows ?? {})),
});

const PROD = 'D - Production - Server';

interface Scenario {
  patch?: Partial<ApprovalPatch>;
  policies?: ApprovalPolicy[];
  /** the device's policies (default: all of `policies`) */
  policyIds?: string[];
  actions?: [ScopeLevel, PatchAction][];
  kbOverrides?: Record<string, ApprovalStatus>;
  /** the patch's state on the device; omit for no device states at all */
  state?: string;
  deviceType?: 'server' | 'workstation';
}

const SCOPE_ID: Record<ScopeLevel, (t: string) => string> = { device: () => 'dev-1', site: () => 's-hq', client: () => 'c-acme', device_type: (t) => t };

function build(s: Scenario): { model: ApprovalModel; states?: DeviceStates } {
  const p = patch(s.patch);
  const policies = s.policies ?? [];
  const deviceType = s.deviceType ?? 'server';
  const actions = new Map<string, Map<string, PatchAction>>();
  for (const [level, action] of s.actions ?? []) {
    actions.set(`${level}:${SCOPE_ID[level](deviceType)}`, new Map([[p.updateId, action]]));
  }
  const model: ApprovalModel = {
    patches: [p],
    devices: [{ id: 'dev-1', name: 'SRV-01', siteId: 's-hq', clientId: 'c-acme', deviceType, policyIds: s.policyIds ?? policies.map((x) => x.id) }],
    policies,
    kbOverrides: new Map(Object.entries(s.kbOverrides ?? {})),
    actions,
    names: { sites: new Map([['s-hq', 'HQ']]), clients: new Map([['c-acme', 'Acme']]) },
  };
  const states = s.state === undefined ? undefined
    : (_d: string, _u: string): DevicePatchState => ({ status: s.state!, failedAttempts: 0 });
  return { model, states };
}

const explicit = (status: ApprovalStatus): PolicyApproval => ({ status, source: 'explicit' });
const stamped = (status: ApprovalStatus, note?: string): PolicyApproval => ({ status, source: 'default', note });

type Row = [rule: string, scenario: Scenario, expected: Partial<ApprovalDecision> & { decision: Decision }];

const policyRows: Row[] = [
  ['§2.8 no policy: every missing patch installs', { patch: { classification: 'Service Packs' } },
    { decision: 'approved', reason: 'Approved: device is in no approval policy: every missing patch installs' }],
  ['§2.8 a KB Override applies only where a policy is assigned', { kbOverrides: { KB5000001: 'denied' } },
    { decision: 'approved', reason: 'Approved: device is in no approval policy: every missing patch installs' }],
  ['seed 003: Security Updates default Approved', { policies: [policy(PROD)], patch: { classification: 'Security Updates' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': new patch, classification 'Security Updates' default` }],
  ['seed 003: Critical Updates default Approved', { policies: [policy(PROD)], patch: { classification: 'Critical Updates' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': new patch, classification 'Critical Updates' default` }],
  ['seed 003: Service Packs default Denied', { policies: [policy(PROD)], patch: { classification: 'Service Packs' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': new patch, classification 'Service Packs' default` }],
  ['seed 003: every other classification Pending Approval', { policies: [policy(PROD)], patch: { classification: 'Updates' } },
    { decision: 'pending_approval', reason: `Pending Approval by policy '${PROD}': new patch, classification 'Updates' default` }],
  ['§2.8 no classification or product default: the policy fallback', { policies: [policy(PROD)], patch: { classification: 'Drivers' } },
    { decision: 'pending_approval', reason: `Pending Approval by policy '${PROD}': new patch, the policy's fallback default` }],
  ['rule 5: a stamped status stands when the default changed later',
    { policies: [policy(PROD, { rows: { 'u-1': stamped('approved', "classification 'Updates'") } })], patch: { classification: 'Updates' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': classification 'Updates' default` }],
  ['rule 4: a product default beats the classification default (approves)',
    { policies: [policy(PROD, { productDefaults: new Map([['Microsoft Defender Antivirus', 'approved']]) })],
      patch: { classification: 'Definition Updates', product: 'Microsoft Defender Antivirus' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': new patch, product 'Microsoft Defender Antivirus' default` }],
  ['rule 4: a product default beats the classification default (denies)',
    { policies: [policy(PROD, { productDefaults: new Map([['Exchange Server 2019', 'denied']]) })],
      patch: { classification: 'Security Updates', product: 'Exchange Server 2019' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': new patch, product 'Exchange Server 2019' default` }],
  ['rule 4: a product default for another product changes nothing',
    { policies: [policy(PROD, { productDefaults: new Map([['Exchange Server 2019', 'denied']]) })], patch: { classification: 'Security Updates' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': new patch, classification 'Security Updates' default` }],
  ['Kaseya: a Kaseya classification default beats the classification default (leaves Low pending)',
    { policies: [policy(PROD, { kaseyaClassificationDefaults: new Map([['Security Update - Low (High Priority)', 'pending_approval']]) })],
      patch: { classification: 'Security Updates', severity: 'Low' } },
    { decision: 'pending_approval', reason: `Pending Approval by policy '${PROD}': new patch, Kaseya classification 'Security Update - Low (High Priority)' default` }],
  ['Kaseya: the classification default still covers the severities without a Kaseya default',
    { policies: [policy(PROD, { kaseyaClassificationDefaults: new Map([['Security Update - Low (High Priority)', 'pending_approval']]) })],
      patch: { classification: 'Security Updates', severity: 'Critical' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': new patch, classification 'Security Updates' default` }],
  ['Kaseya: Critical approved by its Kaseya default while Security Updates stay pending',
    { policies: [policy(PROD, {
      classificationDefaults: new Map([['Security Updates', 'pending_approval']]),
      kaseyaClassificationDefaults: new Map([['Security Update - Critical (High Priority)', 'approved']]) })],
      patch: { classification: 'Security Updates', severity: 'Critical' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': new patch, Kaseya classification 'Security Update - Critical (High Priority)' default` }],
  ['Kaseya: an Unrated security update never takes the Critical row\'s approval',
    { policies: [policy(PROD, {
      classificationDefaults: new Map([['Security Updates', 'pending_approval']]),
      kaseyaClassificationDefaults: new Map([['Security Update - Critical (High Priority)', 'approved']]) })],
      patch: { classification: 'Security Updates', severity: 'Unrated' } },
    { decision: 'pending_approval', reason: `Pending Approval by policy '${PROD}': new patch, classification 'Security Updates' default` }],
  ['Kaseya: a product default beats a Kaseya classification default',
    { policies: [policy(PROD, {
      productDefaults: new Map([['Exchange Server 2019', 'denied']]),
      kaseyaClassificationDefaults: new Map([['Security Update - Critical (High Priority)', 'approved']]) })],
      patch: { classification: 'Security Updates', severity: 'Critical', product: 'Exchange Server 2019' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': new patch, product 'Exchange Server 2019' default` }],
  ['§2.8 an explicit approval beats the default',
    { policies: [policy(PROD, { rows: { 'u-1': explicit('approved') } })], patch: { classification: 'Service Packs' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': explicit approval` }],
  ['§2.8 an explicit denial beats the default',
    { policies: [policy(PROD, { rows: { 'u-1': explicit('denied') } })], patch: { classification: 'Security Updates' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': explicitly denied` }],
  ['rule 34: a KB Override beats an explicit approval',
    { policies: [policy(PROD, { rows: { 'u-1': explicit('approved') } })], kbOverrides: { KB5000001: 'denied' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': KB Override for KB5000001` }],
  ['rule 34: a KB Override approves every patch of its KB (MSRT), whatever the KB spelling',
    { policies: [policy(PROD, { rows: { 'u-1': explicit('denied') } })], kbOverrides: { kb890830: 'approved' }, patch: { kb: 'KB890830' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': KB Override for KB890830` }],
  ['§2.8 switch: "Manual Install Only" updates denied',
    { policies: [policy(PROD, { denyManualInstallOnly: true })], patch: { classification: 'Security Updates', installType: 'manual_install_only' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': "Manual Install Only" updates are denied` }],
  ['§2.8 switch: "Windows Update Web Site" updates denied',
    { policies: [policy(PROD, { denyWindowsUpdateWebSite: true })], patch: { classification: 'Security Updates', installType: 'windows_update_web_site' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': "Windows Update Web Site" updates are denied` }],
  ['§2.9 / rule 32 switch: superseded updates denied',
    { policies: [policy(PROD, { denySuperseded: true })], patch: { classification: 'Security Updates', supersededBy: 'KB951847' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': superseded updates are denied (superseded by KB951847)` }],
  ['§2.9 switch off: a superseded update keeps its default',
    { policies: [policy(PROD)], patch: { classification: 'Security Updates', supersededBy: 'KB951847' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': new patch, classification 'Security Updates' default` }],
  ['§2.8 a switch overrides a stamped default too',
    { policies: [policy(PROD, { denySuperseded: true, rows: { 'u-1': stamped('approved', "classification 'Security Updates'") } })],
      patch: { supersededBy: 'KB951847' } },
    { decision: 'denied', reason: `Denied by policy '${PROD}': superseded updates are denied (superseded by KB951847)` }],
  ['§2.8 a switch never overrides an explicit approval (manual install only)',
    { policies: [policy(PROD, { denyManualInstallOnly: true, rows: { 'u-1': explicit('approved') } })], patch: { installType: 'manual_install_only' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': explicit approval` }],
  ['§2.8 a switch never overrides an explicit approval (Windows Update web site)',
    { policies: [policy(PROD, { denyWindowsUpdateWebSite: true, rows: { 'u-1': explicit('approved') } })], patch: { installType: 'windows_update_web_site' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': explicit approval` }],
  ['§2.9 a switch never overrides an explicit approval (superseded)',
    { policies: [policy(PROD, { denySuperseded: true, rows: { 'u-1': explicit('approved') } })], patch: { supersededBy: 'KB951847' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': explicit approval` }],
  ['§2.8 a switch never overrides a KB Override',
    { policies: [policy(PROD, { denySuperseded: true })], patch: { supersededBy: 'KB951847' }, kbOverrides: { KB5000001: 'approved' } },
    { decision: 'approved', reason: `Approved by policy '${PROD}': KB Override for KB5000001` }],
  ['rule 8: most restrictive of two policies (Denied beats Approved), naming the denying one',
    { policies: [policy('Servers'), policy('Acme', { rows: { 'u-1': explicit('denied') } })], patch: { classification: 'Security Updates' } },
    { decision: 'denied', reason: "Denied by policy 'Acme': explicitly denied" }],
  ['rule 8: most restrictive of three (Pending beats Approved)',
    { policies: [policy('Servers'), policy('Acme', { rows: { 'u-1': explicit('pending_approval') } }), policy('Pilot')],
      patch: { classification: 'Critical Updates' } },
    { decision: 'pending_approval', reason: "Pending Approval by policy 'Acme': explicitly set to Pending Approval" }],
  ['rule 8: most restrictive of three (Denied beats Pending and Approved)',
    { policies: [policy('Servers', { rows: { 'u-1': explicit('approved') } }), policy('Acme'), policy('Pilot', { denySuperseded: true })],
      patch: { classification: 'Updates', supersededBy: 'KB951847' } },
    { decision: 'denied', reason: "Denied by policy 'Pilot': superseded updates are denied (superseded by KB951847)" }],
  ['rule 8: all policies approve: the first one is named',
    { policies: [policy('Servers'), policy('Acme')], patch: { classification: 'Security Updates' } },
    { decision: 'approved', reason: "Approved by policy 'Servers': new patch, classification 'Security Updates' default" }],
  ['a policy the model does not hold approves nothing',
    { policies: [policy(PROD)], policyIds: [PROD, 'gone'], patch: { classification: 'Security Updates' } },
    { decision: 'pending_approval', reason: "Pending Approval by policy 'gone': the policy is not loaded, so nothing is approved through it" }],
];

// The policy denies the Service Pack; actions by scope decide over it.
const sp = { policies: [policy(PROD)], patch: { classification: 'Service Packs' } };
const spDenied = `Denied by policy '${PROD}': new patch, classification 'Service Packs' default`;

const actionRows: Row[] = [
  ['§1.2 Inherit chain: device → site → client Approve', { ...sp, actions: [['device', 'inherit'], ['site', 'inherit'], ['client', 'approve']] },
    { decision: 'approved', reason: "Approved at client 'Acme'" }],
  ['§1.2 a site action beats the client one', { ...sp, actions: [['site', 'ignore'], ['client', 'approve']] },
    { decision: 'ignored', reason: "Ignored at site 'HQ'" }],
  ['§1.2 a site Approve beats a client Ignore', { ...sp, actions: [['site', 'approve'], ['client', 'ignore']] },
    { decision: 'approved', reason: "Approved at site 'HQ'" }],
  ['§1.2 device-type level: servers', { ...sp, actions: [['device_type', 'approve']] },
    { decision: 'approved', reason: 'Approved for all servers' }],
  ['§1.2 device-type level: workstations', { ...sp, deviceType: 'workstation', actions: [['device_type', 'ignore']] },
    { decision: 'ignored', reason: 'Ignored for all workstations' }],
  ['§1.2 a client action beats the device type', { ...sp, actions: [['client', 'approve'], ['device_type', 'ignore']] },
    { decision: 'approved', reason: "Approved at client 'Acme'" }],
  ['rule 3: Do Nothing stops the walk: the policy decides', { ...sp, actions: [['site', 'do_nothing'], ['client', 'approve']] },
    { decision: 'denied', reason: spDenied }],
  ['rule 7: Ignore on the device beats KB Override, explicit approval and a client Approve',
    { policies: [policy(PROD, { rows: { 'u-1': explicit('approved') } })], kbOverrides: { KB5000001: 'approved' },
      actions: [['device', 'ignore'], ['client', 'approve']] },
    { decision: 'ignored', reason: 'Ignored on device SRV-01' }],
  ['§1.2 a device Approve beats a device-type Ignore', { ...sp, actions: [['device', 'approve'], ['device_type', 'ignore']] },
    { decision: 'approved', reason: 'Approved on device SRV-01' }],
  ['§1.1 Reprocess failed: flag set, the policy decides', { ...sp, state: 'failed', actions: [['client', 'reprocess_failed']] },
    { decision: 'denied', reprocessFailed: true, reason: `${spDenied}; failed attempts reset by Reprocess failed at client 'Acme'` }],
  ['§1.1 Reprocess failed over an Approve further up: the policy still decides', { ...sp, actions: [['site', 'reprocess_failed'], ['client', 'approve']] },
    { decision: 'denied', reprocessFailed: true, reason: `${spDenied}; failed attempts reset by Reprocess failed at site 'HQ'` }],
  ['rule 42: Uninstall an installed, uninstallable patch', { ...sp, state: 'installed', actions: [['site', 'uninstall']] },
    { decision: 'uninstall', reason: "Uninstall at site 'HQ'" }],
  ['rule 42: Uninstall not applied: not uninstallable', { ...sp, patch: { classification: 'Service Packs', uninstallable: false }, state: 'installed', actions: [['site', 'uninstall']] },
    { decision: 'denied', reason: `${spDenied}; Uninstall at site 'HQ' not applied: the patch is not uninstallable` }],
  ['rule 42: Uninstall not applied: not installed', { ...sp, state: 'missing', actions: [['device', 'uninstall']] },
    { decision: 'denied', reason: `${spDenied}; Uninstall on device SRV-01 not applied: the patch is missing, not installed` }],
  ['rule 42: Uninstall not applied: no device state', { ...sp, actions: [['device', 'uninstall'], ['client', 'approve']] },
    { decision: 'denied', reason: `${spDenied}; Uninstall on device SRV-01 not applied: the patch's state on this device is unknown` }],
];

describe.each([['policies', policyRows], ['actions by scope', actionRows]])('explainDecision: %s', (_group, rows) => {
  test.each(rows)('%s', (_rule, scenario, expected) => {
    const { model, states } = build(scenario);
    const got = explainDecision(model, 'dev-1', 'u-1', states);
    expect(got).toEqual({ reprocessFailed: false, ...expected });
    // resolveFleet gives the same decision
    expect(resolveFleet(model, states).decisionOf('dev-1', 'u-1')).toEqual({ decision: got.decision, reprocessFailed: got.reprocessFailed });
  });
});

describe('installs by decision (rules 7, 9, 10)', () => {
  // one patch per decision on one device: auto installs only Approved; an explicit request anything but Ignore/Uninstall
  const patches = [
    patch({ updateId: 'approved', classification: 'Security Updates' }),
    patch({ updateId: 'pending', classification: 'Updates' }),
    patch({ updateId: 'denied', classification: 'Service Packs' }),
    patch({ updateId: 'ignored', classification: 'Security Updates' }),
    patch({ updateId: 'uninstall', classification: 'Security Updates' }),
  ];
  const model: ApprovalModel = {
    patches,
    devices: [{ id: 'dev-1', name: 'SRV-01', siteId: 's-hq', clientId: 'c-acme', deviceType: 'server', policyIds: [PROD] }],
    policies: [policy(PROD)],
    kbOverrides: new Map(),
    actions: new Map([['site:s-hq', new Map<string, PatchAction>([['ignored', 'ignore'], ['uninstall', 'uninstall']])]]),
    names: { sites: new Map(), clients: new Map() },
  };
  const states = new Map([['dev-1', new Map([['uninstall', { status: 'installed', failedAttempts: 0 }]])]]);

  test.each<[Decision, boolean, boolean]>([
    ['approved', true, true],
    ['pending_approval', false, true],
    ['denied', false, true],
    ['ignored', false, false],
    ['uninstall', false, false],
  ])('%s: automatically %s, on request %s', (decision, auto, onRequest) => {
    expect([installsAutomatically(decision), installsOnRequest(decision)]).toEqual([auto, onRequest]);
  });

  test('automaticInstalls and requestableInstalls list the device\'s update ids', () => {
    const fleet = resolveDevice(model, 'dev-1', states);
    expect(patches.map((p) => fleet.decisionOf('dev-1', p.updateId).decision))
      .toEqual(['approved', 'pending_approval', 'denied', 'ignored', 'uninstall']);
    expect(automaticInstalls(fleet, 'dev-1')).toEqual(['approved']);
    expect(requestableInstalls(fleet, 'dev-1')).toEqual(['approved', 'pending', 'denied']);
  });

  test('fleet counts and unknown ids', () => {
    const fleet = resolveFleet(model, states);
    expect(fleet.counts()).toEqual({ approved: 1, pending_approval: 1, denied: 1, ignored: 1, uninstall: 1, reprocessFailed: 0 });
    expect(() => fleet.decisionsFor('nope')).toThrow('device nope not found');
    expect(() => explainDecision(model, 'dev-1', 'nope')).toThrow('patch nope not found');
  });
});

/** Seeded, so a failing model can be rebuilt. */
const rng = mulberry32;

function randomModel(seed: number): { model: ApprovalModel; states: DeviceStates } {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const statuses: ApprovalStatus[] = ['approved', 'pending_approval', 'denied'];
  const actionsAll: PatchAction[] = ['inherit', 'approve', 'ignore', 'do_nothing', 'reprocess_failed', 'uninstall'];
  const classes = ['Security Updates', 'Critical Updates', 'Service Packs', 'Updates', 'Drivers'];
  const products = ['Windows 11', 'Windows Server 2022', 'Office 2016', 'Exchange Server 2019'];
  const patches = Array.from({ length: 60 }, (_, i) => patch({
    updateId: `u-${i}`, kb: `KB${5000000 + Math.floor(i / 2)}`, classification: pick(classes), product: pick(products),
    severity: pick(['Critical', 'Important', 'Low', 'Unrated']),
    installType: pick(['normal', 'normal', 'manual_install_only', 'windows_update_web_site'] as const),
    supersededBy: r() < 0.2 ? 'KB951847' : null, uninstallable: r() < 0.6,
  }));
  const policies = Array.from({ length: 5 }, (_, i) => {
    const rows: Record<string, PolicyApproval> = {};
    for (const p of patches) if (r() < 0.5) rows[p.updateId] = { status: pick(statuses), source: pick(['default', 'explicit'] as const) };
    return policy(`P${i}`, {
      denyManualInstallOnly: r() < 0.5, denyWindowsUpdateWebSite: r() < 0.5, denySuperseded: r() < 0.5, rows,
      classificationDefaults: new Map(classes.filter(() => r() < 0.6).map((c) => [c, pick(statuses)])),
      productDefaults: new Map(products.filter(() => r() < 0.3).map((c) => [c, pick(statuses)])),
      kaseyaClassificationDefaults: new Map(KASEYA_CLASSIFICATIONS.filter(() => r() < 0.3).map((c) => [c, pick(statuses)])),
      fallbackDefault: pick(statuses),
    });
  });
  const devices = Array.from({ length: 40 }, (_, i) => ({
    id: `d-${i}`, name: `DEV-${i}`, siteId: `s-${i % 6}`, clientId: `c-${i % 3}`, deviceType: pick(['server', 'workstation'] as const),
    policyIds: [...new Set(Array.from({ length: Math.floor(r() * 4) }, () => (r() < 0.05 ? 'missing-policy' : pick(policies).id)))],
  }));
  const scopes = [
    ...devices.map((d) => `device:${d.id}`), ...[0, 1, 2, 3, 4, 5].map((i) => `site:s-${i}`),
    'client:c-0', 'client:c-1', 'client:c-2', 'device_type:server', 'device_type:workstation',
  ];
  const actions = new Map(scopes.map((key) => [key, new Map(patches.filter(() => r() < 0.15).map((p) => [p.updateId, pick(actionsAll)]))]));
  const kbOverrides = new Map(patches.filter(() => r() < 0.05).map((p) => [p.kb, pick(statuses)]));
  // device states as a map (what db/ loads); some pairs have none
  const states = new Map(devices.map((d) => [d.id, new Map(patches.filter(() => r() < 0.7)
    .map((p) => [p.updateId, { status: pick(['installed', 'missing', 'failed']), failedAttempts: 0 }]))]));
  const names = { sites: new Map([['s-0', 'HQ']]), clients: new Map([['c-0', 'Acme']]) };
  return { model: { patches, devices, policies, kbOverrides, actions, names }, states };
}

describe('resolveFleet agrees with explainDecision', () => {
  test.each([1, 2, 3, 42])('random model, seed %i', (seed) => {
    const { model, states } = randomModel(seed);
    const fleet = resolveFleet(model, states);
    const seen = new Set<Decision>();
    let reprocessed = 0;
    for (const d of model.devices) {
      for (const p of model.patches) {
        const one = explainDecision(model, d.id, p.updateId, states);
        expect({ pair: `${d.id}/${p.updateId}`, ...fleet.decisionOf(d.id, p.updateId) })
          .toEqual({ pair: `${d.id}/${p.updateId}`, decision: one.decision, reprocessFailed: one.reprocessFailed });
        expect(one.reason.length).toBeGreaterThan(0);
        seen.add(one.decision);
        if (one.reprocessFailed) reprocessed++;
      }
    }
    // the model exercises every decision
    expect([...seen].sort()).toEqual(['approved', 'denied', 'ignored', 'pending_approval', 'uninstall']);
    expect(reprocessed).toBeGreaterThan(0);
    expect(fleet.size).toBe(model.devices.length * model.patches.length);
  });
});
