/**
 * What the server does with a device's Patch Test observation before and after domain/patch-test.ts
 * evaluates it. Pure, so the activity that stores a result, the API and the rollout selection agree.
 *
 * - A device reports what its file sources served, but the catalog says what each file must hash to
 *   and how large it is: a device's own "expected" values are replaced by the catalog's, a selected
 *   patch the device left out fails ("did not report"), and a file nobody asked about is dropped.
 * - A failed Patch Test blocks Automatic Update on the device (Kaseya) until a later one passes; the
 *   reason names the failed checks, so the rollout and the device page say why in one line.
 */
import type { PatchFile } from './device-protocol';
import type { PatchTestCheckResult, PatchTestObservation } from './patch-test';

const normalise = (kb: string) => kb.trim().toUpperCase();

/** The observation with its files bound to the catalog's facts for the patches that were selected. */
export function bindToCatalog(o: PatchTestObservation, patches: readonly Pick<PatchFile, 'kb' | 'downloadUrl' | 'sha256' | 'sizeBytes'>[]): PatchTestObservation {
  const files = patches.flatMap((p) => {
    const reported = o.files.filter((f) => normalise(f.patchId) === normalise(p.kb));
    if (reported.length === 0) {
      return [{ patchId: p.kb, source: p.downloadUrl, expectedSha256: p.sha256, sizeBytes: p.sizeBytes, answered: false, sha256: null, error: 'the device did not report this file' }];
    }
    return reported.map((f) => ({ ...f, patchId: p.kb, expectedSha256: p.sha256, sizeBytes: p.sizeBytes }));
  });
  return { ...o, files };
}

export interface StoredPatchTest {
  passed: boolean;
  checks: PatchTestCheckResult[];
  testedAt: string;
}

/** Why Automatic Update skips this device, or null when its last Patch Test passed (or it never had one). */
export function automaticUpdateBlock(t: StoredPatchTest | null | undefined): string | null {
  if (!t || t.passed) return null;
  const failed = t.checks.filter((c) => !c.passed).map((c) => `${c.check}${c.subject ? ` (${c.subject})` : ''}: ${c.reason}`);
  return `Patch Test of ${t.testedAt} failed: ${failed.join('; ')}; Automatic Update is blocked until a Patch Test passes`;
}
