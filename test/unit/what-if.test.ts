import type { ApprovalModel, ApprovalPatch, ApprovalPolicy, ApprovalStatus } from '../../domain/approval-model';
import { resolveFleet } from '../../domain/approval-resolver';
import { applyProposal, differenceOf, predictDeviceInstalls, uninstallTargets, type MissingPatch } from '../../domain/what-if';

// Two devices at two sites of one client, in one policy with Kaseya's recommended defaults: Security
// Updates approved, Updates and Update Rollups Pending Approval (counts as Denied for Automatic Update).
const patch = (updateId: string, kb: string, classification: string, supersededBy: string | null = null): ApprovalPatch => ({
  updateId, kb, title: kb, classification, product: 'Windows Server 2022', severity: 'Unrated', installType: 'normal', supersededBy, uninstallable: true,
});
const PATCHES = [
  patch('u-sec', 'KB5034439', 'Security Updates'),
  patch('u-old-cu', 'KB5034129', 'Security Updates', 'KB5035857'),
  patch('u-new-cu', 'KB5035857', 'Security Updates'),
  patch('u-ssu', 'KB5031988', 'Updates'),
  patch('u-msrt', 'KB890830', 'Update Rollups'),
];
const policy: ApprovalPolicy = {
  id: 'p1', name: 'Servers', denyManualInstallOnly: false, denyWindowsUpdateWebSite: false, denySuperseded: false,
  approvals: new Map(), classificationDefaults: new Map<string, ApprovalStatus>([['Security Updates', 'approved'], ['Updates', 'pending_approval'], ['Update Rollups', 'pending_approval']]),
  kaseyaClassificationDefaults: new Map(), productDefaults: new Map(), fallbackDefault: 'pending_approval',
};
const model: ApprovalModel = {
  patches: PATCHES,
  devices: [
    { id: 'd-hq', name: 'SRV-HQ', siteId: 's-hq', clientId: 'c-1', deviceType: 'server', policyIds: ['p1'] },
    { id: 'd-br', name: 'SRV-BR', siteId: 's-br', clientId: 'c-1', deviceType: 'server', policyIds: ['p1'] },
  ],
  policies: [policy], kbOverrides: new Map(), actions: new Map(), names: { sites: new Map([['s-hq', 'HQ'], ['s-br', 'Branch']]), clients: new Map([['c-1', 'Acme']]) },
};
const missingAll: MissingPatch[] = PATCHES.map((p) => ({ updateId: p.updateId, kb: p.kb, supersededBy: p.supersededBy }));
const states = new Map([
  ['d-hq', new Map([['u-sec', { status: 'failed', failedAttempts: 5 }]])],
  ['d-br', new Map()],
]);
const kbs = (fleet: ReturnType<typeof resolveFleet>, device: string) => predictDeviceInstalls(fleet, states, device, missingAll, 5).map((p) => p.kb);

test('today: approved patches only, the superseded one skipped for its successor, the one at the failure cap left out', () => {
  const today = resolveFleet(model, states);
  expect(kbs(today, 'd-br')).toEqual(['KB5034439', 'KB5035857']);
  expect(kbs(today, 'd-hq')).toEqual(['KB5035857']);
});

test('a proposal changes a copy: the model it was given stays as it was', () => {
  const proposed = applyProposal(model, {
    approvals: [{ policyId: 'all', updateIds: ['u-ssu'], status: 'approved' }],
    kbOverrides: [{ kb: 'kb890830', status: 'approved' }],
    patchActions: [{ scopeType: 'site', scopeId: 's-hq', updateIds: ['u-sec', 'u-msrt'], action: 'reprocess_failed' }],
  });
  expect(policy.approvals.size).toBe(0);
  expect(model.kbOverrides.size).toBe(0);
  expect(model.actions.size).toBe(0);
  const after = resolveFleet(proposed, states);
  // Reprocess failed re-arms the capped security update at HQ; the SSU and MSRT are approved everywhere.
  expect(kbs(after, 'd-hq')).toEqual(['KB5031988', 'KB5034439', 'KB5035857', 'KB890830']);
  expect(kbs(after, 'd-br')).toEqual(['KB5031988', 'KB5034439', 'KB5035857', 'KB890830']);
});

test('the difference per device, each change with the resolver\'s reason', () => {
  const today = resolveFleet(model, states);
  const after = resolveFleet(applyProposal(model, { patchActions: [{ scopeType: 'site', scopeId: 's-hq', updateIds: ['u-msrt'], action: 'approve' }, { scopeType: 'device', scopeId: 'd-br', updateIds: ['u-sec'], action: 'ignore' }] }), states);
  const diff = (device: string) => differenceOf(
    predictDeviceInstalls(today, states, device, missingAll, 5), predictDeviceInstalls(after, states, device, missingAll, 5),
    { added: (u) => after.explain(device, u).reason, removed: (u) => after.explain(device, u).reason },
  );
  expect(diff('d-hq')).toEqual({ added: [{ updateId: 'u-msrt', kb: 'KB890830', reason: "Approved at site 'HQ'" }], removed: [] });
  expect(diff('d-br')).toEqual({ added: [], removed: [{ updateId: 'u-sec', kb: 'KB5034439', reason: 'Ignored on device SRV-BR' }] });
});

test('installed states are needed only for update ids an Uninstall names, today or in the proposal', () => {
  const withUninstall = { ...model, actions: new Map([['client:c-1', new Map([['u-sec', 'uninstall' as const]])]]) };
  expect(uninstallTargets(withUninstall, { patchActions: [{ scopeType: 'device', scopeId: 'd-hq', updateIds: ['u-msrt'], action: 'uninstall' }] }).sort()).toEqual(['u-msrt', 'u-sec']);
  expect(uninstallTargets(model, {})).toEqual([]);
});
