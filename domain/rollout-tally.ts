/**
 * Pure pieces of a rollout: the local slot a run belongs to, and how one device's outcome adds to
 * the rollout's counts. Imported by workflow code: Intl only, no clock.
 */
import { formatLocalDate, wallClockAt } from './local-time';

/** "2026-11-01 01:30": the schedule-local date and time of an instant (one run per slot). */
export function localSlot(at: Date, timezone: string): string {
  const w = wallClockAt(at, timezone);
  return `${formatLocalDate(w)} ${String(w.hour).padStart(2, '0')}:${String(w.minute).padStart(2, '0')}`;
}

/** What one device's run came to, as the rollout counts it. */
export type DeviceRunOutcome =
  | { kind: 'done'; installed: number; failed: number; rebootPending: boolean; healthCheckFailed?: boolean; rolledBack?: number }
  /**
   * `healthCheckFailed`: the health check after the install failed (the device is a failure, rolled back
   * or needing attention); `rolledBack`: patches it rolled back (they are among `failed`)
   */
  | { kind: 'failed'; installed: number; failed: number; rebootPending: boolean; healthCheckFailed?: boolean; rolledBack?: number }
  | { kind: 'offline' }
  | { kind: 'busy' };

/** What a rollout counts, device by device. */
export interface Tally {
  devices: number;
  /** scanned and installed (or nothing to install) */
  done: number;
  /** the install failed outright, or some patches failed */
  failed: number;
  /** did not answer: picked up by the next run (or on check-in) */
  offline: number;
  /** skipped: another operation (an Initial Update) holds the device */
  busy: number;
  /** installed, but the reboot was skipped (action, user, window): patches Reboot Required */
  rebootPending: number;
  patchesInstalled: number;
  patchesFailed: number;
  /**
   * patches rolled back after a failed health check; each is also a failed patch, and its device a
   * failed device (a ring's gate counts it against the success rate). Absent in counts from before.
   */
  patchesRolledBack?: number;
}

/** Adds one device's outcome to the counts (returns new counts; the input is left alone). */
export function tally<T extends Tally>(counts: T, outcome: DeviceRunOutcome): T {
  const next = { ...counts };
  switch (outcome.kind) {
    case 'offline': next.offline += 1; break;
    case 'busy': next.busy += 1; break;
    default:
      // A rollback is a failure, whatever the device's other patches did.
      if (outcome.kind === 'done' && !outcome.healthCheckFailed) next.done += 1; else next.failed += 1;
      if (outcome.rolledBack) next.patchesRolledBack = (next.patchesRolledBack ?? 0) + outcome.rolledBack;
      next.patchesInstalled += outcome.installed;
      next.patchesFailed += outcome.failed;
      if (outcome.rebootPending) next.rebootPending += 1;
  }
  return next;
}
