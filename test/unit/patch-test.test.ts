import { folderWritersProblem } from '../../domain/wua-folder-acl';
import { NETWORK_SERVICE_SID, PatchTestCheck, SYSTEM_SID, evaluatePatchTest, type PatchTestObservation } from '../../domain/patch-test';

const FULL = 0x1f01ff;
const good = (): PatchTestObservation => ({
  credential: { kind: 'set', account: 'CORP\\patcher', sid: 'S-1-5-21-1-2-3-1001', verified: true },
  workingFolder: 'C:\\ProgramData\\Patchflow\\Working',
  workingFolderAcl: {
    path: 'C:\\ProgramData\\Patchflow\\Working', exists: true, ownerSid: 'S-1-5-32-544',
    rules: [
      { sid: SYSTEM_SID, allow: true, rights: FULL, inheritOnly: false },
      { sid: 'S-1-5-32-544', allow: true, rights: FULL, inheritOnly: false },
      { sid: 'S-1-5-21-1-2-3-1001', allow: true, rights: 0x1301bf, inheritOnly: false },
    ],
  },
  freeBytes: 10 * 1024 ** 3,
  files: [{ patchId: 'KB1', source: 'cache', expectedSha256: 'ab'.repeat(32), sizeBytes: 1000, answered: true, sha256: 'AB'.repeat(32) }],
  services: { wuauserv: 'Manual', msiserver: 'Manual', BITS: 'Automatic', CryptSvc: 'Automatic', TrustedInstaller: 'Manual' },
});
const failed = (o: PatchTestObservation) => evaluatePatchTest(o).checks.filter((c) => !c.passed);

describe('evaluatePatchTest', () => {
  it('passes a well-prepared device, Manual services included', () => {
    const r = evaluatePatchTest(good());
    expect(r.passed).toBe(true);
    expect(r.checks.map((c) => c.check)).toEqual([
      PatchTestCheck.Credentials, PatchTestCheck.FolderProtected, PatchTestCheck.FolderPermissions,
      PatchTestCheck.DiskSpace, PatchTestCheck.FileSource, PatchTestCheck.Services,
    ]);
  });

  it('fails a protected working folder with the folder rule', () => {
    const o = { ...good(), workingFolder: 'C:\\Windows\\System32\\Temp' };
    const f = failed(o);
    expect(f.map((c) => c.check)).toEqual([PatchTestCheck.FolderProtected]);
    expect(f[0].reason).toMatch(/rule: protected/);
  });

  it('fails a Disabled Windows Update service and names it', () => {
    const o = good();
    o.services.BITS = 'Disabled';
    delete o.services.CryptSvc;
    const f = failed(o);
    expect(f).toHaveLength(1);
    expect(f[0].reason).toBe('BITS is Disabled; CryptSvc is Missing');
  });

  it('requires System full write and the credential named explicitly', () => {
    const o = good();
    o.workingFolderAcl!.rules = [{ sid: SYSTEM_SID, allow: true, rights: 0x120089, inheritOnly: false }, { sid: 'S-1-5-32-544', allow: true, rights: FULL, inheritOnly: false }];
    const [f] = failed(o);
    expect(f.check).toBe(PatchTestCheck.FolderPermissions);
    expect(f.reason).toContain('System has no full write');
    expect(f.reason).toContain('CORP\\patcher has no explicit membership');
  });

  // Seed 003 asks for Network Service full write; the Windows agent refuses any writer but SYSTEM,
  // Administrators and TrustedInstaller (domain/wua-folder-acl.ts), so a Patch Test that passed such
  // a folder would promise an install the agent then refuses. Both now apply one rule.
  it('fails a folder that Network Service (or any other account) can write, as the agent would refuse it', () => {
    const o = good();
    o.workingFolderAcl!.rules.push({ sid: NETWORK_SERVICE_SID, allow: true, rights: FULL, inheritOnly: false });
    const [f] = failed(o);
    expect(f.check).toBe(PatchTestCheck.FolderPermissions);
    expect(f.reason).toBe('C:\\ProgramData\\Patchflow\\Working: can be written by S-1-5-20 (Network Service); only SYSTEM and Administrators may (the agent refuses to stage installers where others can write)');
    expect(folderWritersProblem(o.workingFolderAcl!)).toContain('S-1-5-20 (Network Service)');
    // Read-only rights for others are fine; so is a user who owns nothing and writes nothing.
    o.workingFolderAcl!.rules[3] = { sid: 'S-1-5-32-545', allow: true, rights: 0x1200a9, inheritOnly: false };
    expect(evaluatePatchTest(o).passed).toBe(true);
    o.workingFolderAcl!.ownerSid = 'S-1-5-21-9-9-9-1005';
    expect(failed(o)[0].reason).toContain('is owned by S-1-5-21-9-9-9-1005, who can change its permissions');
  });

  it('the Set Credentials account may write (it is named explicitly); the agent alone trusts only the machine accounts', () => {
    const o = good();
    expect(evaluatePatchTest(o).passed).toBe(true);
    expect(folderWritersProblem(o.workingFolderAcl!)).toContain('S-1-5-21-1-2-3-1001');
  });

  it('a working folder not there yet passes as System (the agent creates it locked down), not with Set Credentials', () => {
    const o = good();
    o.workingFolderAcl = { path: o.workingFolder, exists: false, ownerSid: null, rules: [] };
    expect(failed(o).map((c) => c.reason)).toEqual([`${o.workingFolder} does not exist: create it and name CORP\\patcher on it explicitly`]);
    o.credential = { kind: 'system' };
    expect(evaluatePatchTest(o).passed).toBe(true);
  });

  it('System credential needs no explicit membership; a failed Set Credential fails', () => {
    const o = good();
    o.credential = { kind: 'system' };
    o.workingFolderAcl!.rules = o.workingFolderAcl!.rules.slice(0, 2);
    expect(evaluatePatchTest(o).passed).toBe(true);
    o.credential = { kind: 'set', account: 'x', sid: null, verified: false, error: 'logon failure' };
    expect(failed(o).map((c) => c.reason)).toContain('Set Credentials for x failed: logon failure');
  });

  it('fails too little disk and a source whose hash differs or does not answer', () => {
    const o = good();
    o.freeBytes = 1000;
    o.files.push({ patchId: 'KB2', source: 'lan-share', expectedSha256: 'cd'.repeat(32), sizeBytes: 5, answered: true, sha256: 'ef'.repeat(32) });
    o.files.push({ patchId: 'KB2', source: 'internet', expectedSha256: 'cd'.repeat(32), sizeBytes: 5, answered: false, sha256: null, error: 'ECONNREFUSED' });
    const f = failed(o);
    expect(f.map((c) => c.check)).toEqual([PatchTestCheck.DiskSpace, PatchTestCheck.FileSource, PatchTestCheck.FileSource]);
    expect(f[0].reason).toContain(`${1005 + 512 * 1024 * 1024} needed`);
    expect(f[1].reason).toMatch(/^hash mismatch for KB2 from lan-share/);
    expect(f[2].subject).toBe('KB2 from internet');
  });
});
