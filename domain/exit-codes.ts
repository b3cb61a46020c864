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

type Row = [code: number, meaning: ExitCodeMeaning];

const row = (code: number, outcome: ExecutionOutcome, name: string, description: string, hint?: string): Row => [
  code >>> 0,
  { outcome, name, description, countsAsFailure: outcome === ExecutionOutcome.Failed, ...(hint ? { hint } : {}) },
];

/** The table. Each row is tested in test/unit/exit-codes.test.ts. */
export const EXIT_CODES: ReadonlyMap<number, ExitCodeMeaning> = new Map<number, ExitCodeMeaning>([
  row(0, 'installed', 'ERROR_SUCCESS', 'The installer finished successfully.'),
  row(3010, 'installed_pending_reboot', 'ERROR_SUCCESS_REBOOT_REQUIRED', 'Installed; a restart is required to finish.'),
  row(1641, 'installed_pending_reboot', 'ERROR_SUCCESS_REBOOT_INITIATED', 'Installed; the installer started a restart.'),
  row(0x00240005, 'installed_pending_reboot', 'WU_S_REBOOT_REQUIRED', 'Installed; Windows Update requires a restart.'),
  row(0x00240006, 'already_installed', 'WU_S_ALREADY_INSTALLED', 'The update was already installed.'),
  // The two below are from Microsoft's "WUA Success and Error Codes"
  // (https://learn.microsoft.com/en-us/windows/win32/wua_sdk/wua-success-and-error-codes-); the Windows
  // executor answers them for a WUA run read per update (domain/wua-outcomes.ts).
  row(0x00240003, 'installed', 'WU_S_UPDATE_ERROR', 'Windows Update finished with errors; the post-scan verifies the update is in.'),
  row(0x80240022, 'failed', 'WU_E_ALL_UPDATES_FAILED', 'Windows Update failed every update of the operation.'),
  // "Operation tried to install while another installation was in progress or the system was pending a
  // mandatory restart": busy, so the workflow's bounded busy retries wait and then give up, never hang.
  row(0x80240016, 'busy', 'WU_E_INSTALL_NOT_ALLOWED', 'Windows will not install now: a restart is pending or another installation is running.',
    'Restart the device, then install again.'),
  row(0x80240017, 'not_applicable', 'WU_E_NOT_APPLICABLE', 'The update does not apply to this device.'),
  row(1618, 'busy', 'ERROR_INSTALL_ALREADY_RUNNING', 'Another installation is in progress; will retry.'),
  row(0x80240009, 'busy', 'WU_E_OPERATIONINPROGRESS', 'Another Windows Update operation is running; will retry.'),
  row(1603, 'failed', 'ERROR_INSTALL_FAILURE', 'Fatal error during installation.'),
  row(0x80070643, 'failed', 'ERROR_INSTALL_FAILURE (HRESULT)', 'Fatal error during installation.'),
  row(1602, 'failed', 'ERROR_INSTALL_USEREXIT', 'The installation was cancelled on the device.'),
  row(1605, 'failed', 'ERROR_UNKNOWN_PRODUCT', 'The product this update applies to is not installed.'),
  row(0x800f081f, 'failed', 'CBS_E_SOURCE_MISSING', 'The source files could not be found.',
    'Repair the component store (DISM /Online /Cleanup-Image /RestoreHealth) and retry.'),
  row(0x800f0823, 'failed', 'CBS_E_NEW_SERVICING_STACK_REQUIRED', 'A newer servicing stack is required first.',
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
  if (notInstalled || u === 0x00240007) return { removed: true, pendingReboot: false, description: 'WU_S_ALREADY_UNINSTALLED: the update was not installed.' };
  if (u === 0) return { removed: true, pendingReboot: false, description: 'Removed.' };
  if (u === 3010 || u === 1641 || u === 0x00240005) return { removed: true, pendingReboot: true, description: 'Removed; a restart finishes the removal.' };
  if (u === 0x80240028) return { removed: false, pendingReboot: false, description: '0x80240028 WU_E_UNINSTALL_NOT_ALLOWED: Windows does not allow removing this update.' };
  return { removed: false, pendingReboot: false, description: `the uninstaller exited with ${formatExitCode(u)}.` };
}
