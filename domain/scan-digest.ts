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
