/**
 * The folders the device will write to and empty: the same rules as the API's (domain/folders.ts),
 * checked again here because only the device's own check stands between a wrong or tampered command and
 * a deleted folder. Files are written and deleted only under the canonical path.
 */
import { checkFolder, FolderPlatform, FolderRole } from '../../domain/folders';

/** The canonical spelling of a folder the server sent, or why the device will not touch it. */
export function safeFolder(folder: unknown, role: FolderRole): string | { refused: string } {
  const r = checkFolder(folder, { role, platform: FolderPlatform.Windows });
  return r.ok ? r.canonical : { refused: `refused by the device: ${r.problem.message}` };
}

export function safeFolders(p: { workingFolder: unknown; installFolder: unknown }): { workingFolder: string; installFolder: string } | { refused: string } {
  const workingFolder = safeFolder(p.workingFolder, FolderRole.Working);
  if (typeof workingFolder !== 'string') return workingFolder;
  const installFolder = safeFolder(p.installFolder, FolderRole.Install);
  if (typeof installFolder !== 'string') return installFolder;
  return { workingFolder, installFolder };
}
