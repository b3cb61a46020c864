/**
 * Where patches are staged on a Windows device. The working folder receives downloads and is emptied
 * after every install, so it must never be a folder Windows or programs depend on: emptying
 * `C:\Windows` or `C:\Program Files` would destroy the machine.
 */

/** Default working (temp) folder: downloads land here and are hash-checked. */
export const DEFAULT_WORKING_FOLDER = 'C:\\ProgramData\\Patchflow\\Working';
/** Default install folder: verified installers are copied here and executed from here. */
export const DEFAULT_INSTALL_FOLDER = 'C:\\Windows\\Patches';

const PROTECTED = [
  '', // a drive root such as C:\
  'windows',
  'windows\\system32',
  'windows\\syswow64',
  'windows\\winsxs',
  'program files',
  'program files (x86)',
  'programdata',
  'users',
  'boot',
  'recovery',
  'system volume information',
];

/** Lower-cased path without the drive letter and without trailing separators: "windows\\system32". */
function normalise(folder: string): string {
  return folder
    .trim()
    .replace(/\//g, '\\')
    .replace(/^[a-zA-Z]:/, '')
    .replace(/^\\+|\\+$/g, '')
    .replace(/\\+/g, '\\')
    .toLowerCase();
}

/** True for a Windows absolute path such as `C:\Patchflow\Working`. */
export function isAbsoluteWindowsPath(folder: string): boolean {
  return /^[a-zA-Z]:[\\/]/.test(folder.trim());
}

/**
 * True when `folder` is a protected OS folder itself or lies inside `Windows`, `Program Files` or
 * `System32`, so it may not serve as a working folder. Subfolders of ProgramData or Users are fine
 * (`C:\ProgramData\Patchflow\Working`), those folders themselves are not.
 */
export function isProtectedFolder(folder: string): boolean {
  const n = normalise(folder);
  if (PROTECTED.includes(n)) return true;
  return ['windows\\', 'program files\\', 'program files (x86)\\'].some((p) => n.startsWith(p));
}

/** Why `folder` cannot be a working folder, or undefined when it can. */
export function workingFolderProblem(folder: string): string | undefined {
  if (!isAbsoluteWindowsPath(folder)) return `working folder "${folder}" is not an absolute Windows path (e.g. C:\\Patchflow\\Working)`;
  if (isProtectedFolder(folder)) return `working folder "${folder}" is a protected OS folder; it is emptied after every install`;
  return undefined;
}

/** Why `folder` cannot be an install folder, or undefined when it can. */
export function installFolderProblem(folder: string): string | undefined {
  if (!isAbsoluteWindowsPath(folder)) return `install folder "${folder}" is not an absolute Windows path (e.g. C:\\Windows\\Patches)`;
  // The install folder is emptied too, so it may sit under Windows but never be an OS folder itself.
  if (PROTECTED.includes(normalise(folder))) return `install folder "${folder}" is a protected OS folder; it is emptied after every install`;
  return undefined;
}
