import type { ScannedUpdate } from './device-protocol';

/**
 * What makes two scans "the same" for processing: the set of (update id, revision, installed).
 * Kaseya processes scan results only when they changed; a scan that reports the same set in another
 * order, or with a new timestamp or free-disk figure, is unchanged. Returned as the canonical text;
 * the caller hashes it (hashing is I/O-free but lives with the caller's crypto).
 */
export function scanFingerprint(updates: readonly Pick<ScannedUpdate, 'updateId' | 'revision' | 'installed'>[]): string {
  return updates
    .map((u) => `${u.updateId}:${u.revision}:${u.installed ? 1 : 0}`)
    .sort()
    .join('\n');
}

export interface CatalogDiff {
  /** update ids the catalog has never seen */
  newUpdateIds: string[];
  /** update ids the catalog knows at an older revision: they start again at Pending Approval */
  revisedUpdateIds: string[];
}

/** Which scanned updates are new to the catalog, and which arrive at a newer revision. */
export function diffAgainstCatalog(
  updates: readonly Pick<ScannedUpdate, 'updateId' | 'revision'>[],
  knownRevisions: ReadonlyMap<string, number>,
): CatalogDiff {
  const newUpdateIds: string[] = [];
  const revisedUpdateIds: string[] = [];
  for (const u of updates) {
    const known = knownRevisions.get(u.updateId);
    if (known === undefined) newUpdateIds.push(u.updateId);
    else if (u.revision > known) revisedUpdateIds.push(u.updateId);
  }
  return { newUpdateIds, revisedUpdateIds };
}
