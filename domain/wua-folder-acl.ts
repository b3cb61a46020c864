/**
 * Who may write to the agent's working and install folders on Windows. The folders hold installers
 * between their SHA-256 check and their start, as SYSTEM: anyone else who can write there can swap one
 * in that moment, or plant a file for the next run. So only SYSTEM, Administrators and TrustedInstaller
 * may own them or hold a right that changes them; any other allow rule that applies to the folder itself
 * refuses it. (ProgramData lets every user create files in new subfolders by default, which is why the
 * agent locks down the folders it creates itself.)
 */
import type { FolderAcl } from './wua-schemas';

/** SIDs that may write: the machine's own accounts. */
export const TRUSTED_WRITERS: ReadonlyMap<string, string> = new Map([
  ['S-1-5-18', 'SYSTEM'],
  ['S-1-5-32-544', 'Administrators'],
  ['S-1-5-80-956008885-3425854143-1376854338-3349598542-1564418396', 'TrustedInstaller'],
]);

/** Well-known SIDs, named in messages so an operator knows whom to remove. */
const KNOWN: ReadonlyMap<string, string> = new Map([
  ['S-1-1-0', 'Everyone'],
  ['S-1-5-11', 'Authenticated Users'],
  ['S-1-5-32-545', 'Users'],
  ['S-1-5-4', 'INTERACTIVE'],
  ['S-1-5-32-547', 'Power Users'],
  ['S-1-5-20', 'Network Service'],
  ['S-1-5-19', 'Local Service'],
]);

/** CREATOR OWNER: a placeholder for whoever creates a child; it grants nothing on the folder itself. */
const CREATOR_OWNER = 'S-1-3-0';

/**
 * FileSystemRights bits that change a folder or what is in it: WriteData/CreateFiles, AppendData/
 * CreateDirectories, WriteExtendedAttributes, DeleteSubdirectoriesAndFiles, WriteAttributes, Delete,
 * ChangePermissions, TakeOwnership, and the generic GENERIC_ALL and GENERIC_WRITE.
 */
export const WRITE_RIGHTS = (0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000 | 0x10000000 | 0x40000000) >>> 0;

const nameOf = (sid: string) => `${sid}${KNOWN.has(sid) ? ` (${KNOWN.get(sid)})` : ''}`;

/**
 * What is wrong with who may change this folder, without the folder's name (callers prefix it), or
 * undefined. `alsoTrusted`: accounts the install itself runs as (a Patch Test's Set Credentials
 * account, which seed 003 requires to be named on the folder); nobody else is ever added.
 */
export function untrustedWriters(folder: FolderAcl, alsoTrusted: readonly string[] = []): string | undefined {
  if (!folder.exists) return 'does not exist';
  const trusted = (sid: string) => TRUSTED_WRITERS.has(sid) || alsoTrusted.includes(sid);
  if (folder.ownerSid !== null && !trusted(folder.ownerSid)) return `is owned by ${nameOf(folder.ownerSid)}, who can change its permissions`;
  const writers = new Set<string>();
  for (const rule of folder.rules) {
    if (!rule.allow || rule.inheritOnly || rule.sid === CREATOR_OWNER || trusted(rule.sid)) continue;
    if ((rule.rights & WRITE_RIGHTS) !== 0) writers.add(rule.sid);
  }
  if (writers.size === 0) return undefined;
  return `can be written by ${[...writers].map(nameOf).join(', ')}; only SYSTEM and Administrators may`;
}

/** Why someone other than the machine's own accounts can change this folder, or undefined. */
export function folderWritersProblem(folder: FolderAcl): string | undefined {
  const problem = untrustedWriters(folder);
  return problem && `${folder.path} ${problem}`;
}
