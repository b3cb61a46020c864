import type { DownloadReport, FileSource } from './file-source';
import type { HealthCheckPayload, HealthCheckResult } from './health-check';
import type { PatchTestObservation } from './patch-test';

/**
 * The device protocol: what the install workflow asks of a device, and what a device answers.
 * Shared by the workflow (types only), the deviceCommand activity, the agent gateway and the agents.
 * Every shape here is JSON: it travels in Temporal payloads, in agent_commands rows and over HTTPS.
 */

/** The steps a device can be asked to run. */
export const CommandType = {
  /** Report every applicable update, installed or missing (Windows Update Agent search). */
  Scan: 'scan',
  /**
   * Fetch updates into the working folder, each checked against the catalog's size and SHA-256: one
   * (DownloadPayload, installs before the one download command) or all of an install's (DownloadPatchesPayload).
   */
  Download: 'download',
  /** Copy downloaded updates from the working folder to the install folder. */
  Copy: 'copy',
  /** Run one update's installer from the install folder; the exit code is the answer. */
  Execute: 'execute',
  /**
   * Run an install's installers in order, in one command (installs since `patched('batched-execute')`):
   * before each one the agent asks the gateway for a go-ahead (the install's own halts and maintenance
   * window decide), and it answers each patch on its own (ExecutePatchesResult). A new type, not a new
   * execute payload: an agent that predates it answers UnknownCommand before it runs anything, and the
   * install falls back to one execute command per patch.
   */
  ExecutePatches: 'execute_patches',
  /** Restart Windows. Acknowledged first; done when the device checks in with a new boot id. */
  Reboot: 'reboot',
  /** Empty the working and install folders. Runs after every install, whatever its outcome. */
  Cleanup: 'cleanup',
  /** Remove an installed update (an operator's Uninstall action); the exit code is the answer. */
  Uninstall: 'uninstall',
  /**
   * Run one of the named health checks the agent knows (domain/health-check.ts: services running,
   * processes running), never a script; the answer says healthy or not, with each name's state.
   */
  HealthCheck: 'health_check',
  /**
   * The Patch Test (Kaseya, seed 003): report what an install would meet, running nothing: the
   * credential, the working folder as the file system resolves it and its access rules, free space,
   * what each file source answers for the selected patches (and their SHA-256), the Windows Update
   * services' start types. The server decides pass or fail (domain/patch-test.ts).
   */
  PatchTest: 'patch_test',
  /**
   * Replace the command keys the agent pins with this full list (key rotation). Signed, like every
   * command, by a key the agent already pins; the agent itself answers it, the device never sees it.
   */
  TrustKeys: 'trust_keys',
} as const;
export type CommandType = (typeof CommandType)[keyof typeof CommandType];

/** Windows Update classifications, as WUA names them. */
export const Classification = {
  SecurityUpdate: 'Security Updates',
  CriticalUpdate: 'Critical Updates',
  UpdateRollup: 'Update Rollups',
  ServicePack: 'Service Packs',
  Update: 'Updates',
  FeaturePack: 'Feature Packs',
  Definition: 'Definition Updates',
  Driver: 'Drivers',
  Tool: 'Tools',
} as const;
export type Classification = (typeof Classification)[keyof typeof Classification];

/** MSRC severity. Many updates carry none: those are "Unrated", never an accidental approval. */
export const Severity = {
  Critical: 'Critical',
  Important: 'Important',
  Moderate: 'Moderate',
  Low: 'Low',
  Unrated: 'Unrated',
} as const;
export type Severity = (typeof Severity)[keyof typeof Severity];

/** Whether an update asks for a restart after it installs. */
export const RebootBehavior = {
  NeverReboots: 'never',
  AlwaysRequiresReboot: 'always',
  CanRequestReboot: 'can_request',
} as const;
export type RebootBehavior = (typeof RebootBehavior)[keyof typeof RebootBehavior];

/**
 * One applicable update as the workflows see it: the CATALOG's facts about the update (from the signed
 * feed, never from a device) plus the one thing only the device knows, whether it is installed. The
 * gateway builds these from a device's `ScanReport` (api/scan-report.ts) before the scan step completes.
 */
export interface ScannedUpdate {
  /** WUA update id (a GUID) */
  updateId: string;
  revision: number;
  /** e.g. "KB5034441" */
  kb: string;
  title: string;
  product: string;
  classification: Classification;
  severity: Severity;
  /** ISO date */
  publishedAt: string;
  sizeBytes: number;
  /** lower-case hex SHA-256 of the installer file */
  sha256: string;
  downloadUrl: string;
  /** installer file name, e.g. "windows10.0-kb5034441-x64.msu" */
  fileName: string;
  rebootBehavior: RebootBehavior;
  installed: boolean;
  /** e.g. "MS10-043"; null for most updates since Microsoft retired bulletins in 2017 */
  securityBulletin: string | null;
  /** "normal", "manual_install_only" (cannot install silently) or "windows_update_web_site" */
  installType: 'normal' | 'manual_install_only' | 'windows_update_web_site';
  /** KB of the update that supersedes this one, if any */
  supersededBy: string | null;
  /** Windows can remove it (wusa /uninstall); servicing stack updates cannot be */
  uninstallable: boolean;
}

export interface ScanPayload {
  /** why the scan runs ("pre-scan", "post-scan", "scheduled") */
  reason: string;
}
/**
 * One applicable update as a device reports it: which update, at which revision, installed or not.
 * `kb` and `title` are display hints for updates the catalog does not know; they are never trusted.
 * Anything else an (older) agent sends along is ignored: a device cannot tell the server what a file
 * hashes to, how an update is classified or what supersedes it.
 */
export interface ReportedUpdate {
  updateId: string;
  revision: number;
  installed: boolean;
  kb?: string;
  title?: string;
}

/** What a device answers to a scan command. */
export interface ScanReport {
  bootId: string;
  updates: ReportedUpdate[];
  rebootPending: boolean;
  freeDiskBytes: number;
  scannedAt: string;
}

/**
 * A reported update the catalog cannot vouch for: unknown to it, or known at another revision. Shown to
 * operators and counted, never installed by any path until a catalog feed confirms it.
 */
export interface UnverifiedUpdate {
  updateId: string;
  revision: number;
  installed: boolean;
  /** the device's KB and title, for display only */
  kbHint: string | null;
  titleHint: string | null;
  /** the catalog's revision of this update, null when the catalog does not know it */
  catalogRevision: number | null;
  /** "unverified: not in the catalog", "unverified: at revision 201, the catalog has 200" */
  reason: string;
}

/** A scan as the workflows receive it: the device's report, turned into catalog facts by the gateway. */
export interface ScanResult {
  bootId: string;
  /** every applicable update the catalog confirms (same update id and revision), installed or not */
  updates: ScannedUpdate[];
  /** reported updates the catalog does not confirm (absent in results recorded before the catalog feed) */
  unverified?: UnverifiedUpdate[];
  /** Windows says a reboot is pending (e.g. from an earlier install) */
  rebootPending: boolean;
  freeDiskBytes: number;
  scannedAt: string;
}

/** What a device needs to fetch and check one update. */
export interface PatchFile {
  updateId: string;
  kb: string;
  fileName: string;
  downloadUrl: string;
  sizeBytes: number;
  /** the catalog's SHA-256: the device refuses a file that does not match */
  sha256: string;
}

export interface DownloadPayload {
  patch: PatchFile;
  workingFolder: string;
  /**
   * The file sources to try, in order (domain/file-source.ts `sourceOrder` of the device's site), added by
   * the worker when it signs the step, so they are covered by the signature. Absent (a step signed before
   * file sources existed): the internet only, as before.
   */
  sources?: FileSource[];
}
export interface DownloadResult {
  kb: string;
  path: string;
  sha256: string;
  bytes: number;
  /** which source served the file, how fast, and every source that failed first (agents that know file sources) */
  source?: DownloadReport;
}

/**
 * All the patches of an install in one download (installs since `patched('one-download-command')`), as
 * copy is: each file verified against the catalog's size and SHA-256 before it counts, each patch
 * answered on its own (DownloadPatchesResult).
 */
export interface DownloadPatchesPayload {
  patches: PatchFile[];
  workingFolder: string;
  /** as DownloadPayload's: added by the worker when it signs the step */
  sources?: FileSource[];
}
/** One file that downloaded and matched the catalog. */
export interface DownloadedPatch extends DownloadResult {
  updateId: string;
}
/** A patch refused for good (hash mismatch, not found, unsafe folder...): that patch fails, the others go on. */
export interface PatchDownloadFailure {
  updateId: string;
  kb: string;
  error: CommandError;
}
/**
 * Every patch of a DownloadPatchesPayload is in one of the two lists. A failure that may pass (network,
 * disk full) is not here: it fails the whole command retryable, and the step is offered again.
 */
export interface DownloadPatchesResult {
  downloaded: DownloadedPatch[];
  failed: PatchDownloadFailure[];
}

export interface CopyPayload {
  patches: PatchFile[];
  workingFolder: string;
  installFolder: string;
}
export interface CopyResult {
  copied: { kb: string; path: string }[];
}

export interface ExecutePayload {
  patch: PatchFile;
  installFolder: string;
}
export interface ExecuteResult {
  kb: string;
  /** the installer's exit code (or WUA HRESULT as an unsigned 32-bit number) */
  exitCode: number;
  durationMs: number;
  /** the device found the update already installed and did not run the installer */
  alreadyInstalled: boolean;
}

/** The installers of an install, in the order they run (ExecutePatches). */
export interface ExecutePatchesPayload {
  patches: PatchFile[];
  installFolder: string;
}

/** Why a patch of an ExecutePatches command did not start. */
export const NotStartedReason = {
  /** the kill switch (a fleet or rollout halt) stopped the install: this patch and the rest wait for a later run */
  Halted: 'halted',
  /** this patch's KB was halted: it is skipped, the next patch may start */
  KbHalted: 'kb_halted',
  /** the maintenance window closed: this patch and the rest wait for the next run */
  WindowClosed: 'window_closed',
  /** the install no longer waits for this command (cancelled, withdrawn, finished) */
  Withdrawn: 'withdrawn',
  /** the agent got no go-ahead from the gateway (unreachable, or a gateway that does not give one) */
  NoGoAhead: 'no_go_ahead',
} as const;
export type NotStartedReason = (typeof NotStartedReason)[keyof typeof NotStartedReason];

/** What the agent asks before it starts a patch of an ExecutePatches command (POST …/progress `starting`). */
export interface PatchStart {
  updateId: string;
  kb: string;
}
/** The gateway's answer to a PatchStart, as the install decides it. Without `proceed: true` nothing starts. */
export type GoAhead = { proceed: true } | { proceed: false; reason: NotStartedReason; message: string };

/** One patch of an ExecutePatches command: its installer ran (an exit code), it did not start, or it was refused. */
export type PatchExecution =
  | { updateId: string; kb: string; status: 'executed'; exitCode: number; durationMs: number; alreadyInstalled: boolean }
  | { updateId: string; kb: string; status: 'not_started'; reason: NotStartedReason; message: string }
  | { updateId: string; kb: string; status: 'failed'; error: CommandError };
/**
 * Every patch of an ExecutePatchesPayload, in order. A failure that may pass (a file missing, a disk
 * error) is not here: it fails the whole command retryable, and the next delivery goes on from the
 * patches already answered (the agent's journal keeps each patch's answer).
 */
export interface ExecutePatchesResult {
  patches: PatchExecution[];
}

export interface RebootPayload {
  reason: string;
  /**
   * What the device does with the logged-on user before it restarts (Kaseya's Reboot Action, less the
   * scheduling, which the workflow does; see domain/reboot-actions.ts). Only the device knows who is
   * logged on, so it applies this itself. Nobody logged on: every mode restarts at once. Absent:
   * `immediate`, which is what agents did before modes existed.
   * - immediate: restart now, no warning.
   * - warn: tell the user the machine restarts in `minutes` (no permission asked, no dismissing), then restart.
   * - skip_if_user_logged_on: a user is logged on → do not restart (answer `skipped: user_logged_on`).
   * - ask_every: ask the user every `minutes` until they accept, then restart.
   * - ask: ask once; "yes" restarts, "no" does not (`user_declined`); no answer within `minutes` →
   *   restart (`ifNoAnswer: 'reboot'`) or not (`'do_nothing'`, `no_answer`).
   * - ask_defer: ask "restart now, or postpone `minutes` minutes?" (`deferralsLeft` more postponements
   *   allowed, shown to the user). "Restart now", or no answer within `minutes`, restarts; a postponement
   *   answers at once `skipped: user_deferred` with `deferredMinutes` (1 to `minutes`), and the workflow
   *   asks again when they are up, until the deferrals or the deadline run out (domain/reboot-deferral.ts).
   */
  mode?:
    | { kind: 'immediate' }
    | { kind: 'warn'; minutes: number }
    | { kind: 'skip_if_user_logged_on' }
    | { kind: 'ask_every'; minutes: number }
    | { kind: 'ask'; minutes: number; ifNoAnswer: 'reboot' | 'do_nothing' }
    | { kind: 'ask_defer'; minutes: number; deferralsLeft: number };
}
/**
 * A restart that happened: `bootId` differs from `previousBootId` (the gateway builds this when the
 * device checks in with a new boot id). A restart the device did NOT do (the user was logged on,
 * declined or did not answer) is answered at once as `succeeded` with `skipped` and the same boot id
 * in both fields; the patches stay Reboot Required.
 */
export interface RebootResult {
  previousBootId: string;
  bootId: string;
  /** set only when the device did not restart; then `previousBootId === bootId` */
  skipped?: { reason: 'user_logged_on' | 'user_declined' | 'no_answer' | 'user_deferred' };
  /** `user_deferred` only: how long the user postponed the restart (1 to the mode's `minutes`) */
  deferredMinutes?: number;
  /** whether a user was logged on when the command arrived (devices that know say so) */
  userWasLoggedOn?: boolean;
  /** minutes spent warning or waiting for answers before restarting or giving up */
  waitedMinutes?: number;
}

export interface CleanupPayload {
  workingFolder: string;
  installFolder: string;
}
export interface CleanupResult {
  removedFiles: number;
  workingFolderEmpty: boolean;
  installFolderEmpty: boolean;
}

export interface UninstallPayload {
  updateId: string;
  kb: string;
}
export interface UninstallResult {
  kb: string;
  exitCode: number;
  durationMs: number;
  /** the update was not installed: nothing was removed */
  notInstalled: boolean;
}

export type { HealthCheckPayload, HealthCheckResult } from './health-check';

/** What a Patch Test asks a device to look at: its folders and the files the selected patches need. */
export interface PatchTestPayload {
  workingFolder: string;
  installFolder: string;
  /** the approved missing patches an install would download now, with the catalog's URL and hash */
  patches: PatchFile[];
}
/** What the device observed; the server evaluates it (domain/patch-test.ts evaluatePatchTest). */
export type PatchTestResult = PatchTestObservation;

/** The full list of command keys the agent should pin from now on (old and new during a rotation). */
export interface TrustKeysPayload {
  keys: { keyId: string; publicKey: string }[];
}
export interface TrustKeysResult {
  /** the key ids the agent now pins */
  keyIds: string[];
}

export interface CommandPayloads {
  scan: ScanPayload;
  download: DownloadPayload | DownloadPatchesPayload;
  copy: CopyPayload;
  execute: ExecutePayload;
  execute_patches: ExecutePatchesPayload;
  reboot: RebootPayload;
  cleanup: CleanupPayload;
  uninstall: UninstallPayload;
  health_check: HealthCheckPayload;
  patch_test: PatchTestPayload;
  trust_keys: TrustKeysPayload;
}
/** What the workflows receive from each step (the gateway turns a device's `ScanReport` into a `ScanResult`). */
export interface CommandResults {
  scan: ScanResult;
  download: DownloadResult | DownloadPatchesResult;
  copy: CopyResult;
  execute: ExecuteResult;
  execute_patches: ExecutePatchesResult;
  reboot: RebootResult;
  cleanup: CleanupResult;
  uninstall: UninstallResult;
  health_check: HealthCheckResult;
  patch_test: PatchTestResult;
  trust_keys: TrustKeysResult;
}

/**
 * The signature the worker attaches to one attempt of a command (domain/command-envelope.ts says what it
 * covers). Stored with the command and handed out by the gateway as is.
 */
export interface CommandSignature {
  /** the device the command is for */
  deviceId: string;
  /** per device, only grows; a fresh one for every attempt */
  sequence: number;
  /** ISO instants */
  issuedAt: string;
  expiresAt: string;
  /** `keyIdOf` the signing key's public key */
  keyId: string;
  /** base64 Ed25519 signature */
  signature: string;
}

/** A command as the gateway hands it to an agent. */
export interface AgentCommand<T extends CommandType = CommandType> {
  /** stable across retries of the same step: the agent's journal key */
  id: string;
  type: T;
  payload: CommandPayloads[T];
  /** which delivery this is (1 for the first); informational, the journal keys on `id` */
  attempt: number;
  /** the worker's signature over this attempt; the agent refuses a command without a valid one */
  signature?: CommandSignature;
}

/** Why a device could not do what it was asked. `retryable: false` ends the step for good. */
export interface CommandError {
  /** machine-readable, e.g. "HashMismatch", "DiskFull", "FileMissing", "DownloadFailed" */
  code: string;
  message: string;
  retryable: boolean;
}

/** Error codes the agents use. */
export const CommandErrorCode = {
  HashMismatch: 'HashMismatch',
  DiskFull: 'DiskFull',
  FileMissing: 'FileMissing',
  DownloadFailed: 'DownloadFailed',
  UnsafeFolder: 'UnsafeFolder',
  UnknownCommand: 'UnknownCommand',
  /** the agent refused the command before running anything: "refused by the device: bad signature" */
  CommandRefused: 'CommandRefused',
  /** the agent does not run this kind of health check (e.g. services on a machine without a service manager) */
  UnsupportedCheck: 'UnsupportedCheck',
  /** the device acknowledged a reboot and came back with the same boot id, more often than allowed (gateway) */
  RebootNotCompleted: 'RebootNotCompleted',
} as const;

/**
 * What an agent posts to /agent/v1/commands/:id/result.
 * - succeeded: the step is done, `result` is the type's result.
 * - failed: the step could not be done, `error` says why.
 * - acknowledged: only for reboot: the device is about to restart; the step completes when it checks
 *   in again with a new boot id.
 */
export type CommandOutcome =
  | { status: 'succeeded'; result: CommandResults[CommandType] }
  | { status: 'failed'; error: CommandError }
  | { status: 'acknowledged' };
