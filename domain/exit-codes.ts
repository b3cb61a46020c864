/**
 * What an installer's exit code means for the patch, from Microsoft's MSI and WUA documentation
 * (../shared/DOMAIN-RULES.md §3.2). wusa.exe reports WUA HRESULTs, MSI reports Win32 codes, so both
 * families live in one table. Codes are compared as unsigned 32-bit numbers (0x80070643, not -2147023293).
 */

/** The patch-level outcome of one execution. */
export const ExecutionOutcome = {
  /** Installed and effective now. */
  Installed: 'installed',
  /** Installed; Windows finishes it at the next restart (Reboot Required until reboot + rescan). */
  InstalledPendingReboot: 'installed_pending_reboot',
  /** Windows says it was already there: a success, nothing was changed. */
  AlreadyInstalled: 'already_installed',
  /** Does not apply to this device: closed, never retried. */
  NotApplicable: 'not_applicable',
  /** Another installation is running: back off and retry without counting a failure. */
  Busy: 'busy',
  /** The install failed; counts toward the patch's retry limit. */
  Failed: 'failed',
} as const;
export type ExecutionOutcome = (typeof ExecutionOutcome)[keyof typeof ExecutionOutcome];

export interface ExitCodeMeaning {
  outcome: ExecutionOutcome;
  /** the symbolic name from Microsoft's documentation, e.g. "ERROR_SUCCESS_REBOOT_REQUIRED" */
  name: string;
  /** one line an operator can act on */
  description: string;
  /** true when this execution counts toward the patch's failed attempts */
  countsAsFailure: boolean;
  /** what to do next, where there is something better than "retry" */
  hint?: string;
}

/**
 * The codes by name, unsigned 32-bit: the table below, the uninstall rules and the simulated Windows
 * device (agent/simulator/) all read them from here, so no code is written twice.
 */
export const ExitCode = {
  /** ERROR_SUCCESS */
  Success: 0,
  /** ERROR_SUCCESS_REBOOT_REQUIRED */
  RebootRequired: 3010,
  /** ERROR_SUCCESS_REBOOT_INITIATED */
  RebootInitiated: 1641,
  /** WU_S_REBOOT_REQUIRED */
  WuRebootRequired: 0x00240005,
  /** WU_S_ALREADY_INSTALLED (2359302) */
  AlreadyInstalled: 0x00240006,
  /** WU_S_UPDATE_ERROR */
  WuUpdateError: 0x00240003,
  /** WU_E_ALL_UPDATES_FAILED */
  WuAllUpdatesFailed: 0x80240022,
  /** WU_E_INSTALL_NOT_ALLOWED */
  WuInstallNotAllowed: 0x80240016,
  /** WU_E_NOT_APPLICABLE */
  NotApplicable: 0x80240017,
  /** ERROR_INSTALL_ALREADY_RUNNING */
  InstallAlreadyRunning: 1618,
  /** WU_E_OPERATIONINPROGRESS */
  OperationInProgress: 0x80240009,
  /** ERROR_INSTALL_FAILURE (the Win32 code MSI reports) */
  MsiInstallFailure: 1603,
  /** ERROR_INSTALL_FAILURE as an HRESULT (2147944003), as wusa.exe reports it */
  InstallFailure: 0x80070643,
  /** ERROR_INSTALL_USEREXIT */
  InstallUserExit: 1602,
  /** ERROR_UNKNOWN_PRODUCT */
  UnknownProduct: 1605,
  /** CBS_E_SOURCE_MISSING */
  SourceMissing: 0x800f081f,
  /** CBS_E_NEW_SERVICING_STACK_REQUIRED */
  NewServicingStackRequired: 0x800f0823,
  /** WU_S_ALREADY_UNINSTALLED */
  AlreadyUninstalled: 0x00240007,
  /** WU_E_UNINSTALL_NOT_ALLOWED: servicing stacks and some updates cannot be removed */
  UninstallNotAllowed: 0x80240028,
} as const;

type Row = [code: number, meaning: ExitCodeMeaning];

const row = (code: number, outcome: ExecutionOutcome, name: string, description: string, hint?: string): Row => [
  code >>> 0,
  { outcome, name, description, countsAsFailure: outcome === ExecutionOutcome.Failed, ...(hint ? { hint } : {}) },
];

/** The table. Each row is tested in test/unit/exit-codes.test.ts. */
export const EXIT_CODES: ReadonlyMap<number, ExitCodeMeaning> = new Map<number, ExitCodeMeaning>([
  row(ExitCode.Success, 'installed', 'ERROR_SUCCESS', 'The installer finished successfully.'),
  row(ExitCode.RebootRequired, 'installed_pending_reboot', 'ERROR_SUCCESS_REBOOT_REQUIRED', 'Installed; a restart is required to finish.'),
  row(ExitCode.RebootInitiated, 'installed_pending_reboot', 'ERROR_SUCCESS_REBOOT_INITIATED', 'Installed; the installer started a restart.'),
  row(ExitCode.WuRebootRequired, 'installed_pending_reboot', 'WU_S_REBOOT_REQUIRED', 'Installed; Windows Update requires a restart.'),
  row(ExitCode.AlreadyInstalled, 'already_installed', 'WU_S_ALREADY_INSTALLED', 'The update was already installed.'),
  // The two below are from Microsoft's "WUA Success and Error Codes"
  // (https://learn.microsoft.com/en-us/windows/win32/wua_sdk/wua-success-and-error-codes-); the Windows
  // executor answers them for a WUA run read per update (domain/wua-outcomes.ts).
  row(ExitCode.WuUpdateError, 'installed', 'WU_S_UPDATE_ERROR', 'Windows Update finished with errors; the post-scan verifies the update is in.'),
  row(ExitCode.WuAllUpdatesFailed, 'failed', 'WU_E_ALL_UPDATES_FAILED', 'Windows Update failed every update of the operation.'),
  // "Operation tried to install while another installation was in progress or the system was pending a
  // mandatory restart": busy, so the workflow's bounded busy retries wait and then give up, never hang.
  row(ExitCode.WuInstallNotAllowed, 'busy', 'WU_E_INSTALL_NOT_ALLOWED', 'Windows will not install now: a restart is pending or another installation is running.',
    'Restart the device, then install again.'),
  row(ExitCode.NotApplicable, 'not_applicable', 'WU_E_NOT_APPLICABLE', 'The update does not apply to this device.'),
  row(ExitCode.InstallAlreadyRunning, 'busy', 'ERROR_INSTALL_ALREADY_RUNNING', 'Another installation is in progress; will retry.'),
  row(ExitCode.OperationInProgress, 'busy', 'WU_E_OPERATIONINPROGRESS', 'Another Windows Update operation is running; will retry.'),
  row(ExitCode.MsiInstallFailure, 'failed', 'ERROR_INSTALL_FAILURE', 'Fatal error during installation.'),
  row(ExitCode.InstallFailure, 'failed', 'ERROR_INSTALL_FAILURE (HRESULT)', 'Fatal error during installation.'),
  row(ExitCode.InstallUserExit, 'failed', 'ERROR_INSTALL_USEREXIT', 'The installation was cancelled on the device.'),
  row(ExitCode.UnknownProduct, 'failed', 'ERROR_UNKNOWN_PRODUCT', 'The product this update applies to is not installed.'),
  row(ExitCode.SourceMissing, 'failed', 'CBS_E_SOURCE_MISSING', 'The source files could not be found.',
    'Repair the component store (DISM /Online /Cleanup-Image /RestoreHealth) and retry.'),
  row(ExitCode.NewServicingStackRequired, 'failed', 'CBS_E_NEW_SERVICING_STACK_REQUIRED', 'A newer servicing stack is required first.',
    'Install the latest servicing stack update (SSU) before this update.'),
]);

/** "0x80070643" for codes that read better in hex (HRESULTs), the decimal string otherwise. */
export function formatExitCode(code: number): string {
  const u = code >>> 0;
  return u > 0xffff ? `0x${u.toString(16).padStart(8, '0')}` : String(u);
}

/** The meaning of an exit code; an unknown code is a counted failure that names the code. */
export function interpretExitCode(code: number): ExitCodeMeaning & { code: number; display: string } {
  const u = code >>> 0;
  const known = EXIT_CODES.get(u);
  const display = formatExitCode(u);
  if (known) return { ...known, code: u, display };
  return {
    outcome: ExecutionOutcome.Failed,
    name: 'UNKNOWN',
    description: `The installer exited with unrecognised code ${display}.`,
    countsAsFailure: true,
    code: u,
    display,
  };
}

/** What an uninstall's exit code means: removed (perhaps pending a reboot), or not. */
export function interpretUninstallExitCode(code: number, notInstalled: boolean): { removed: boolean; pendingReboot: boolean; description: string } {
  const u = code >>> 0;
  if (notInstalled || u === ExitCode.AlreadyUninstalled) return { removed: true, pendingReboot: false, description: 'WU_S_ALREADY_UNINSTALLED: the update was not installed.' };
  if (u === ExitCode.Success) return { removed: true, pendingReboot: false, description: 'Removed.' };
  if (u === ExitCode.RebootRequired || u === ExitCode.RebootInitiated || u === ExitCode.WuRebootRequired) return { removed: true, pendingReboot: true, description: 'Removed; a restart finishes the removal.' };
  if (u === ExitCode.UninstallNotAllowed) return { removed: false, pendingReboot: false, description: '0x80240028 WU_E_UNINSTALL_NOT_ALLOWED: Windows does not allow removing this update.' };
  return { removed: false, pendingReboot: false, description: `the uninstaller exited with ${formatExitCode(u)}.` };
}
