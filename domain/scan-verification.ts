import type { ReportedUpdate, ScannedUpdate, ScanReport, ScanResult, UnverifiedUpdate } from './device-protocol';

/**
 * The catalog's facts about one update, as the gateway loads them to check a scan. `file` is null for an
 * update an operator imported without file facts: it is known, but there is nothing to install yet.
 */
export type CatalogFacts = Omit<ScannedUpdate, 'installed' | 'sizeBytes' | 'sha256' | 'downloadUrl' | 'fileName'> & {
  file: Pick<ScannedUpdate, 'sizeBytes' | 'sha256' | 'downloadUrl' | 'fileName'> | null;
};

/** Fields an (older) agent may still send that only the catalog may say. Compared only to audit the claim. */
const CLAIMABLE = [
  'kb', 'title', 'product', 'classification', 'severity', 'sizeBytes', 'sha256', 'downloadUrl', 'fileName',
  'rebootBehavior', 'supersededBy', 'installType', 'uninstallable', 'securityBulletin',
] as const;

/** A device's report that contradicts the catalog (another revision, or other metadata): refused and audited. */
export interface RefusedClaim {
  updateId: string;
  kb: string;
  reportedRevision: number;
  catalogRevision: number;
  /** the catalog fields the device's answer disagrees with (its values are never stored) */
  fields: string[];
}

export interface VerifiedScan {
  result: ScanResult;
  refusedClaims: RefusedClaim[];
}

/**
 * Turns a device's report into the scan the workflows use: each reported update the catalog knows at the
 * same revision (and can install) becomes the catalog's entry with the device's installed flag; every
 * other one is unverified, with the reason an operator reads. `claims` are the raw objects the device sent
 * (same order as `report.updates`): whatever they say beyond update id, revision and installed is compared
 * with the catalog only to audit a contradiction, never used.
 */
export function verifyScanReport(
  report: ScanReport,
  catalog: ReadonlyMap<string, CatalogFacts>,
  claims: readonly Record<string, unknown>[] = [],
): VerifiedScan {
  const updates: ScannedUpdate[] = [];
  const unverified: UnverifiedUpdate[] = [];
  const refusedClaims: RefusedClaim[] = [];
  report.updates.forEach((reported: ReportedUpdate, i) => {
    const known = catalog.get(reported.updateId);
    const claim = claims[i] ?? {};
    if (known) {
      const fields = CLAIMABLE.filter((f) => f in claim && claim[f] !== undefined && !sameValue(claim[f], known.file && f in known.file ? known.file[f as keyof typeof known.file] : known[f as keyof CatalogFacts]));
      if (reported.revision !== known.revision || fields.length > 0) {
        refusedClaims.push({ updateId: reported.updateId, kb: known.kb, reportedRevision: reported.revision, catalogRevision: known.revision, fields });
      }
    }
    const hint = { kbHint: reported.kb ?? null, titleHint: reported.title ?? null };
    const base = { updateId: reported.updateId, revision: reported.revision, installed: reported.installed, ...hint };
    if (!known) {
      unverified.push({ ...base, catalogRevision: null, reason: 'unverified: not in the catalog' });
    } else if (known.revision !== reported.revision) {
      unverified.push({ ...base, kbHint: known.kb, titleHint: known.title, catalogRevision: known.revision, reason: `unverified: at revision ${reported.revision}, the catalog has ${known.revision}` });
    } else if (!known.file) {
      unverified.push({ ...base, kbHint: known.kb, titleHint: known.title, catalogRevision: known.revision, reason: 'unverified: the catalog has no file facts for it yet (imported without a feed)' });
    } else {
      const { file, ...facts } = known;
      updates.push({ ...facts, ...file, installed: reported.installed });
    }
  });
  const { updates: _reported, ...rest } = report;
  return { result: { ...rest, updates, unverified }, refusedClaims };
}

function sameValue(claimed: unknown, known: unknown): boolean {
  return (claimed ?? null) === (known ?? null);
}
