/**
 * Whether Windows waits for a restart, and whether that restart must come before an install. The keys
 * are those of ../shared/DOMAIN-RULES.md §3.3 (rule 25: before an install, detect a pending reboot and
 * reboot first). A restart that this agent's own installs asked for in this boot does not block the
 * next patch of the same run: Patchflow installs all patches of a run, then restarts once (rule 19).
 */
import type { RebootKeys } from './wua-schemas';

const KEY_NAMES: Record<keyof RebootKeys, string> = {
  cbsRebootPending: 'Component Based Servicing\\RebootPending',
  cbsRebootInProgress: 'Component Based Servicing\\RebootInProgress',
  cbsPackagesPending: 'Component Based Servicing\\PackagesPending',
  wuRebootRequired: 'WindowsUpdate\\Auto Update\\RebootRequired',
  wuPostRebootReporting: 'WindowsUpdate\\Auto Update\\PostRebootReporting',
  wuServicesPending: 'WindowsUpdate\\Services\\Pending',
  pendingFileRenameOperations: 'Session Manager PendingFileRenameOperations',
  updateExeVolatile: 'Updates\\UpdateExeVolatile',
};

/** The registry keys that say a restart is pending, by name (empty: none). */
export function pendingRebootReasons(keys: RebootKeys): string[] {
  return (Object.keys(KEY_NAMES) as (keyof RebootKeys)[]).filter((k) => keys[k]).map((k) => KEY_NAMES[k]);
}

/**
 * A restart is owed from before this run: the registry says one is pending and nothing this agent
 * installed since the current boot explains it. Then the install waits for a restart first.
 */
export function rebootOwedBeforeRun(keys: RebootKeys, installedByAgentThisBoot: number): { owed: boolean; reasons: string[] } {
  const reasons = pendingRebootReasons(keys);
  return { owed: reasons.length > 0 && installedByAgentThisBoot === 0, reasons };
}
