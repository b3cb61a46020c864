import type { ApprovalModel, ApprovalPatch, ApprovalPolicy, PolicyApproval } from '../../domain/approval-model';
import { approveAfterDaysProblem, deferralAt, deferredUntil, describeDeferral } from '../../domain/approval-deferral';
import { automaticInstalls, explainDecision, resolveFleet } from '../../domain/approval-resolver';

// Approval deferral (issue 14 part 3, N-able: "approve N days after release", 1–360 days, ≤ 15 suggested).

const RELEASED = '2026-12-10T00:00:00.000Z';

const patch = (over: Partial<ApprovalPatch> = {}): ApprovalPatch => ({
  updateId: 'u-1', kb: 'KB5000001', title: 'A security update', classification: 'Security Updates', product: 'Windows 11',
  severity: 'Important', installType: 'normal', supersededBy: null, uninstallable: true, releasedAt: RELEASED, ...over,
});

const policy = (over: Partial<ApprovalPolicy> = {}): ApprovalPolicy => ({
  id: 'p1', name: 'W - Workstations', denyManualInstallOnly: false, denyWindowsUpdateWebSite: false, denySuperseded: false,
  approvals: new Map(), classificationDefaults: new Map([['Security Updates', 'approved']]), kaseyaClassificationDefaults: new Map(),
  productDefaults: new Map(), fallbackDefault: 'pending_approval', ...over,
});

const model = (p: ApprovalPolicy, now: string | undefined, patchOver: Partial<ApprovalPatch> = {}): ApprovalModel => ({
  patches: [patch(patchOver)],
  devices: [{ id: 'dev-1', name: 'WS-01', siteId: 's', clientId: 'c', deviceType: 'workstation', policyIds: [p.id] }],
  policies: [p], kbOverrides: new Map(), actions: new Map(), names: { sites: new Map(), clients: new Map() },
  ...(now === undefined ? {} : { now }),
});

const row = (over: Partial<PolicyApproval>): ReadonlyMap<string, PolicyApproval> => new Map([['u-1', { status: 'approved', source: 'explicit', ...over } as PolicyApproval]]);

describe('the resolver defers an approval until release + N days', () => {
  const byDefault = policy({ defaultDeferrals: new Map([['classification:Security Updates', 7]]) });
  const cases: { name: string; policy: ApprovalPolicy; now?: string; patch?: Partial<ApprovalPatch>; decision: string; reason: string }[] = [
    {
      name: 'a classification default, the day before', policy: byDefault, now: '2026-12-16T23:59:59Z', decision: 'pending_approval',
      reason: "Pending Approval by policy 'W - Workstations': deferred until 2026-12-17: approved 7 days after release (new patch, classification 'Security Updates' default)",
    },
    {
      name: 'a classification default, on the day', policy: byDefault, now: '2026-12-17T00:00:00Z', decision: 'approved',
      reason: "Approved by policy 'W - Workstations': approved 7 days after release (since 2026-12-17) (new patch, classification 'Security Updates' default)",
    },
    {
      name: 'a default stamped with its deferral keeps it (the default itself changed since)',
      policy: policy({ approvals: row({ source: 'default', note: "classification 'Security Updates'", approveAfterDays: 3 }) }),
      now: '2026-12-12T12:00:00Z', decision: 'pending_approval',
      reason: "Pending Approval by policy 'W - Workstations': deferred until 2026-12-13: approved 3 days after release (classification 'Security Updates' default)",
    },
    {
      name: 'a per-patch explicit approval with a deferral', policy: policy({ approvals: row({ approveAfterDays: 1 }) }),
      now: '2026-12-10T08:00:00Z', decision: 'pending_approval',
      reason: "Pending Approval by policy 'W - Workstations': deferred until 2026-12-11: approved 1 day after release (explicit approval)",
    },
    {
      name: 'a per-patch approval without deferral overrides a deferred default', policy: policy({ ...byDefault, approvals: row({}) }),
      now: '2026-12-10T08:00:00Z', decision: 'approved', reason: "Approved by policy 'W - Workstations': explicit approval",
    },
    {
      name: 'a deferral on a denied status changes nothing', policy: policy({ approvals: row({ status: 'denied', approveAfterDays: 5 }) }),
      now: '2027-06-01T00:00:00Z', decision: 'denied', reason: "Denied by policy 'W - Workstations': explicitly denied",
    },
    {
      name: 'no clock in the model: still deferred, never approved early', policy: byDefault, decision: 'pending_approval',
      reason: "Pending Approval by policy 'W - Workstations': deferred until 2026-12-17: approved 7 days after release (new patch, classification 'Security Updates' default)",
    },
    {
      name: 'no release date: deferred, and the reason says why', policy: byDefault, now: '2027-06-01T00:00:00Z', patch: { releasedAt: null },
      decision: 'pending_approval',
      reason: "Pending Approval by policy 'W - Workstations': deferred: approved 7 days after release, and the patch has no release date (new patch, classification 'Security Updates' default)",
    },
  ];
  test.each(cases)('$name', (c) => {
    const m = model(c.policy, c.now, c.patch);
    const explained = explainDecision(m, 'dev-1', 'u-1');
    expect(explained).toEqual({ decision: c.decision, reprocessFailed: false, reason: c.reason });
    // The fleet pass decides the same, so the Automatic Update (selection) and what-if agree with the view.
    const fleet = resolveFleet(m);
    expect(fleet.decisionOf('dev-1', 'u-1').decision).toBe(c.decision);
    expect(automaticInstalls(fleet, 'dev-1')).toEqual(c.decision === 'approved' ? ['u-1'] : []);
  });

  test('the decision depends only on the model: the same model gives the same answer whenever it is asked', () => {
    const m = model(byDefault, '2026-12-16T00:00:00Z');
    expect(explainDecision(m, 'dev-1', 'u-1')).toEqual(explainDecision({ ...m }, 'dev-1', 'u-1'));
    expect(resolveFleet({ ...m, now: '2026-12-18T00:00:00Z' }).decisionOf('dev-1', 'u-1').decision).toBe('approved');
  });

  test('a product and a Kaseya classification default carry their own deferrals', () => {
    const p = policy({
      productDefaults: new Map([['Windows 11', 'approved']]), defaultDeferrals: new Map([['product:Windows 11', 10], ['classification:Security Updates', 1]]),
    });
    expect(explainDecision(model(p, '2026-12-15T00:00:00Z'), 'dev-1', 'u-1').reason).toBe(
      "Pending Approval by policy 'W - Workstations': deferred until 2026-12-20: approved 10 days after release (new patch, product 'Windows 11' default)");
    const k = policy({
      kaseyaClassificationDefaults: new Map([['Security Update - Important (High Priority)', 'approved']]),
      defaultDeferrals: new Map([['kaseya_classification:Security Update - Important (High Priority)', 2]]),
    });
    expect(explainDecision(model(k, '2026-12-11T00:00:00Z'), 'dev-1', 'u-1').decision).toBe('pending_approval');
    expect(explainDecision(model(k, '2026-12-12T00:00:00Z'), 'dev-1', 'u-1').decision).toBe('approved');
  });
});

describe('date arithmetic', () => {
  test.each([
    { releasedAt: '2026-12-10', days: 7, until: '2026-12-17T00:00:00.000Z' },
    { releasedAt: '2026-12-10T15:30:00Z', days: 1, until: '2026-12-11T15:30:00.000Z' },
    { releasedAt: '2026-02-25', days: 4, until: '2026-03-01T00:00:00.000Z' },
    { releasedAt: '2026-01-01', days: 360, until: '2026-12-27T00:00:00.000Z' },
    { releasedAt: null, days: 7, until: null },
    { releasedAt: 'not a date', days: 7, until: null },
  ])('$releasedAt + $days days → $until', ({ releasedAt, days, until }) => {
    expect(deferredUntil(releasedAt, days)?.toISOString() ?? null).toBe(until);
  });

  test('describes both sides of the date', () => {
    expect(describeDeferral(deferralAt('2026-12-10', 7, Date.parse('2026-12-12T00:00:00Z')))).toBe('deferred until 2026-12-17: approved 7 days after release');
    expect(describeDeferral(deferralAt('2026-12-10', 7, Date.parse('2026-12-17T00:00:00Z')))).toBe('approved 7 days after release (since 2026-12-17)');
  });
});

describe('validation of approveAfterDays (the API answers 422 with these words)', () => {
  test.each([
    { days: undefined, status: 'approved', problem: undefined },
    { days: 1, status: 'approved', problem: undefined },
    { days: 15, status: 'approved', problem: undefined },
    { days: 360, status: 'approved', problem: undefined },
    { days: 0, status: 'approved', problem: 'must be a whole number of days from 1 to 360 (15 or fewer is suggested), got 0' },
    { days: 361, status: 'approved', problem: 'must be a whole number of days from 1 to 360 (15 or fewer is suggested), got 361' },
    { days: -3, status: 'approved', problem: 'must be a whole number of days from 1 to 360 (15 or fewer is suggested), got -3' },
    { days: 2.5, status: 'approved', problem: 'must be a whole number of days from 1 to 360 (15 or fewer is suggested), got 2.5' },
    { days: 7, status: 'denied', problem: 'only an approved status can be deferred; this one is denied' },
    { days: 7, status: 'pending_approval', problem: 'only an approved status can be deferred; this one is pending_approval' },
  ])('$days days, $status → $problem', ({ days, status, problem }) => {
    expect(approveAfterDaysProblem(days, status)).toBe(problem);
  });
});
