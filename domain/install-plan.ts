import type { ScannedUpdate } from './device-protocol';
import { normaliseKb } from './patch-id';

export interface InstallPlan {
  /** the updates to install, in the order they will run */
  patches: ScannedUpdate[];
  /** KBs asked for explicitly that the device does not need: not applicable or already installed */
  skippedKbs: string[];
  /** superseded updates left out because their successor is missing too (it installs instead) */
  supersededKbs: string[];
}


/**
 * Chooses what an install installs from a pre-scan. With explicit KBs: those that are missing.
 * Without: every missing update (a device in no approval policy installs every missing patch; the
 * approval resolver narrows this once policies exist). Servicing stack updates go first, because a
 * cumulative update can require the newest servicing stack (0x800f0823).
 */
export function planInstall(updates: ScannedUpdate[], kbs?: string[], options: { skipSuperseded?: boolean } = {}): InstallPlan {
  let missing = updates.filter((u) => !u.installed);
  const supersededKbs: string[] = [];
  if (options.skipSuperseded) {
    // Installing January's cumulative update and then March's is wasted time and a reboot: March's
    // contains January's. Skip an update whose successor is missing too (Kaseya logs such skips).
    const missingKbs = new Set(missing.map((u) => normaliseKb(u.kb)));
    const superseded = (u: ScannedUpdate) => u.supersededBy !== null && u.supersededBy !== undefined && missingKbs.has(normaliseKb(u.supersededBy));
    supersededKbs.push(...missing.filter(superseded).map((u) => u.kb));
    missing = missing.filter((u) => !superseded(u));
  }
  let chosen = missing;
  const skippedKbs: string[] = [];
  if (kbs && kbs.length > 0) {
    const wanted = new Set(kbs.map(normaliseKb));
    chosen = missing.filter((u) => wanted.has(normaliseKb(u.kb)));
    const found = new Set(chosen.map((u) => normaliseKb(u.kb)));
    skippedKbs.push(...[...wanted].filter((kb) => !found.has(kb)));
  }
  const isSsu = (u: ScannedUpdate) => /servicing stack/i.test(u.title);
  const ordered = [...chosen].sort((a, b) => Number(isSsu(b)) - Number(isSsu(a)) || a.kb.localeCompare(b.kb));
  return { patches: ordered, skippedKbs, supersededKbs };
}
