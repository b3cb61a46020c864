/**
 * The Patch Test (Kaseya, seed 003): a dry run of an install on one device, every step except execute and
 * reboot. The device (agent or simulator) reports what it observed — its credential, the working folder's
 * access rules, free space, what each file source answered, the Windows Update services' start types —
 * and this module alone decides which checks pass, so the API, the workflow and the simulator cannot
 * disagree about a reason.
 *
 * Decisions worth knowing:
 * - Folder permissions: SYSTEM must hold an allow rule with full write on the folder itself, nobody but
 *   SYSTEM, Administrators, TrustedInstaller (and a Set Credentials account) may write to it or own it,
 *   and a Set Credential account must be named in a rule of its own ("explicit membership";
 *   membership of Administrators alone does not count). This departs from seed 003 on one point: it
 *   asks for Network Service full write too. Kaseya's agent needs that; Patchflow's agents download,
 *   check and run installers as SYSTEM themselves, and refuse a folder that any other account can
 *   write (domain/wua-folder-acl.ts: a Network Service process could swap an installer between its
 *   SHA-256 check and its start, and have it run as SYSTEM). A test that demanded Network Service
 *   write would pass exactly the folders every install then refuses.
 * - A working folder that does not exist yet passes when the install runs as SYSTEM: the agent creates
 *   it at the download step, writable by SYSTEM and Administrators only. A Set Credentials account is
 *   not named on such a folder, so it fails then.
 * - A service whose start type is Manual passes; only Disabled fails (Salt refuses to run then). A service
 *   the device could not find fails too: Windows Update cannot run without it.
 * - Free space must cover the selected patches' total size plus a margin (`DISK_MARGIN_BYTES`), because
 *   an installer unpacks next to its download.
 * - A file source passes when it answered and the bytes it served hash to the catalog's SHA-256. One
 *   check per file and source, so an operator sees which source is broken.
 */
import { FolderPlatform, FolderRole, checkFolder } from './folders';
import { untrustedWriters } from './wua-folder-acl';
import type { FolderAcl } from './wua-schemas';

/** The names of the checks, in the order an install meets them. */
export const PatchTestCheck = {
  Credentials: 'credentials',
  FolderProtected: 'working-folder-protected',
  FolderPermissions: 'working-folder-permissions',
  DiskSpace: 'disk-space',
  FileSource: 'file-source',
  Services: 'windows-update-services',
} as const;
export type PatchTestCheck = (typeof PatchTestCheck)[keyof typeof PatchTestCheck];

/** Windows Update services that must not be Disabled (Salt's list). */
export const WINDOWS_UPDATE_SERVICES = ['wuauserv', 'msiserver', 'BITS', 'CryptSvc', 'TrustedInstaller'] as const;

/** SYSTEM needs full write on the working folder (seed 003). */
export const SYSTEM_SID = 'S-1-5-18';
/** Network Service: seed 003 asks it full write; Patchflow refuses it as a writer (see above). */
export const NETWORK_SERVICE_SID = 'S-1-5-20';

/** FileSystemRights.FullControl, and GENERIC_ALL which grants the same. */
const FULL_CONTROL = 0x1f01ff;
const GENERIC_ALL = 0x10000000;

/** Headroom beyond the patches' own size: installers unpack beside their download. */
export const DISK_MARGIN_BYTES = 512 * 1024 * 1024;

export type ServiceStartType = 'Automatic' | 'Manual' | 'Disabled' | 'Missing';

/** What the device observed, one field per check. */
export interface PatchTestObservation {
  /** `system` runs as LocalSystem; `set` uses the Agent's Set Credentials account */
  credential: { kind: 'system' } | { kind: 'set'; account: string; sid: string | null; verified: boolean; error?: string };
  platform?: FolderPlatform;
  workingFolder: string;
  workingFolderAcl: FolderAcl | null;
  /**
   * POSIX devices: why the agent's own folder check (owner, mode, symlinks: agent/folder-guard.ts)
   * refuses the working folder; absent when it would use it. Windows devices report the ACL instead.
   */
  folderProblem?: string;
  freeBytes: number | null;
  /** what each file source answered for each selected patch */
  files: Array<{ patchId: string; source: string; expectedSha256: string; sizeBytes: number; answered: boolean; sha256: string | null; error?: string }>;
  services: Record<string, ServiceStartType>;
}

export interface PatchTestCheckResult {
  check: PatchTestCheck;
  /** the patch and source a file-source check is about */
  subject?: string;
  passed: boolean;
  reason: string;
}

export interface PatchTestOutcome {
  passed: boolean;
  checks: PatchTestCheckResult[];
}

const hasFullWrite = (acl: FolderAcl, sid: string) =>
  acl.rules.some((r) => r.allow && !r.inheritOnly && r.sid === sid && ((r.rights & FULL_CONTROL) === FULL_CONTROL || (r.rights & GENERIC_ALL) !== 0));
const isNamed = (acl: FolderAcl, sid: string) => acl.rules.some((r) => r.allow && !r.inheritOnly && r.sid === sid);

function credentialCheck(o: PatchTestObservation): PatchTestCheckResult {
  const c = o.credential;
  if (c.kind === 'system') return { check: PatchTestCheck.Credentials, passed: true, reason: o.platform === FolderPlatform.Posix ? 'runs as root' : 'runs as System' };
  if (!c.verified) return { check: PatchTestCheck.Credentials, passed: false, reason: `Set Credentials for ${c.account} failed: ${c.error ?? 'not verified'}` };
  return { check: PatchTestCheck.Credentials, passed: true, reason: `Set Credentials for ${c.account} verified` };
}

function folderProtectedCheck(o: PatchTestObservation): PatchTestCheckResult {
  const result = checkFolder(o.workingFolder, { role: FolderRole.Working, platform: o.platform ?? FolderPlatform.Windows });
  if (result.ok) return { check: PatchTestCheck.FolderProtected, passed: true, reason: `${result.canonical} is not a protected folder` };
  return { check: PatchTestCheck.FolderProtected, passed: false, reason: `${o.workingFolder}: ${result.problem.message}` };
}

function folderPermissionsCheck(o: PatchTestObservation): PatchTestCheckResult {
  const check = PatchTestCheck.FolderPermissions;
  const acl = o.workingFolderAcl;
  if ((o.platform ?? FolderPlatform.Windows) === FolderPlatform.Posix) {
    if (o.folderProblem) return { check, passed: false, reason: `${o.workingFolder}: ${o.folderProblem}` };
    return { check, passed: true, reason: `${o.workingFolder}: owned by the agent's user, writable by no one else (the agent's own check)` };
  }
  if (!acl) return { check, passed: false, reason: 'the device did not report the working folder\'s permissions' };
  const credentialSid = o.credential.kind === 'set' ? o.credential.sid : null;
  if (!acl.exists) {
    if (o.credential.kind === 'set') return { check, passed: false, reason: `${acl.path} does not exist: create it and name ${o.credential.account} on it explicitly` };
    return { check, passed: true, reason: `${acl.path} does not exist yet: the agent creates it at the download step, writable by SYSTEM and Administrators only` };
  }
  const missing: string[] = [];
  if (!hasFullWrite(acl, SYSTEM_SID)) missing.push('System has no full write');
  // The rule the agent applies before it writes or runs anything there (folder-acl-guard.ts).
  const writers = untrustedWriters(acl, credentialSid ? [credentialSid] : []);
  if (writers) missing.push(`${writers} (the agent refuses to stage installers where others can write)`);
  if (o.credential.kind === 'set') {
    if (!o.credential.sid) missing.push(`${o.credential.account}'s SID is unknown`);
    else if (!isNamed(acl, o.credential.sid)) missing.push(`${o.credential.account} has no explicit membership (Administrators alone is not enough)`);
  }
  if (missing.length > 0) return { check, passed: false, reason: `${acl.path}: ${missing.join('; ')}` };
  return { check, passed: true, reason: `${acl.path}: System has full write, no one else may write${o.credential.kind === 'set' ? ` but ${o.credential.account}, who is named explicitly` : ''}` };
}

function diskCheck(o: PatchTestObservation): PatchTestCheckResult {
  const check = PatchTestCheck.DiskSpace;
  const needed = o.files.reduce((sum, f, i, all) => (all.findIndex((g) => g.patchId === f.patchId) === i ? sum + f.sizeBytes : sum), 0) + DISK_MARGIN_BYTES;
  if (o.freeBytes === null) return { check, passed: false, reason: 'the device did not report free space' };
  if (o.freeBytes < needed) return { check, passed: false, reason: `${o.freeBytes} bytes free, ${needed} needed (patches plus ${DISK_MARGIN_BYTES} margin)` };
  return { check, passed: true, reason: `${o.freeBytes} bytes free, ${needed} needed` };
}

function fileChecks(o: PatchTestObservation): PatchTestCheckResult[] {
  return o.files.map((f) => {
    const base = { check: PatchTestCheck.FileSource, subject: `${f.patchId} from ${f.source}` };
    if (!f.answered) return { ...base, passed: false, reason: `${f.source} did not answer for ${f.patchId}: ${f.error ?? 'no response'}` };
    if (f.sha256?.toLowerCase() !== f.expectedSha256.toLowerCase()) {
      return { ...base, passed: false, reason: `hash mismatch for ${f.patchId} from ${f.source}: expected ${f.expectedSha256}, got ${f.sha256 ?? 'nothing'}` };
    }
    return { ...base, passed: true, reason: `${f.source} served ${f.patchId}, SHA-256 matches` };
  });
}

function servicesCheck(o: PatchTestObservation): PatchTestCheckResult {
  const check = PatchTestCheck.Services;
  if ((o.platform ?? FolderPlatform.Windows) === FolderPlatform.Posix) return { check, passed: true, reason: 'not a Windows device' };
  const bad = WINDOWS_UPDATE_SERVICES.flatMap((name) => {
    const start = o.services[name] ?? 'Missing';
    return start === 'Disabled' || start === 'Missing' ? [`${name} is ${start}`] : [];
  });
  if (bad.length > 0) return { check, passed: false, reason: bad.join('; ') };
  return { check, passed: true, reason: 'no Windows Update service is Disabled' };
}

/**
 * Start types as the Windows agent reads them (Get-Service's ServiceStartMode names): Boot and System
 * start with the kernel, so they count as Automatic; a service not found is Missing. undefined when a
 * found service came without a start type (a script too old to say): guessing would hide a Disabled one.
 */
export function windowsStartTypes(rows: readonly { name: string; found: boolean; startType?: string | null }[]): Record<string, ServiceStartType> | undefined {
  const out: Record<string, ServiceStartType> = {};
  for (const r of rows) {
    if (!r.found) { out[r.name] = 'Missing'; continue; }
    switch (r.startType) {
      case 'Disabled': out[r.name] = 'Disabled'; break;
      case 'Manual': out[r.name] = 'Manual'; break;
      case 'Automatic': case 'Boot': case 'System': out[r.name] = 'Automatic'; break;
      default: return undefined;
    }
  }
  return out;
}

/** Every check, pass or fail with its reason; the test passes only when all do. */
export function evaluatePatchTest(o: PatchTestObservation): PatchTestOutcome {
  const checks = [credentialCheck(o), folderProtectedCheck(o), folderPermissionsCheck(o), diskCheck(o), ...fileChecks(o), servicesCheck(o)];
  return { passed: checks.every((c) => c.passed), checks };
}
