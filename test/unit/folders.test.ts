import {
  checkDeviceFolders, checkFolder, DEFAULT_INSTALL_FOLDER, DEFAULT_POSIX_INSTALL_FOLDER, DEFAULT_POSIX_WORKING_FOLDER,
  DEFAULT_WORKING_FOLDER, folderPlatformOf, installFolderProblem, workingFolderProblem, type FolderRole, type FolderRule,
} from '../../domain/folders';

/** A row: the folder, the role it is checked for, and either its canonical spelling or the rule it breaks. */
type Row = [folder: string, role: FolderRole, expected: { canonical: string } | { rule: FolderRule }];
const ok = (canonical: string) => ({ canonical });
const no = (rule: FolderRule) => ({ rule });
const W = 'working' as const;
const I = 'install' as const;

function verdict(folder: string, role: FolderRole, platform: 'windows' | 'posix') {
  const r = checkFolder(folder, { role, platform });
  return r.ok ? { canonical: r.canonical } : { rule: r.problem.rule };
}

describe('Windows folders: every bypass from issue 9, and more', () => {
  const rows: Row[] = [
    // The bypasses, each refused with the rule it breaks.
    ['C:\\ProgramData\\..\\Windows\\System32', W, no('parent-segment')],
    ['C:\\Users\\Public\\..\\..', W, no('parent-segment')],
    ['C:\\PROGRA~1', W, no('short-name')],
    ['C:\\Windows.\\System32', W, no('protected')],
    ['C:\\Windows.\\System32', I, no('protected')],
    ['C:\\Windows \\System32', I, no('protected')],
    ['C:\\Windows\\System32\\config', W, no('protected')],
    ['C:\\Windows\\System32\\config', I, no('protected')],
    ['C:\\Windows\\System32::$INDEX_ALLOCATION', I, no('stream')],
    ['C:\\Windows\\System32:$I30:$INDEX_ALLOCATION', I, no('stream')],
    ['C:\\Patchflow\\Working:hidden', W, no('stream')],
    ['C:\\' + 'A'.repeat(1_000_000), W, no('too-long')],
    ['C:\\' + 'a\\'.repeat(119), W, no('too-long')],
    // The seed 003 list, on any drive and in any case.
    ['C:\\Windows', W, no('protected')],
    ['C:\\Windows', I, no('protected')],
    ['d:/windows/', I, no('protected')],
    ['C:\\Program Files', W, no('protected')],
    ['C:\\Program Files\\Patchflow', W, no('protected')],
    ['C:\\Program Files (x86)\\X', I, no('protected')],
    ['C:\\Program Files (Arm)', W, no('protected')],
    ['C:\\Documents and Settings\\Bob', W, no('protected')],
    ['c:\\WINDOWS\\system32\\', W, no('protected')],
    ['C:\\Windows\\SysWOW64\\x', I, no('protected')],
    ['C:\\Windows\\WinSxS', I, no('protected')],
    ['C:\\Windows\\Temp', I, no('protected')],
    ['C:\\Windows\\Temp\\Patchflow', W, no('protected')],
    ['C:\\Windows\\Patches', W, no('protected')],
    // Drive roots and the other OS folders.
    ['C:\\', W, no('protected')],
    ['C:/', I, no('protected')],
    ['E:\\\\\\', W, no('protected')],
    ['C:\\ProgramData', W, no('protected')],
    ['C:\\ProgramData\\Microsoft\\Windows Defender', W, no('protected')],
    ['C:\\ProgramData\\Application Data', W, no('protected')],
    ['C:\\Users', W, no('protected')],
    ['C:\\Users\\Public', W, no('protected')],
    ['C:\\Users\\Bob', I, no('protected')],
    ['C:\\Users\\All Users\\Microsoft', W, no('protected')],
    ['C:\\Users\\Bob\\Documents', W, no('protected')],
    ['C:\\Users\\Bob\\AppData\\Local', W, no('protected')],
    ['C:\\Users\\Bob\\AppData\\Local\\Temp', W, no('protected')],
    ['C:\\$Recycle.Bin', W, no('protected')],
    ['C:\\$Recycle.Bin\\S-1-5-18', W, no('protected')],
    ['C:\\System Volume Information', W, no('protected')],
    ['C:\\Boot', W, no('protected')],
    ['C:\\Recovery\\WindowsRE', W, no('protected')],
    // Names Windows would read as something else.
    ['C:\\Patchflow\\CON', W, no('device-name')],
    ['C:\\Patchflow\\con.txt', W, no('device-name')],
    ['C:\\NUL\\Working', W, no('device-name')],
    ['C:\\Patchflow\\COM1', W, no('device-name')],
    ['C:\\Patchflow\\LPT9.log', W, no('device-name')],
    ['C:\\Patchflow\\COM\u00b9', W, no('device-name')],
    ['C:\\Patchflow\\AUX .x', W, no('device-name')],
    ['C:\\DOCUME~1\\Bob', W, no('short-name')],
    ['C:\\Patchflow\\...', W, no('parent-segment')],
    ['C:\\Patchflow\\.. \\Windows', W, no('parent-segment')],
    ['C:\\Patch\u0000flow', W, no('control-character')],
    ['C:\\Patch\nflow', W, no('control-character')],
    ['C:\\Patchflow\\\u202eexe.gnikroW', W, no('control-character')],
    ['C:\\Patch*', W, no('forbidden-character')],
    ['C:\\Patch<flow>', W, no('forbidden-character')],
    ['C:\\Patch"flow', W, no('forbidden-character')],
    ['C:\\Patch|flow', W, no('forbidden-character')],
    ['C:\\ProgramData\uff3c..\uff3cWindows', W, no('lookalike-character')],
    ['C:\\Windows\u00a5System32', I, no('lookalike-character')],
    ['\\\\server\\share\\Patchflow', W, no('unc')],
    ['//server/share', W, no('unc')],
    ['\\\\?\\C:\\Windows\\System32', W, no('device-path')],
    ['\\\\.\\C:\\Patchflow', W, no('device-path')],
    ['\\??\\C:\\Patchflow', W, no('device-path')],
    ['Patchflow\\Working', W, no('not-absolute')],
    ['\\Patchflow\\Working', W, no('not-absolute')],
    ['C:Patchflow', W, no('not-absolute')],
    ['C:', W, no('not-absolute')],
    [' C:\\Patchflow', W, no('not-absolute')],
    ['1:\\Patchflow', W, no('not-absolute')],
    ['', W, no('empty')],
    // Accepted, in their canonical spelling.
    [DEFAULT_WORKING_FOLDER, W, ok('C:\\ProgramData\\Patchflow\\Working')],
    [DEFAULT_INSTALL_FOLDER, I, ok('C:\\Windows\\Patches')],
    ['c:/programdata//patchflow/./working/', W, ok('C:\\programdata\\patchflow\\working')],
    ['C:\\Windows\\Patches.\\', I, ok('C:\\Windows\\Patches')],
    ['C:\\Windows\\LTSvc\\packages', I, ok('C:\\Windows\\LTSvc\\packages')],
    ['D:\\kworking', W, ok('D:\\kworking')],
    ['C:\\Patchflow\\Temp', W, ok('C:\\Patchflow\\Temp')],
    ['C:\\Patchflow\\console', W, ok('C:\\Patchflow\\console')],
    ['C:\\Patchflow\\COM10', W, ok('C:\\Patchflow\\COM10')],
    ['C:\\Users\\svc-patch\\Patchflow', W, ok('C:\\Users\\svc-patch\\Patchflow')],
    ['C:\\Users\\Bob\\AppData\\Local\\Patchflow', W, ok('C:\\Users\\Bob\\AppData\\Local\\Patchflow')],
    ['C:\\$WINDOWS.~Patchflow', W, ok('C:\\$WINDOWS.~Patchflow')],
    ['C:\\' + 'a'.repeat(237), W, ok('C:\\' + 'a'.repeat(237))],
  ];

  test.each(rows)('%s as %s folder → %j', (folder, role, expected) => {
    expect(verdict(folder, role, 'windows')).toEqual(expected);
  });

  test('the table has at least 40 rows', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
  });

  test('a million characters is refused before any other work', () => {
    const huge = 'C:\\' + '..\\'.repeat(400_000);
    const started = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) checkFolder(huge, { role: 'working' });
    const perCallMicros = Number(process.hrtime.bigint() - started) / 1000 / 1000;
    expect(checkFolder(huge, { role: 'working' })).toMatchObject({ ok: false, problem: { rule: 'too-long' } });
    expect(perCallMicros).toBeLessThan(50);
  });

  test('messages name the folder and end with the rule', () => {
    expect(workingFolderProblem('C:\\PROGRA~1')).toBe('working folder "C:\\PROGRA~1" contains the 8.3 short name "PROGRA~1"; give the full folder name (rule: short-name)');
    expect(installFolderProblem('C:\\Windows')).toMatch(/^install folder "C:\\Windows" is the Windows folder; .* \(rule: protected\)$/);
    expect(workingFolderProblem('C:\\ProgramData\\Patchflow\\Working')).toBeUndefined();
    // A control character is named by its code point, never echoed.
    expect(workingFolderProblem('C:\\a\u0007b')).toBe('working folder contains the character U+0007, which is a control or invisible character (rule: control-character)');
  });

  test('a value that is not a string is refused, not thrown on', () => {
    expect(checkFolder(undefined, { role: 'working' })).toMatchObject({ ok: false, problem: { rule: 'empty' } });
    expect(checkFolder(42, { role: 'install' })).toMatchObject({ ok: false, problem: { rule: 'empty' } });
  });
});

describe('POSIX folders (Linux agents)', () => {
  const rows: Row[] = [
    [DEFAULT_POSIX_WORKING_FOLDER, W, ok('/var/lib/patchflow/working')],
    [DEFAULT_POSIX_INSTALL_FOLDER, I, ok('/var/lib/patchflow/install')],
    ['/opt/patchflow//work/./', W, ok('/opt/patchflow/work')],
    ['/tmp/patchflow', W, ok('/tmp/patchflow')],
    ['/home/bob/patchflow', W, ok('/home/bob/patchflow')],
    ['/var/patchflow', W, ok('/var/patchflow')],
    ['/Usr', W, ok('/Usr')],
    ['/', W, no('protected')],
    ['//', W, no('protected')],
    ['/bin', W, no('protected')],
    ['/boot/grub', W, no('protected')],
    ['/dev/shm', W, no('protected')],
    ['/etc/patchflow', W, no('protected')],
    ['/home', W, no('protected')],
    ['/home/bob', W, no('protected')],
    ['/lib', W, no('protected')],
    ['/lib64/x', W, no('protected')],
    ['/proc/1', W, no('protected')],
    ['/root', W, no('protected')],
    ['/run/patchflow', W, no('protected')],
    ['/sbin', W, no('protected')],
    ['/sys', W, no('protected')],
    ['/usr', W, no('protected')],
    ['/usr/local/patchflow', W, no('protected')],
    ['/var', W, no('protected')],
    ['/var/lib', W, no('protected')],
    ['/var/lib/dpkg/info', W, no('protected')],
    ['/var/log/patchflow', W, no('protected')],
    ['/tmp', W, no('protected')],
    ['/opt', W, no('protected')],
    ['/var/lib/patchflow/../dpkg', W, no('parent-segment')],
    ['var/lib/patchflow', W, no('not-absolute')],
    ['C:\\Patchflow', W, no('not-absolute')],
    ['/var/lib/patch\u0000flow', W, no('control-character')],
    ['/' + 'a'.repeat(240), W, no('too-long')],
  ];

  test.each(rows)('%s as %s folder → %j', (folder, role, expected) => {
    expect(verdict(folder, role, 'posix')).toEqual(expected);
  });
});

describe('which rule set applies', () => {
  test.each([
    ['server2022', 'windows'],
    ['win10', 'windows'],
    ['Windows Server 2019 (x64 architecture)', 'windows'],
    [null, 'windows'],
    [undefined, 'windows'],
    ['ubuntu-22.04', 'posix'],
    ['Red Hat Enterprise Linux 9', 'posix'],
    ['debian 12', 'posix'],
  ] as const)('os %s → %s', (os, platform) => {
    expect(folderPlatformOf(os)).toBe(platform);
  });

  test('both folders of a device at once: canonical, or the field that breaks a rule', () => {
    expect(checkDeviceFolders({ workingFolder: 'c:/ProgramData/Patchflow/Working/', installFolder: DEFAULT_INSTALL_FOLDER }, 'windows'))
      .toEqual({ ok: true, workingFolder: 'C:\\ProgramData\\Patchflow\\Working', installFolder: 'C:\\Windows\\Patches' });
    expect(checkDeviceFolders({ workingFolder: DEFAULT_WORKING_FOLDER, installFolder: 'C:\\Windows\\System32\\config' }, 'windows'))
      .toMatchObject({ ok: false, field: 'installFolder', problem: { rule: 'protected' } });
    expect(checkDeviceFolders({ workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER }, 'posix'))
      .toMatchObject({ ok: false, field: 'workingFolder', problem: { rule: 'not-absolute' } });
  });
});
