/** A patch's status on one device, as operators see it in the device's patch list. */
export const PatchStatus = {
  /** Applicable to the device and not installed. */
  Missing: 'missing',
  /** Selected for an install that has not reached it yet (approved, waiting). */
  Pending: 'pending',
  /** Being downloaded, copied or executed by a running install. */
  Installing: 'installing',
  /** Installed; `installedAt` is set only where Patchflow installed it. */
  Installed: 'installed',
  /** The install failed for good (retries exhausted or a permanent error). */
  Failed: 'failed',
  /** An operator chose to ignore the patch: no install path installs it. */
  Ignored: 'ignored',
  /** Installed, but Windows needs a reboot (and a rescan) to finish it. */
  RebootRequired: 'reboot_required',
  /**
   * Windows no longer offers it because its successor (the catalog's `supersededBy`) is installed: it
   * needs nothing more, and no longer counts as missing. Set by a scan, never by an install.
   */
  Superseded: 'superseded',
} as const;
export type PatchStatus = (typeof PatchStatus)[keyof typeof PatchStatus];

export const ALL_PATCH_STATUSES: readonly PatchStatus[] = Object.values(PatchStatus);

/**
 * Which status changes an install may make. A patch never goes back from Installed to Installing
 * because of a retry; a rescan (not an install) is what may find an Installed patch Missing again.
 */
const allowed: Record<PatchStatus, readonly PatchStatus[]> = {
  missing: ['pending', 'installing', 'installed', 'ignored', 'failed'],
  pending: ['installing', 'missing', 'installed', 'failed', 'ignored'],
  installing: ['installed', 'reboot_required', 'failed', 'missing', 'pending'],
  // Failed: the post-scan found a patch the installer reported installed still missing.
  installed: ['missing', 'failed'],
  failed: ['pending', 'installing', 'missing', 'installed', 'ignored'],
  ignored: ['missing', 'installed'],
  reboot_required: ['installed', 'failed', 'missing'],
  // Only a scan moves a superseded patch (offered again: Missing; found installed: Installed).
  superseded: ['missing', 'installed'],
};

/** True when a patch may move from `from` to `to` (staying put is always allowed). */
export function canTransition(from: PatchStatus, to: PatchStatus): boolean {
  return from === to || allowed[from].includes(to);
}
