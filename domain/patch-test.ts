/**
 * The Patch Test (Kaseya, seed 003): a dry run of an install on one device, every step except execute and
 * reboot. The device (agent or simulator) reports what it observed — its credential, the working folder's
 * access rules, free space, what each file source answered, the Windows Update services' start types —
 * and this module alone decides which checks pass, so the API, the workflow and the simulator cannot
 * disagree about a reason.
 *
 * Decisions worth knowing:
 * - Folder permissions follow seed 003: SYSTEM and Network Service must each hold an allow rule with full
 *   write on the folder itself, and a Set Credential account must be named in a rule of its own
 *   ("explicit membership"); membership of Administrators alone does not count.
 * - A service whose start type is Manual passes; only Disabled fails (Salt refuses to run then). A service
 *   the device could not find fails too: Windows Update cannot run without it.
 * - Free space must cover the selected patches' total size plus a margin (`DISK_MARGIN_BYTES`), because
 *   an installer unpacks next to its download.
 * - A file source passes when it answered and the bytes it served hash to the catalog's SHA-256. One
 *   check per file and source, so an operator sees which source is broken.
 */
import { FolderPlatform, FolderRole, checkFolder } from './folders';
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

/** SYSTEM and Network Service: both need full write on the working folder (seed 003). */
export const SYSTEM_SID = 'S-1-5-18';
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
  if (c.kind === 'system') return { check: PatchTestCheck.Credentials, passed: true, reason: 'runs as System' };
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
  if ((o.platform ?? FolderPlatform.Windows) === FolderPlatform.Posix) return { check, passed: true, reason: 'POSIX device: ownership is checked by the agent before it writes' };
  if (!acl) return { check, passed: false, reason: 'the device did not report the working folder\'s permissions' };
  if (!acl.exists) return { check, passed: false, reason: `${acl.path} does not exist` };
  const missing: string[] = [];
  if (!hasFullWrite(acl, SYSTEM_SID)) missing.push('System has no full write');
  if (!hasFullWrite(acl, NETWORK_SERVICE_SID)) missing.push('Network Service has no full write');
  if (o.credential.kind === 'set') {
    if (!o.credential.sid) missing.push(`${o.credential.account}'s SID is unknown`);
    else if (!isNamed(acl, o.credential.sid)) missing.push(`${o.credential.account} has no explicit membership (Administrators alone is not enough)`);
  }
  if (missing.length > 0) return { check, passed: false, reason: `${acl.path}: ${missing.join('; ')}` };
  return { check, passed: true, reason: `${acl.path}: System and Network Service have full write${o.credential.kind === 'set' ? `, ${o.credential.account} is named explicitly` : ''}` };
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

/** Every check, pass or fail with its reason; the test passes only when all do. */
export function evaluatePatchTest(o: PatchTestObservation): PatchTestOutcome {
  const checks = [credentialCheck(o), folderProtectedCheck(o), folderPermissionsCheck(o), diskCheck(o), ...fileChecks(o), servicesCheck(o)];
  return { passed: checks.every((c) => c.passed), checks };
}
