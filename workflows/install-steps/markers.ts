/**
 * The install's patched() markers. A marker names a change to the install's command sequence; an
 * install that recorded it takes the new path, one recorded before it replays the old one.
 */

/** patched() marker: patch selection by approval policy, superseded skips and uninstalls (issue 4). */
export const APPROVAL_POLICY_PATCH = 'approval-policy-selection';
/** patched() marker: cleanup has a deadline; past it the install ends "cleanup pending" (issue 11). */
export const BOUNDED_CLEANUP_PATCH = 'bounded-cleanup';
/** patched() marker: after a cancel during execute, a verifying scan decides that patch's status (issue 11). */
export const CANCEL_VERIFY_PATCH = 'cancel-during-execute-verified';
/** patched() marker: the kill switch's halt signal stops the install (issue 14 part 2). */
export const HALT_PATCH = 'halt-signal';
/**
 * patched() marker: bookkeeping in fewer, batched local activities (issue 15, ≤ 60 events): the scan and
 * the approval selection in one write, execute results written once after the loop, the post-scan and
 * its verdicts in one, the end (unreached patches, release) in one. Installs with it also take every
 * earlier marker's new path without asking (each patched() costs two history events).
 */
export const BATCHED_BOOKKEEPING_PATCH = 'batched-bookkeeping';
/**
 * patched() marker: after the post-scan, an install whose input has a health check runs it, and on a
 * failure rolls back what it installed (issue 14 part 6). Asked only by installs that have a check.
 */
export const HEALTH_CHECK_PATCH = 'health-check-rollback';
/**
 * patched() marker: the user-deferral reboot action (issue 14 part 4): ask, wait out each postponement
 * on a durable timer, force when they are used up or the deadline passed. Asked only by installs whose
 * reboot action is that one, which no install before it can have.
 */
export const USER_DEFERRAL_PATCH = 'reboot-user-deferral';
/**
 * patched() marker: one download command for all the patches of an install (as copy is), answered per
 * patch (issue 15: a device round trip per patch costs six history events). Installs before it download
 * one patch per command.
 */
export const ONE_DOWNLOAD_COMMAND_PATCH = 'one-download-command';
/**
 * patched() marker: the installers of an install in ONE execute_patches command, answered per patch
 * (issue 15). Before each patch the agent asks the gateway, which asks the install (executeGoAheadQuery):
 * a halt, a KB halt or the maintenance window closing stops the batch where the per-patch loop stopped.
 * Busy patches are retried, only those, in a new batch after the backoff; an agent that does not know
 * the command type gets one execute command per patch, as before. Installs with it also write Installing
 * with the pre-scan's bookkeeping when the window is open (one local activity fewer). Asked by the
 * pre-scan of a batched install with patches to install; installs before it take the old path.
 */
export const BATCHED_EXECUTE_PATCH = 'batched-execute';
