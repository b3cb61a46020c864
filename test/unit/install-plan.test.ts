import type { ScannedUpdate } from '../../domain/device-protocol';
import { planInstall } from '../../domain/install-plan';

const update = (kb: string, installed: boolean, title = `Update ${kb}`): ScannedUpdate => ({
  updateId: `id-${kb}`, revision: 1, kb, title, product: 'Windows Server 2022', classification: 'Security Updates',
  severity: 'Critical', publishedAt: '2026-10-14', sizeBytes: 1000, sha256: 'a'.repeat(64),
  downloadUrl: `https://example.invalid/${kb}.msu`, fileName: `${kb}.msu`, rebootBehavior: 'never', installed,
  securityBulletin: null, installType: 'normal', supersededBy: null, uninstallable: true,
});

describe('planInstall', () => {
  const scan = [
    update('KB5000002', false, '2026-10 Cumulative Update for Windows Server 2022'),
    update('KB5000001', true),
    update('KB5000003', false, '2026-10 Servicing Stack Update for Windows Server 2022'),
  ];

  test('without KBs: every missing update, servicing stack first', () => {
    const plan = planInstall(scan);
    expect(plan.patches.map((u) => u.kb)).toEqual(['KB5000003', 'KB5000002']);
    expect(plan.skippedKbs).toEqual([]);
  });

  test('with KBs: only those missing; installed or unknown ones are reported as skipped', () => {
    const plan = planInstall(scan, ['kb5000002', 'KB5000001', 'KB9999999']);
    expect(plan.patches.map((u) => u.kb)).toEqual(['KB5000002']);
    expect(plan.skippedKbs).toEqual(['KB5000001', 'KB9999999']);
  });

  test('a superseded update is skipped when its successor is missing too, and only then', () => {
    const jan = { ...update('KB5034129', false), supersededBy: 'KB5035857' };
    const mar = update('KB5035857', false);
    const plan = planInstall([jan, mar], undefined, { skipSuperseded: true });
    expect(plan.patches.map((u) => u.kb)).toEqual(['KB5035857']);
    expect(plan.supersededKbs).toEqual(['KB5034129']);
    // successor already installed: nothing supersedes it in this run
    expect(planInstall([jan, { ...mar, installed: true }], undefined, { skipSuperseded: true }).patches.map((u) => u.kb)).toEqual(['KB5034129']);
    // without the option (histories recorded before it existed), nothing is skipped
    expect(planInstall([jan, mar]).patches).toHaveLength(2);
  });

  test('nothing missing: an empty plan', () => {
    expect(planInstall([update('KB1', true)]).patches).toEqual([]);
  });
});
