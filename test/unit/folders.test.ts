import { installFolderProblem, isProtectedFolder, workingFolderProblem } from '../../domain/folders';

describe('working folder safety', () => {
  test.each([
    ['C:\\', true],
    ['C:\\Windows', true],
    ['c:/windows/system32', true],
    ['C:\\Windows\\System32\\', true],
    ['C:\\Windows\\Temp\\Patchflow', true],
    ['C:\\Program Files', true],
    ['C:\\Program Files\\Patchflow', true],
    ['C:\\Program Files (x86)\\X', true],
    ['C:\\ProgramData', true],
    ['C:\\Users', true],
    ['C:\\ProgramData\\Patchflow\\Working', false],
    ['D:\\kworking', false],
    ['C:\\Patchflow\\Temp', false],
  ])('%s protected: %s', (folder, expected) => {
    expect(isProtectedFolder(folder)).toBe(expected);
  });

  test('a relative path is refused with a reason', () => {
    expect(workingFolderProblem('Patchflow\\Working')).toMatch(/not an absolute Windows path/);
  });

  test('System32 is refused as a working folder, a ProgramData subfolder is accepted', () => {
    expect(workingFolderProblem('C:\\Windows\\System32')).toMatch(/protected OS folder/);
    expect(workingFolderProblem('C:\\ProgramData\\Patchflow\\Working')).toBeUndefined();
  });

  test('the install folder may sit under Windows (C:\\Windows\\Patches) but not be Windows itself', () => {
    expect(installFolderProblem('C:\\Windows\\Patches')).toBeUndefined();
    expect(installFolderProblem('C:\\Windows')).toMatch(/protected OS folder/);
  });
});
