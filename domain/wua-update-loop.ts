/**
 * Update loops: Windows Update sometimes reports an update installed and then offers it again at the
 * next scan (a broken detection rule, a servicing stack that rolls it back at restart). Left alone, every
 * run installs it again, restarts the machine, and reports success. Patchflow lets it come back once;
 * after the second time it is stopped and marked Failed "update loop detected", so a person looks.
 */

/** How many times an update may report success and come back before it is stopped. */
export const UPDATE_LOOP_LIMIT = 2;

export interface UpdateLoopEntry {
  /** installs that reported success (installed, or installed pending a restart) */
  successes: number;
  /** scans after such a success that found it missing again, with no restart pending for it */
  comebacks: number;
  /** a success waits for the scan that confirms it or finds it back */
  awaitingScan: boolean;
}
export type UpdateLoopState = Record<string, UpdateLoopEntry>;

/** An install of `updateId` reported success: the next scan confirms it, or counts a comeback. */
export function recordInstallSuccess(state: UpdateLoopState, updateId: string): UpdateLoopState {
  const key = updateId.toLowerCase();
  const prev = state[key] ?? { successes: 0, comebacks: 0, awaitingScan: false };
  return { ...state, [key]: { ...prev, successes: prev.successes + 1, awaitingScan: true } };
}

/**
 * A scan's view of each update. An update still waiting for a restart (IUpdate.RebootRequired) is not
 * back: its success is confirmed only after the restart. An update no longer offered is done with.
 */
export function observeScan(state: UpdateLoopState, scanned: readonly { updateId: string; installed: boolean; rebootRequired: boolean }[]): UpdateLoopState {
  const byId = new Map(scanned.map((u) => [u.updateId.toLowerCase(), u]));
  const next: UpdateLoopState = {};
  for (const [id, entry] of Object.entries(state)) {
    if (!entry.awaitingScan) { next[id] = entry; continue; }
    const seen = byId.get(id);
    if (seen?.rebootRequired) { next[id] = entry; continue; }
    if (seen && !seen.installed) next[id] = { ...entry, comebacks: entry.comebacks + 1, awaitingScan: false };
    else next[id] = { ...entry, awaitingScan: false };
  }
  return next;
}

/**
 * Why `updateId` must not be installed again, or undefined. `offeredBy` names what offered it again:
 * the Windows executor says "Windows Update"; the server, which watches every executor's scans, says
 * "the next scan".
 */
export function updateLoopProblem(state: UpdateLoopState, updateId: string, kb: string, offeredBy = 'Windows Update offered it again'): string | undefined {
  const entry = state[updateId.toLowerCase()];
  if (!entry || entry.comebacks < UPDATE_LOOP_LIMIT) return undefined;
  return `update loop detected: ${kb} reported success ${entry.successes} times and ${offeredBy} after each; not installed again`;
}

/** The server's wording (db/patch-repository.ts): it sees scans, not Windows Update. */
export const SERVER_LOOP_WORDING = 'the next scan offered it again';
