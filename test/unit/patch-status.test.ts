import { ALL_PATCH_STATUSES, canTransition, PatchStatus } from '../../domain/patch-status';

const { Missing: M, Pending: P, Installing: I, Installed: D, Failed: F, Ignored: G, RebootRequired: R, Superseded: S } = PatchStatus;

/**
 * Every status change an install may make, all 8 × 8 pairs (rows: from, columns: to). Written out by
 * hand from the rules, not derived from the code, so a change to either shows here.
 */
const COLUMNS = [M, P, I, D, F, G, R, S] as const;
const TABLE: Record<PatchStatus, readonly (0 | 1)[]> = {
  //                 M  P  I  D  F  G  R  S
  // applicable and not installed: selected, installed (found installed), ignored, or failed outright
  [M]: /* missing  */ [1, 1, 1, 1, 1, 1, 0, 0],
  // waiting for the install: it runs, it is given back (Missing), it fails, or is found installed
  [P]: /* pending  */ [1, 1, 1, 1, 1, 1, 0, 0],
  // running: the exit code decides; an Automatic Update retry shows Pending with its error
  [I]: /* installing */ [1, 1, 1, 1, 1, 0, 1, 0],
  // never installed again by a retry; a rescan may find it missing, the post-scan may find it failed
  [D]: /* installed */ [1, 0, 0, 1, 1, 0, 0, 0],
  // a failed patch may be retried (Pending, Installing), found installed, ignored, or given back
  [F]: /* failed   */ [1, 1, 1, 1, 1, 1, 0, 0],
  // Ignored patches install by no method: only clearing the Ignore or a rescan moves them
  [G]: /* ignored  */ [1, 0, 0, 1, 0, 1, 0, 0],
  // the reboot and rescan finish it (Installed), or show it failed or not applied (Missing)
  [R]: /* reboot_required */ [1, 0, 0, 1, 1, 0, 1, 0],
  // no install reaches a superseded patch (its successor is in place); only a rescan moves it
  [S]: /* superseded */ [1, 0, 0, 1, 0, 0, 0, 1],
};

const pairs = ALL_PATCH_STATUSES.flatMap((from) => ALL_PATCH_STATUSES.map((to) => [from, to, TABLE[from][COLUMNS.indexOf(to)] === 1] as const));

describe('patch status transitions (every pair)', () => {
  test('the table covers all 64 pairs of the 8 statuses', () => {
    expect(new Set(ALL_PATCH_STATUSES)).toEqual(new Set(COLUMNS));
    expect(pairs).toHaveLength(64);
  });

  test.each(pairs)('%s → %s allowed: %s', (from, to, expected) => {
    expect(canTransition(from, to)).toBe(expected);
  });
});
