/**
 * The simulator models each Patch Test failure (issue 17.2) from its per-device state, deterministically,
 * and domain/patch-test.ts names the failed check with its reason. The server-side binding to the
 * catalog (domain/patch-test-result.ts) is checked here too: a device cannot vouch for its own hashes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { findUpdate } from '../../agent/catalog';
import { SimulatedWindowsDevice, type SimulatedPatchTestState } from '../../agent/simulated-device';
import type { AgentCommand, PatchFile, PatchTestResult } from '../../domain/device-protocol';
import { DEFAULT_INSTALL_FOLDER, DEFAULT_WORKING_FOLDER } from '../../domain/folders';
import { DISK_MARGIN_BYTES, evaluatePatchTest, SYSTEM_SID } from '../../domain/patch-test';
import { automaticUpdateBlock, bindToCatalog } from '../../domain/patch-test-result';

let sandboxDir: string;
beforeEach(async () => { sandboxDir = await mkdtemp(path.join(tmpdir(), 'patchflow-pt-')); });
afterEach(async () => { await rm(sandboxDir, { recursive: true, force: true }); });

const update = findUpdate({ kb: 'KB5034439' })!;
const patch: PatchFile = { updateId: update.updateId, kb: update.kb, fileName: update.fileName, downloadUrl: update.downloadUrl, sizeBytes: update.sizeBytes, sha256: update.sha256 };
let seq = 0;

async function observe(patchTest: SimulatedPatchTestState, extra: { freeDiskBytes?: number } = {}): Promise<PatchTestResult> {
  const device = new SimulatedWindowsDevice({ id: 'srv-pt', sandboxDir, os: 'server2022', missingKbs: [update.kb], patchTest, ...extra });
  const command: AgentCommand<'patch_test'> = {
    id: `pt-${++seq}`, type: 'patch_test', attempt: 1,
    payload: { workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER, patches: [patch] },
  };
  const outcome = await device.handle(command);
  if (outcome.status !== 'succeeded') throw new Error(`patch test refused: ${JSON.stringify(outcome)}`);
  return outcome.result as PatchTestResult;
}
const verdict = async (state: SimulatedPatchTestState, extra: { freeDiskBytes?: number } = {}) =>
  evaluatePatchTest(bindToCatalog(await observe(state, extra), [patch]));
const failed = (o: ReturnType<typeof evaluatePatchTest>) => o.checks.filter((c) => !c.passed).map((c) => [c.check, c.reason]);

test('a machine in order passes every check, and the same state gives the same observation', async () => {
  const o = await verdict({});
  expect(o.passed).toBe(true);
  expect(o.checks.map((c) => c.check)).toEqual(['credentials', 'working-folder-protected', 'working-folder-permissions', 'disk-space', 'file-source', 'windows-update-services']);
  expect(await observe({})).toEqual(await observe({}));
});

test.each<[string, SimulatedPatchTestState, { freeDiskBytes?: number }, string, RegExp]>([
  ['credentials', { credential: { account: 'CORP\\patchsvc', sid: 'S-1-5-21-1-2-3-1104', valid: false } }, {}, 'credentials', /Set Credentials for CORP\\patchsvc failed: LogonUser/],
  ['a protected working folder', { workingFolderTarget: 'C:\\Windows\\System32\\Tasks' }, {}, 'working-folder-protected', /^C:\\Windows\\System32\\Tasks: /],
  ['folder permissions', { workingFolderRules: [{ sid: SYSTEM_SID, allow: true, rights: 0x120089, inheritOnly: false }] }, {}, 'working-folder-permissions', /System has no full write/],
  ['a folder Network Service can write (seed 003 asks for it; the agent refuses it)', {
    workingFolderRules: [SYSTEM_SID, 'S-1-5-20'].map((sid) => ({ sid, allow: true, rights: 0x1f01ff, inheritOnly: false })),
  }, {}, 'working-folder-permissions', /can be written by S-1-5-20 \(Network Service\)/],
  ['the set credential not named on the folder', {
    credential: { account: 'CORP\\patchsvc', sid: 'S-1-5-21-1-2-3-1104', valid: true },
    workingFolderRules: [SYSTEM_SID, 'S-1-5-32-544'].map((sid) => ({ sid, allow: true, rights: 0x1f01ff, inheritOnly: false })),
  }, {}, 'working-folder-permissions', /CORP\\patchsvc has no explicit membership/],
  ['disk space', {}, { freeDiskBytes: DISK_MARGIN_BYTES }, 'disk-space', /bytes free, \d+ needed/],
  ['an unreachable file source', { unreachableSources: [new URL(update.downloadUrl).origin] }, {}, 'file-source', /did not answer for KB5034439: GET .* ETIMEDOUT/],
  ['a hash mismatch', { corruptSourceKbs: ['KB5034439'] }, {}, 'file-source', /hash mismatch for KB5034439/],
  ['a Disabled Windows Update service', { services: { BITS: 'Disabled' } }, {}, 'windows-update-services', /^BITS is Disabled$/],
])('the simulator models %s', async (_what, state, extra, check, reason) => {
  const o = await verdict(state, extra);
  expect(o.passed).toBe(false);
  expect(failed(o)).toEqual([[check, expect.stringMatching(reason)]]);
});

test('Manual start type passes; a device cannot vouch for its own hashes or leave a selected file out', async () => {
  expect((await verdict({ services: { wuauserv: 'Manual', BITS: 'Manual' } })).passed).toBe(true);
  const seen = await observe({});
  const lying = { ...seen, files: seen.files.map((f) => ({ ...f, expectedSha256: 'a'.repeat(64), sha256: 'a'.repeat(64) })) };
  expect(failed(evaluatePatchTest(bindToCatalog(lying, [patch])))).toEqual([['file-source', expect.stringMatching(/hash mismatch/)]]);
  const silent = { ...seen, files: [] };
  expect(failed(evaluatePatchTest(bindToCatalog(silent, [patch])))).toEqual([['file-source', expect.stringMatching(/did not report this file/)]]);
});

test('a failed result blocks Automatic Update with the failed checks named; a passed one does not', () => {
  const checks = [{ check: 'windows-update-services' as const, passed: false, reason: 'wuauserv is Disabled' }];
  expect(automaticUpdateBlock({ passed: false, checks, testedAt: '2026-12-02T10:00:00.000Z' }))
    .toBe('Patch Test of 2026-12-02T10:00:00.000Z failed: windows-update-services: wuauserv is Disabled; Automatic Update is blocked until a Patch Test passes');
  expect(automaticUpdateBlock({ passed: true, checks: [], testedAt: '2026-12-02T10:00:00.000Z' })).toBeNull();
  expect(automaticUpdateBlock(null)).toBeNull();
});
