/**
 * Where patches are staged on a device, and which folders may serve. The working folder receives
 * downloads and the install folder the verified installers; both are emptied after every install, so
 * neither may be a folder the operating system, programs or users depend on: emptying `C:\Windows\System32`
 * or `/usr` destroys the machine.
 *
 * One function, `checkFolder`, decides: it canonicalises the path the way the device's file system
 * will read it, refuses what cannot be canonicalised safely, and only then applies the protected-folder
 * rules to the canonical, case-folded path. The API (device registration and folder changes), the
 * services that build install workflow inputs, and the agent (before it writes or deletes anything)
 * all call it, so a bypass refused in one place is refused in all three.
 *
 * Decisions worth knowing:
 * - Every `..` is refused, not resolved: a folder that needs `..` to name it is a mistake or an attack,
 *   and refusing is simpler to reason about than resolving against a root. A single `.` is dropped.
 * - Windows strips trailing dots and spaces from each segment (`C:\Windows.\System32` is System32), so
 *   the canonical path strips them too before any rule runs.
 * - The length limit (240) is checked on the raw input first, so a million characters costs nothing.
 * - 8.3 short names (`~` followed by a digit) are refused outright: `PROGRA~1` can name any folder, and
 *   only the device's file system knows which.
 */

import { UnsafeFolderError } from './errors';

/** The rule set a folder is checked with: follows the device's operating system (`folderPlatformOf`). */
export const FolderPlatform = {
  /** drive-letter paths, case-insensitive, Windows' reserved names and protected folders */
  Windows: 'windows',
  /** Linux and other POSIX agents: absolute, case-sensitive, the FHS system folders protected */
  Posix: 'posix',
} as const;
export type FolderPlatform = (typeof FolderPlatform)[keyof typeof FolderPlatform];

/** What the folder is for: the working folder may not be under Windows at all, the install folder may. */
export const FolderRole = {
  /** downloads land here and are hash-checked */
  Working: 'working',
  /** verified installers are copied here and executed from here */
  Install: 'install',
} as const;
export type FolderRole = (typeof FolderRole)[keyof typeof FolderRole];

/** The rule a refused folder breaks; shown to operators as `(rule: short-name)`. */
export const FolderRule = {
  /** not a string, or empty */
  Empty: 'empty',
  /** longer than MAX_FOLDER_LENGTH characters */
  TooLong: 'too-long',
  /** a control character, or an invisible / direction-changing one that hides what the path says */
  ControlCharacter: 'control-character',
  /** one of Windows' forbidden characters `<>"|?*` */
  ForbiddenCharacter: 'forbidden-character',
  /** a look-alike of `\`, `/` or `.` that Windows' best-fit conversion may turn into the real one */
  LookalikeCharacter: 'lookalike-character',
  /** `\\server\share`: a network share, not a local folder */
  Unc: 'unc',
  /** `\\?\` or `\\.\`: Win32 device or namespace paths skip the normalisation these rules rely on */
  DevicePath: 'device-path',
  /** not a drive-letter path (`C:\...`) on Windows, not starting with `/` on POSIX */
  NotAbsolute: 'not-absolute',
  /** `:` after the drive: an NTFS alternate data stream or `::$INDEX_ALLOCATION` */
  Stream: 'stream',
  /** a `..` segment, or a segment of dots and spaces that Windows would read as one */
  ParentSegment: 'parent-segment',
  /** an 8.3 short name such as `PROGRA~1` */
  ShortName: 'short-name',
  /** a DOS device name (`CON`, `NUL`, `COM1`, `LPT¹`...) as a segment or a segment's stem (`CON.txt`) */
  DeviceName: 'device-name',
  /** a drive root, an OS folder, or a folder under one */
  Protected: 'protected',
  /** POSIX, on the device: the folder or a folder above it belongs to another user */
  ForeignOwner: 'foreign-owner',
  /** POSIX, on the device: another user can write to the folder, or replace a folder above it */
  WritableByOthers: 'writable-by-others',
  /** POSIX, on the device: a path component is not a directory (a file, a device) */
  NotDirectory: 'not-directory',
} as const;
export type FolderRule = (typeof FolderRule)[keyof typeof FolderRule];

export interface FolderProblem {
  rule: FolderRule;
  /** for operators: what is wrong, ending in `(rule: ...)` */
  message: string;
}

/** The verdict on a folder: its canonical spelling, or the rule it breaks. */
export type FolderCheck = { ok: true; canonical: string } | { ok: false; problem: FolderProblem };

/** Longer paths are refused before any other work; leaves room under MAX_PATH (260) for file names. */
export const MAX_FOLDER_LENGTH = 240;

/** Default working (temp) folder on Windows: downloads land here and are hash-checked. */
export const DEFAULT_WORKING_FOLDER = 'C:\\ProgramData\\Patchflow\\Working';
/** Default install folder on Windows (Kaseya's: "copied to C:\Windows\Patches where they are executed"). */
export const DEFAULT_INSTALL_FOLDER = 'C:\\Windows\\Patches';
/** Default working folder on a POSIX agent. */
export const DEFAULT_POSIX_WORKING_FOLDER = '/var/lib/patchflow/working';
/** Default install folder on a POSIX agent. */
export const DEFAULT_POSIX_INSTALL_FOLDER = '/var/lib/patchflow/install';

/**
 * The rule set for a device, from the `os` it was registered with. Devices record `os` as free text
 * (`server2022`, `win10`, `Windows Server 2019`, `ubuntu-22.04`); anything not recognisably Linux or
 * another Unix is Windows, which is what every agent so far runs.
 */
export function folderPlatformOf(os: string | null | undefined): FolderPlatform {
  if (os && /\b(linux|ubuntu|debian|rhel|red ?hat|centos|rocky|almalinux|fedora|suse|sles|alpine|posix|unix|freebsd|darwin|mac ?os)\b/i.test(os)) {
    return FolderPlatform.Posix;
  }
  return FolderPlatform.Windows;
}

/** The default working and install folders for a platform. */
export function defaultFolders(platform: FolderPlatform): { workingFolder: string; installFolder: string } {
  return platform === FolderPlatform.Posix
    ? { workingFolder: DEFAULT_POSIX_WORKING_FOLDER, installFolder: DEFAULT_POSIX_INSTALL_FOLDER }
    : { workingFolder: DEFAULT_WORKING_FOLDER, installFolder: DEFAULT_INSTALL_FOLDER };
}

/**
 * Canonicalises `folder` for `platform` and checks it may serve as the `role` folder. Pure: no file
 * system access (whether another user can write to the folder is the agent's check on a real machine).
 */
export function checkFolder(folder: unknown, options: { role: FolderRole; platform?: FolderPlatform }): FolderCheck {
  const role = options.role;
  const platform = options.platform ?? FolderPlatform.Windows;
  const label = `${role} folder`;
  if (typeof folder !== 'string' || folder.length === 0) return refused(FolderRule.Empty, `${label} is empty`);
  // Before anything else, so the cost of a huge input is one comparison.
  if (folder.length > MAX_FOLDER_LENGTH) {
    return refused(FolderRule.TooLong, `${label} is ${folder.length} characters long; at most ${MAX_FOLDER_LENGTH} are allowed`);
  }
  const shown = `${label} "${folder}"`;
  const control = CONTROL_CHARACTERS.exec(folder);
  if (control) {
    return refused(FolderRule.ControlCharacter, `${label} contains the character U+${codePoint(control[0])}, which is a control or invisible character`);
  }
  return platform === FolderPlatform.Posix ? checkPosix(folder, role, shown) : checkWindows(folder, role, shown);
}

/** The message for a folder that breaks a rule, or undefined when it may serve as the working folder. */
export function workingFolderProblem(folder: unknown, platform: FolderPlatform = FolderPlatform.Windows): string | undefined {
  const r = checkFolder(folder, { role: FolderRole.Working, platform });
  return r.ok ? undefined : r.problem.message;
}

/** The message for a folder that breaks a rule, or undefined when it may serve as the install folder. */
export function installFolderProblem(folder: unknown, platform: FolderPlatform = FolderPlatform.Windows): string | undefined {
  const r = checkFolder(folder, { role: FolderRole.Install, platform });
  return r.ok ? undefined : r.problem.message;
}

/**
 * Both folders of a device at once: their canonical spellings, or the first problem with the field it
 * concerns. What the install services call before any workflow starts.
 */
export function checkDeviceFolders(
  folders: { workingFolder: string; installFolder: string },
  platform: FolderPlatform,
): { ok: true; workingFolder: string; installFolder: string } | { ok: false; field: 'workingFolder' | 'installFolder'; problem: FolderProblem } {
  const working = checkFolder(folders.workingFolder, { role: FolderRole.Working, platform });
  if (!working.ok) return { ok: false, field: 'workingFolder', problem: working.problem };
  const install = checkFolder(folders.installFolder, { role: FolderRole.Install, platform });
  if (!install.ok) return { ok: false, field: 'installFolder', problem: install.problem };
  return { ok: true, workingFolder: working.canonical, installFolder: install.canonical };
}

/**
 * A device's stored folders, canonical, ready for a workflow input; throws `UnsafeFolderError` naming
 * the field and the rule when either breaks one (a row written before these rules, or edited by hand).
 */
export function requireSafeDeviceFolders(device: { id: string; os: string | null; workingFolder: string; installFolder: string }): { workingFolder: string; installFolder: string } {
  const r = checkDeviceFolders(device, folderPlatformOf(device.os));
  if (!r.ok) throw new UnsafeFolderError(device.id, r.field, r.problem.rule, r.problem.message);
  return { workingFolder: r.workingFolder, installFolder: r.installFolder };
}

// ---- Windows ----

/** C0 controls, DEL, C1 controls, zero-width and bidirectional controls, the BOM. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u;
const FORBIDDEN_CHARACTERS = /[<>"|?*]/;
/**
 * Fullwidth and other look-alikes of `\`, `/` and `.` (and ¥ / ₩, which are `\` in Japanese and
 * Korean code pages): Windows' best-fit mapping turns them into the real character when a path passes
 * through an ANSI API, after our check has already seen a harmless name.
 */
const LOOKALIKE_CHARACTERS = /[\uff3c\uff0f\u2215\u2044\u29f5\u29f8\u29f9\ufe68\uff0e\u2024\ufe52\u00a5\u20a9]/u;
/** `~` followed by a digit: how 8.3 aliases (`PROGRA~1`, `DOCUME~1`) look. */
const SHORT_NAME = /~\d/;
/** Reserved DOS device names, with the superscript digits Windows also treats as device numbers. */
const DEVICE_NAMES = /^(con|prn|aux|nul|conin\$|conout\$|clock\$|(com|lpt)[0-9\u00b9\u00b2\u00b3])$/i;

/** Folders directly in the Windows folder that Windows itself owns (a fresh install's top level). */
const WINDOWS_OS_FOLDERS = new Set([
  'addins', 'appcompat', 'apppatch', 'appreadiness', 'assembly', 'bcastdvr', 'bitlockerdiscoveryvolumecontents', 'boot', 'branding',
  'cbstemp', 'containers', 'csc', 'cursors', 'debug', 'diagnostics', 'diagtrack', 'digitallocker', 'downloaded program files',
  'elambkup', 'en-us', 'fonts', 'globalization', 'help', 'ime', 'immersivecontrolpanel', 'inf', 'inputmethod', 'installer',
  'l2schemas', 'lastgood', 'livekernelreports', 'logs', 'media', 'microsoft.net', 'migration', 'minidump', 'modemlogs', 'ocr',
  'offline web pages', 'panther', 'performance', 'pla', 'policydefinitions', 'prefetch', 'printdialog', 'provisioning',
  'registration', 'remote packages', 'rescache', 'resources', 'schcache', 'schemas', 'security', 'serviceprofiles',
  'servicestate', 'servicing', 'setup', 'shellcomponents', 'shellexperiences', 'skb', 'softwaredistribution', 'speech',
  'speech_onecore', 'sysnative', 'system', 'system32', 'systemapps', 'systemresources', 'systemtemp', 'syswow64', 'tapi',
  'tasks', 'temp', 'tracing', 'twain_32', 'vss', 'waas', 'web', 'winsxs', 'wlansvc',
]);
/** Top-level folders that are protected with everything under them, on any drive. */
const WINDOWS_PROTECTED_TREES = new Set([
  'documents and settings', '$recycle.bin', 'recycler', 'system volume information', 'boot', 'recovery', 'efi',
  'config.msi', '$windows.~bt', '$windows.~ws', '$winreagent', '$sysreset', 'windows.old', 'msocache',
]);
/** ProgramData's compatibility junctions: `Application Data` is ProgramData itself, the rest Users\Public's folders. */
const PROGRAMDATA_JUNCTIONS = new Set(['microsoft', 'application data', 'desktop', 'documents', 'favorites', 'start menu', 'templates']);
/** Users' junctions and shared profiles: `All Users` is ProgramData, `Default User` is Default. */
const USERS_JUNCTIONS = new Set(['all users', 'default user']);
/** Folders of a user profile that hold the user's own data or settings. */
const PROFILE_FOLDERS = new Set([
  'appdata', 'application data', 'contacts', 'cookies', 'desktop', 'documents', 'downloads', 'favorites', 'links', 'local settings',
  'music', 'my documents', 'nethood', 'onedrive', 'pictures', 'printhood', 'recent', 'saved games', 'searches', 'sendto',
  'start menu', 'templates', 'videos', '3d objects',
]);

function checkWindows(raw: string, role: FolderRole, shown: string): FolderCheck {
  if (LOOKALIKE_CHARACTERS.test(raw)) return refused(FolderRule.LookalikeCharacter, `${shown} contains a look-alike of \\, / or . that Windows may convert to the real character`);
  const path = raw.replace(/\//g, '\\');
  if (/^\\\\[?.]\\/.test(path) || path.startsWith('\\??\\')) {
    return refused(FolderRule.DevicePath, `${shown} is a Win32 device or namespace path (\\\\?\\, \\\\.\\); give a plain path such as C:\\Patchflow\\Working`);
  }
  if (path.startsWith('\\\\')) return refused(FolderRule.Unc, `${shown} is a network share (UNC path); the folder must be on a local drive`);
  const drive = /^([A-Za-z]):\\/.exec(path);
  if (!drive) return refused(FolderRule.NotAbsolute, `${shown} is not an absolute Windows path (e.g. C:\\Patchflow\\Working)`);
  const rest = path.slice(3);
  if (rest.includes(':')) return refused(FolderRule.Stream, `${shown} names an NTFS stream (":" after the drive)`);
  const forbidden = FORBIDDEN_CHARACTERS.exec(rest);
  if (forbidden) return refused(FolderRule.ForbiddenCharacter, `${shown} contains "${forbidden[0]}", which Windows forbids in names`);

  const segments: string[] = [];
  for (const original of rest.split('\\')) {
    if (original === '' || original === '.') continue; // repeated separators, "."
    // Windows drops trailing dots and spaces: "Windows." and "Windows " are "Windows".
    const segment = original.replace(/[. ]+$/, '');
    if (segment === '' || original === '..') {
      return refused(FolderRule.ParentSegment, `${shown} contains "${original}", which climbs to the parent folder; ".." is not allowed in a folder`);
    }
    if (SHORT_NAME.test(segment)) return refused(FolderRule.ShortName, `${shown} contains the 8.3 short name "${segment}"; give the full folder name`);
    // "CON.txt" and "NUL .log" open the device too: the stem before the first dot counts.
    const stem = segment.split('.')[0]!.replace(/ +$/, '');
    if (DEVICE_NAMES.test(stem)) return refused(FolderRule.DeviceName, `${shown} contains "${segment}", a reserved DOS device name`);
    segments.push(segment);
  }
  const canonical = `${drive[1]!.toUpperCase()}:\\${segments.join('\\')}`;
  const protectedBy = windowsProtection(segments.map((s) => s.toLowerCase()), role);
  if (protectedBy) return refused(FolderRule.Protected, `${shown} is ${protectedBy}; it is emptied after every install`);
  return { ok: true, canonical };
}

/** Why a canonical, case-folded Windows path (segments after the drive) is protected, or undefined. */
function windowsProtection(s: string[], role: FolderRole): string | undefined {
  const [top, second, third, fourth] = s;
  if (top === undefined) return 'a drive root';
  if (top.startsWith('program files')) return 'Program Files or inside it';
  if (WINDOWS_PROTECTED_TREES.has(top)) return `a protected OS folder (\\${top}) or inside it`;
  if (top === 'windows') {
    if (second === undefined) return 'the Windows folder';
    if (role === FolderRole.Working) return 'inside the Windows folder, where no working folder may be';
    if (WINDOWS_OS_FOLDERS.has(second)) return `an OS folder (Windows\\${second}) or inside it`;
    return undefined; // a dedicated folder such as C:\Windows\Patches
  }
  if (top === 'programdata') {
    if (second === undefined) return 'ProgramData itself';
    if (PROGRAMDATA_JUNCTIONS.has(second)) return `ProgramData\\${second} or inside it`;
    return undefined;
  }
  if (top === 'users') {
    if (second === undefined) return 'the Users folder';
    if (USERS_JUNCTIONS.has(second)) return `Users\\${second} (a junction to a shared profile) or inside it`;
    if (third === undefined) return 'a user profile root';
    if (third === 'appdata') {
      // A program's own folder in AppData (AppData\Local\Patchflow) is fine; AppData's roots and
      // their Microsoft, Temp and Packages folders are not.
      if (fourth === undefined || s.length === 4) return "a user profile's AppData folder";
      if (['microsoft', 'temp', 'packages'].includes(s[4]!)) return `a user profile's AppData\\${fourth}\\${s[4]} folder or inside it`;
      return undefined;
    }
    if (PROFILE_FOLDERS.has(third)) return `a user profile's ${third} folder or inside it`;
    return undefined;
  }
  return undefined;
}

// ---- POSIX ----

/** Protected with everything under them. */
const POSIX_PROTECTED_TREES = new Set(['bin', 'boot', 'dev', 'etc', 'proc', 'root', 'run', 'sbin', 'sys', 'usr', 'snap', 'lost+found', 'efi']);
/** Protected themselves; a dedicated folder inside them is fine. */
const POSIX_PROTECTED_ROOTS = new Set(['home', 'tmp', 'var', 'opt', 'srv', 'mnt', 'media']);
/** Under /var: protected with everything under them. */
const POSIX_VAR_TREES = new Set(['log', 'run', 'lock', 'spool', 'mail', 'backups']);
/** Under /var: protected themselves. */
const POSIX_VAR_ROOTS = new Set(['lib', 'cache', 'tmp', 'local', 'opt']);
/** Under /var/lib: package databases and system state, protected with everything under them. */
const POSIX_VAR_LIB_TREES = new Set(['dpkg', 'apt', 'rpm', 'yum', 'dnf', 'systemd', 'ucf', 'pam', 'sudo', 'polkit-1', 'snapd']);

function checkPosix(raw: string, _role: FolderRole, shown: string): FolderCheck {
  if (!raw.startsWith('/')) return refused(FolderRule.NotAbsolute, `${shown} is not an absolute path (e.g. ${DEFAULT_POSIX_WORKING_FOLDER})`);
  const segments: string[] = [];
  for (const segment of raw.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') return refused(FolderRule.ParentSegment, `${shown} contains "..", which climbs to the parent folder; ".." is not allowed in a folder`);
    segments.push(segment);
  }
  const canonical = `/${segments.join('/')}`;
  const protectedBy = posixProtection(segments);
  if (protectedBy) return refused(FolderRule.Protected, `${shown} is ${protectedBy}; it is emptied after every install`);
  return { ok: true, canonical };
}

/** Why a canonical POSIX path (case-sensitive segments) is protected, or undefined. */
function posixProtection(s: string[]): string | undefined {
  const [top, second, third] = s;
  if (top === undefined) return 'the root folder';
  if (POSIX_PROTECTED_TREES.has(top) || /^lib(32|64|x32)?$/.test(top)) return `a system folder (/${top}) or inside it`;
  if (second === undefined && POSIX_PROTECTED_ROOTS.has(top)) return `a system folder (/${top}) itself`;
  if (top === 'home' && third === undefined) return 'a home directory root';
  if (top === 'var') {
    if (POSIX_VAR_TREES.has(second!)) return `a system folder (/var/${second}) or inside it`;
    if (third === undefined && POSIX_VAR_ROOTS.has(second!)) return `a system folder (/var/${second}) itself`;
    if (second === 'lib' && POSIX_VAR_LIB_TREES.has(third!)) return `system state (/var/lib/${third}) or inside it`;
  }
  return undefined;
}

/** One component of a folder's real path as the device's lstat saw it (agent/folder-guard.ts collects them). */
export interface PosixPathComponent {
  /** e.g. "/var", "/var/lib", "/var/lib/patchflow/working" */
  path: string;
  uid: number;
  /** st_mode: type and permission bits */
  mode: number;
  isDirectory: boolean;
  isSymbolicLink: boolean;
}

const S_IWGRP = 0o020;
const S_IWOTH = 0o002;
const S_ISVTX = 0o1000;

/**
 * Whether another user could put a file of their choosing where the agent runs installers from, or swap
 * a folder on the way there (issue 10.1): every component of the folder's real (symlink-free) path, from
 * `/` down, must be a directory owned by root or the agent's own user, and not writable by group or
 * others. A folder above the target may be world-writable only when it is sticky and owned by root or
 * the agent (`/tmp`: nobody can rename or delete what they do not own there); the folder itself never.
 * Pure; `components` come from lstat on the device, root first.
 */
export function posixOwnershipProblem(components: readonly PosixPathComponent[], agentUid: number, label = 'folder'): FolderProblem | undefined {
  const owners = new Set([0, agentUid]);
  const problem = (rule: FolderRule, message: string): FolderProblem => ({ rule, message: `${message} (rule: ${rule})` });
  for (let i = 0; i < components.length; i++) {
    const c = components[i]!;
    const isTarget = i === components.length - 1;
    if (c.isSymbolicLink) return problem(FolderRule.NotDirectory, `${label}: ${c.path} is a symbolic link; the real path must be given`);
    if (!c.isDirectory) return problem(FolderRule.NotDirectory, `${label}: ${c.path} is not a directory`);
    if (!owners.has(c.uid)) return problem(FolderRule.ForeignOwner, `${label}: ${c.path} belongs to user ${c.uid}, not to root or the agent's user (${agentUid})`);
    const writable = (c.mode & (S_IWGRP | S_IWOTH)) !== 0;
    if (!writable) continue;
    const mode = (c.mode & 0o7777).toString(8).padStart(4, '0');
    if (isTarget) return problem(FolderRule.WritableByOthers, `${label}: ${c.path} can be written by other users (mode ${mode})`);
    if ((c.mode & S_ISVTX) === 0) return problem(FolderRule.WritableByOthers, `${label}: ${c.path} above it can be written by other users and is not sticky (mode ${mode})`);
  }
  return undefined;
}

// ---- shared ----

function refused(rule: FolderRule, message: string): FolderCheck {
  return { ok: false, problem: { rule, message: `${message} (rule: ${rule})` } };
}

function codePoint(ch: string): string {
  return ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
}
