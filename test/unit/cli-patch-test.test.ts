import { patchTestText } from '../../cli/views';
import type { PatchTestRow } from '../../db/patch-test-repository';

test('patchflow patch-test prints each check pass or FAIL with its reason, and the Automatic Update block', () => {
  const row: PatchTestRow = {
    deviceId: 'd1', workflowId: 'patch-test/d1/k1', passed: false, kbs: ['KB5034439'], requestedBy: 'user:ana', testedAt: '2026-12-02T10:00:00.000Z',
    checks: [
      { check: 'credentials', passed: true, reason: 'runs as System' },
      { check: 'file-source', subject: 'KB5034439 from https://dl.example/kb.msu', passed: true, reason: 'served, SHA-256 matches' },
      { check: 'windows-update-services', passed: false, reason: 'wuauserv is Disabled' },
    ],
    automaticUpdateBlocked: 'Patch Test of 2026-12-02T10:00:00.000Z failed: windows-update-services: wuauserv is Disabled; Automatic Update is blocked until a Patch Test passes',
  };
  const lines = patchTestText(row).split('\n');
  expect(lines[0]).toMatch(/^Patch Test FAILED .*\(patch-test\/d1\/k1, requested by user:ana\)$/);
  expect(lines).toContain('patches checked: KB5034439');
  expect(lines).toContain('  pass  credentials: runs as System');
  expect(lines).toContain('  pass  file-source [KB5034439 from https://dl.example/kb.msu]: served, SHA-256 matches');
  expect(lines).toContain('  FAIL  windows-update-services: wuauserv is Disabled');
  expect(lines.at(-1)).toBe('Automatic Update is blocked on this device until a Patch Test passes');
  expect(patchTestText({ ...row, passed: true, checks: row.checks.slice(0, 1), automaticUpdateBlocked: null })).not.toMatch(/blocked/);
});
