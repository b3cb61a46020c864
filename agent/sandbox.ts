import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';

/** Thrown when a Windows path cannot be mapped into the sandbox (relative, or climbing out with ".."). */
export class SandboxPathError extends Error {}

/**
 * Maps a simulated device's Windows paths onto a real local directory:
 * `C:\ProgramData\Patchflow\Working` → `<root>/C/ProgramData/Patchflow/Working`.
 * Case is kept as given (Windows would ignore it; Patchflow always sends the same spelling).
 */
export class WindowsSandbox {
  constructor(readonly root: string) {}

  /** The local directory for an absolute Windows path. */
  localPath(windowsPath: string): string {
    const m = /^([a-zA-Z]):(?:[\\/](.*))?$/.exec(windowsPath.trim());
    if (!m) throw new SandboxPathError(`"${windowsPath}" is not an absolute Windows path`);
    const segments = (m[2] ?? '').split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
    if (segments.some((s) => s === '..')) throw new SandboxPathError(`"${windowsPath}" climbs out of its folder with ".."`);
    return path.join(this.root, m[1]!.toUpperCase(), ...segments);
  }

  /** A local path for a file name inside a Windows folder. */
  localFile(windowsFolder: string, fileName: string): string {
    return path.join(this.localPath(windowsFolder), checkFileName(fileName));
  }
}

/** `C:\Folder` + `file.msu` → `C:\Folder\file.msu`, as the device would name it. */
export function windowsJoin(folder: string, fileName: string): string {
  return `${folder.replace(/[\\/]+$/, '')}\\${fileName}`;
}

/** Installer file names come from the server: a name with a separator or ".." could write anywhere. */
export function checkFileName(fileName: string): string {
  if (!fileName || /[\\/:*?"<>|]/.test(fileName) || fileName === '.' || fileName === '..') {
    throw new SandboxPathError(`"${fileName}" is not a plain file name`);
  }
  return fileName;
}

/** Every file under a directory (recursively), as paths relative to it; [] when it does not exist. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

/** Removes everything inside `dir` (creating it when absent) and returns how many files went. */
export async function emptyDirectory(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true });
  const files = await listFiles(dir);
  for (const entry of await readdir(dir)) await rm(path.join(dir, entry), { recursive: true, force: true });
  return files.length;
}

export async function fileExists(file: string): Promise<boolean> {
  return stat(file).then((s) => s.isFile(), () => false);
}
