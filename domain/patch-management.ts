import { PatchStatus } from './patch-status';

/** The wizard's actions (N-able's Patch Management actions), the same names PUT /patch-actions takes. */
export type WizardAction = 'inherit' | 'approve' | 'ignore' | 'do_nothing' | 'reprocess_failed' | 'uninstall';

/**
 * The device statuses each action means something for. An action is offered for a patch only when
 * some device has it in one of these statuses, and the preview counts only those devices: approving
 * an installed patch, reprocessing one that never failed or uninstalling one that is not there reaches
 * no device, and the wizard says so before Apply. Inherit and Do Nothing clear or keep the decision
 * wherever the patch is found, Installing included.
 */
export const ACTION_STATUSES: Record<WizardAction, readonly PatchStatus[]> = {
  inherit: Object.values(PatchStatus),
  do_nothing: Object.values(PatchStatus),
  approve: [PatchStatus.Missing, PatchStatus.Pending, PatchStatus.Failed],
  ignore: [PatchStatus.Missing, PatchStatus.Pending, PatchStatus.Failed],
  reprocess_failed: [PatchStatus.Failed],
  // Only an installed patch can be removed, and only one the catalog marks uninstallable.
  uninstall: [PatchStatus.Installed],
};

export const WIZARD_ACTIONS: readonly WizardAction[] = ['inherit', 'approve', 'ignore', 'do_nothing', 'reprocess_failed', 'uninstall'];

export function actionReaches(action: WizardAction, status: PatchStatus, patch: { uninstallable: boolean }): boolean {
  if (action === 'uninstall' && !patch.uninstallable) return false;
  return ACTION_STATUSES[action].includes(status);
}

/** The actions the wizard offers for patches found with these statuses (Inherit and Do Nothing always). */
export function offeredActions(statusesFound: readonly PatchStatus[], patch: { uninstallable: boolean }): WizardAction[] {
  return WIZARD_ACTIONS.filter((a) => a === 'inherit' || a === 'do_nothing' || statusesFound.some((s) => actionReaches(a, s, patch)));
}
