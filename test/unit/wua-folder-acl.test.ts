import { folderWritersProblem } from '../../domain/wua-folder-acl';

const F = 'C:\\ProgramData\\Patchflow\\Working';
const rule = (sid: string, rights: number, extra: { allow?: boolean; inheritOnly?: boolean } = {}) => ({ sid, rights: rights >>> 0, allow: extra.allow ?? true, inheritOnly: extra.inheritOnly ?? false });
const folder = (rules: ReturnType<typeof rule>[], ownerSid = 'S-1-5-18') => ({ path: F, exists: true, ownerSid, rules });

// One row per case: who holds which right, and whether the folder may serve.
const table: [string, ReturnType<typeof folder>, string | undefined][] = [
  ['SYSTEM and Administrators full control', folder([rule('S-1-5-18', 2032127), rule('S-1-5-32-544', 2032127)]), undefined],
  ['TrustedInstaller may write', folder([rule('S-1-5-80-956008885-3425854143-1376854338-3349598542-1564418396', 2032127)]), undefined],
  ['Users read and execute', folder([rule('S-1-5-32-545', 1179817)]), undefined],
  ['Users create files (WriteData)', folder([rule('S-1-5-32-545', 0x2)]), 'S-1-5-32-545 (Users)'],
  ['Authenticated Users modify', folder([rule('S-1-5-11', 1245631)]), 'S-1-5-11 (Authenticated Users)'],
  ['Everyone GENERIC_WRITE', folder([rule('S-1-1-0', 0x40000000)]), 'S-1-1-0 (Everyone)'],
  ['a user may change permissions', folder([rule('S-1-5-21-1-2-3-1001', 0x40000)]), 'S-1-5-21-1-2-3-1001'],
  ['a deny rule takes rights away, it grants none', folder([rule('S-1-1-0', 2032127, { allow: false })]), undefined],
  ['an inherit-only rule does not apply to the folder itself', folder([rule('S-1-5-32-545', 0x2, { inheritOnly: true })]), undefined],
  ['CREATOR OWNER grants nothing on the folder', folder([rule('S-1-3-0', 0x10000000)]), undefined],
  ['owned by a user', folder([], 'S-1-5-21-1-2-3-1001'), 'is owned by S-1-5-21-1-2-3-1001'],
];

test.each(table)('%s', (_name, acl, problem) => {
  const r = folderWritersProblem(acl);
  if (problem === undefined) expect(r).toBeUndefined();
  else expect(r).toContain(problem);
});

test('a folder that does not exist is not judged safe', () => {
  expect(folderWritersProblem({ path: F, exists: false, ownerSid: null, rules: [] })).toContain('does not exist');
});
