/**
 * The signed catalog feed: the only way patch metadata (what an update is, where its file is, what the
 * file must hash to, how it is classified, what supersedes it) enters Patchflow's catalog. A device's
 * scan never writes it (see domain/scan-verification.ts).
 *
 * ## Format (JSON, UTF-8)
 *
 * ```json
 * {
 *   "format": "patchflow-catalog-feed/1",
 *   "feed": { "id": "microsoft-update", "sequence": 42, "publishedAt": "2024-03-12T18:00:00Z",
 *             "publisher": "wsus-export on WSUS-01" },
 *   "entries": [{
 *     "updateId": "5a4f…", "revision": 201, "kb": "KB5035857",
 *     "title": "2024-03 Cumulative Update for …", "classification": "Security Updates",
 *     "product": "Windows Server 2022", "severity": "Critical", "releaseDate": "2024-03-12",
 *     "supersededBy": null, "fileName": "windows10.0-kb5035857-x64.msu", "sizeBytes": 376963072,
 *     "sha256": "…64 lower-case hex…", "downloadUrl": "https://catalog.s.download.windowsupdate.com/…",
 *     "rebootBehavior": "always", "installType": "normal", "uninstallable": true, "securityBulletin": null
 *   }],
 *   "signature": { "algorithm": "ed25519", "keyId": "3f2a9c…", "value": "…base64…" }
 * }
 * ```
 *
 * - `feed.sequence` only grows: a server refuses a feed whose sequence is lower than the last one it
 *   applied, and one that repeats the last sequence with other content (publish a new sequence instead).
 * - `entries` is the feed's whole catalog, not a delta: an update the feed no longer lists is kept as it is
 *   (devices may still report it), never deleted.
 * - `revision` grows when the publisher revises an update (Microsoft's update revision number); a new
 *   revision returns the patch to its policies' default (usually Pending Approval). A lower revision than
 *   the catalog holds is refused for that entry.
 * - `supersededBy`: the KB ("KB5035857") or update id of the update that replaces this one, or null.
 * - `signature.value` is Ed25519 (domain/signatures.ts `signValue`) over the canonical JSON of
 *   `{ format, feed, entries }` (keys sorted, no whitespace), so re-serialising the document (jsonb,
 *   pretty printing) does not break it. `keyId` is `keyIdOf(publicKey)`; the server verifies with the
 *   public key pinned for this feed id (CATALOG_FEED_PUBLIC_KEY_PATH), never with a key the feed names.
 *
 * ## Adapters
 *
 * An adapter runs where the upstream source is trusted, maps it into entries and signs with the feed key:
 * - Windows: Microsoft Update Catalog or a WSUS export (`wsusutil export`, or the SUSDB views
 *   `PUBLIC_VIEWS.vUpdate` / `vUpdateRevision` / `vClassification` / `vFile`): `UpdateId` → `updateId`,
 *   `RevisionNumber` → `revision`, `KnowledgebaseArticle` → `kb`, `DefaultTitle` → `title`,
 *   classification and product titles as WUA names them, `MsrcSeverity` (empty → "Unrated"),
 *   `ArrivalDate`/`CreationDate` → `releaseDate`, the superseding update of `vUpdateRevision` supersedence
 *   → `supersededBy`, and the file's name, size, URL and SHA-256 (WSUS stores SHA-1 and SHA-256 digests
 *   of each file; Microsoft's catalog serves the file, so hash what you download if only SHA-1 is given).
 * - apt (Debian/Ubuntu; `patchflow catalog build-apt-feed`, cli/apt-feed.ts + domain/apt.ts): check
 *   `Packages` against the SHA256 that `Release` lists (verifying `InRelease`'s signature with the archive
 *   key is left to the mirror), then one entry per package version: `updateId` =
 *   "apt:<suite>:<package>:<arch>:<version>" at revision 1 (the version is in the id because the device must
 *   report the catalog's exact revision and no integer computed from a Debian version grows with dpkg's
 *   order for every version; an archive never republishes a version, so there is nothing to revise),
 *   `kb` = the advisory (DSA/DLA/USN) when known, else "<PACKAGE>=<VERSION>" (domain/patch-id.ts),
 *   `fileName` / `sizeBytes` / `sha256` / `downloadUrl` from the `Filename`, `Size` and `SHA256` fields,
 *   classification "Security Updates" for a `*-security` suite.
 *   (Devices of another platform never report these update ids, so the two feeds never meet.)
 */
import { z } from 'zod';
import { Classification, RebootBehavior, Severity } from './device-protocol';
import { canonicalJson, keyIdOf, publicKeyOf, signValue, verifyValue } from './signatures';
import { createHash } from 'node:crypto';
import { isPatchId, PATCH_ID_HINT } from './patch-id';

export const CATALOG_FEED_FORMAT = 'patchflow-catalog-feed/1';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256');
const kb = z.string().refine(isPatchId, PATCH_ID_HINT);
const feedId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be 1-63 lower-case letters, digits, ".", "_" or "-"');

/** One update of the feed: everything the catalog holds about it. */
export const catalogFeedEntrySchema = z.object({
  updateId: z.string().min(1).max(100),
  revision: z.number().int().min(0),
  kb,
  title: z.string().min(1).max(500),
  classification: z.enum(Object.values(Classification) as [Classification, ...Classification[]]),
  product: z.string().min(1).max(200),
  severity: z.enum(Object.values(Severity) as [Severity, ...Severity[]]),
  releaseDate: z.string().date().or(z.string().datetime({ offset: true })),
  supersededBy: z.string().min(1).max(100).nullable(),
  fileName: z.string().min(1).max(260).refine((f) => !/[\\/]/.test(f), 'must be a file name, not a path'),
  sizeBytes: z.number().int().min(0),
  sha256,
  downloadUrl: z.string().url().max(2000).refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL'),
  rebootBehavior: z.enum(Object.values(RebootBehavior) as [RebootBehavior, ...RebootBehavior[]]),
  installType: z.enum(['normal', 'manual_install_only', 'windows_update_web_site']),
  uninstallable: z.boolean(),
  securityBulletin: z.string().max(50).nullable(),
});
export type CatalogFeedEntry = z.infer<typeof catalogFeedEntrySchema>;

export const catalogFeedHeaderSchema = z.object({
  id: feedId,
  sequence: z.number().int().min(1),
  publishedAt: z.string().datetime({ offset: true }),
  publisher: z.string().max(200).optional(),
});
export type CatalogFeedHeader = z.infer<typeof catalogFeedHeaderSchema>;

export const catalogFeedSchema = z.object({
  format: z.literal(CATALOG_FEED_FORMAT),
  feed: catalogFeedHeaderSchema,
  entries: z.array(catalogFeedEntrySchema).max(100_000)
    .refine((es) => new Set(es.map((e) => e.updateId)).size === es.length, 'an update id appears twice'),
  signature: z.object({
    algorithm: z.literal('ed25519'),
    keyId: z.string().min(1).max(64),
    value: z.string().min(1).max(200),
  }),
});
export type CatalogFeed = z.infer<typeof catalogFeedSchema>;

/** What the signature covers. */
export function signedPartOf(feed: Pick<CatalogFeed, 'format' | 'feed' | 'entries'>): { format: string; feed: CatalogFeedHeader; entries: CatalogFeedEntry[] } {
  return { format: feed.format, feed: feed.feed, entries: feed.entries };
}

/** SHA-256 of the signed part's canonical JSON: two documents with the same digest say the same thing. */
export function feedDigestOf(feed: Pick<CatalogFeed, 'format' | 'feed' | 'entries'>): string {
  return createHash('sha256').update(canonicalJson(signedPartOf(feed))).digest('hex');
}

/** Why a feed is refused: the operator reads `message`; code is for callers and the audit. */
export interface FeedRefusal {
  code: 'malformed' | 'wrong_feed' | 'unknown_key' | 'bad_signature' | 'old_sequence' | 'sequence_reused';
  message: string;
}

/**
 * Checks a fetched document before anything is written: shape, feed id, pinned key, signature, and that
 * its sequence does not go back. Returns the parsed feed, or why it is refused.
 */
export function verifyCatalogFeed(
  raw: unknown,
  expect: { feedId: string; pinnedPublicKeys: readonly string[]; lastApplied?: { sequence: number; digest: string } },
): { ok: true; feed: CatalogFeed; digest: string } | { ok: false; refusal: FeedRefusal } {
  const parsed = catalogFeedSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    return { ok: false, refusal: { code: 'malformed', message: `not a catalog feed: ${i.path.join('.') || '(document)'}: ${i.message}` } };
  }
  const feed = parsed.data;
  if (feed.feed.id !== expect.feedId) {
    return { ok: false, refusal: { code: 'wrong_feed', message: `the document is feed "${feed.feed.id}", expected "${expect.feedId}"` } };
  }
  const key = expect.pinnedPublicKeys.find((k) => keyIdOf(k) === feed.signature.keyId);
  if (!key) {
    const pinned = expect.pinnedPublicKeys.map((k) => keyIdOf(k)).join(', ') || 'none';
    return { ok: false, refusal: { code: 'unknown_key', message: `signed with key ${feed.signature.keyId}, which is not pinned for feed "${expect.feedId}" (pinned: ${pinned})` } };
  }
  if (!verifyValue(key, signedPartOf(feed), feed.signature.value)) {
    return { ok: false, refusal: { code: 'bad_signature', message: `the signature does not match the content (key ${feed.signature.keyId}): altered or corrupted` } };
  }
  const digest = feedDigestOf(feed);
  const last = expect.lastApplied;
  if (last && feed.feed.sequence < last.sequence) {
    return { ok: false, refusal: { code: 'old_sequence', message: `sequence ${feed.feed.sequence} is older than the last applied sequence ${last.sequence} (a replayed feed)` } };
  }
  if (last && feed.feed.sequence === last.sequence && digest !== last.digest) {
    return { ok: false, refusal: { code: 'sequence_reused', message: `sequence ${feed.feed.sequence} was already applied with other content; a changed feed needs a new sequence` } };
  }
  return { ok: true, feed, digest };
}

/** The catalog row as the feed diff compares it (db/catalog-repository.ts loads it). */
export interface CatalogRow extends Omit<CatalogFeedEntry, 'releaseDate'> {
  releaseDate: string | null;
  /** the feed that supplies this update; null for rows an operator imported or a device scan wrote (before feeds) */
  sourceFeedId: string | null;
  source: 'device_scan' | 'feed' | 'import';
}

/** The "feed id" an operator's import diffs as: it may change rows no feed supplies, never a feed's. */
export const OPERATOR_IMPORT = '(operator import)';

/** The fields a feed entry can change, in the order an audit lists them. */
export const CATALOG_FIELDS = [
  'kb', 'title', 'classification', 'product', 'severity', 'releaseDate', 'supersededBy', 'fileName', 'sizeBytes',
  'sha256', 'downloadUrl', 'rebootBehavior', 'installType', 'uninstallable', 'securityBulletin',
] as const satisfies readonly (keyof CatalogFeedEntry)[];
export type CatalogField = (typeof CATALOG_FIELDS)[number];

export interface CatalogChange {
  kind: 'new' | 'revised' | 'changed';
  entry: CatalogFeedEntry;
  /** the catalog's revision before (null: new) */
  fromRevision: number | null;
  /** the fields that differ, with their old and new values */
  fields: { field: CatalogField; from: unknown; to: unknown }[];
}
export interface RefusedEntry {
  updateId: string;
  kb: string;
  reason: string;
}
export interface CatalogDiff {
  changes: CatalogChange[];
  unchanged: number;
  refused: RefusedEntry[];
}

const dateOnly = (d: string | null) => (d === null ? null : d.slice(0, 10));

/**
 * What applying these entries would change. A new update is `new`; a higher revision is `revised`
 * (back to Pending Approval); the same revision with other fields is `changed` (e.g. supersedence that
 * Microsoft adds to an update later, without a revision). A lower revision, or an update another feed
 * supplies, is refused for that entry alone.
 */
export function diffCatalog(feedId: string, entries: readonly CatalogFeedEntry[], current: ReadonlyMap<string, CatalogRow>): CatalogDiff {
  const diff: CatalogDiff = { changes: [], unchanged: 0, refused: [] };
  for (const entry of entries) {
    const row = current.get(entry.updateId);
    if (!row) {
      diff.changes.push({ kind: 'new', entry, fromRevision: null, fields: [] });
      continue;
    }
    if (row.sourceFeedId !== null && row.sourceFeedId !== feedId) {
      diff.refused.push({ updateId: entry.updateId, kb: entry.kb, reason: `supplied by feed "${row.sourceFeedId}"` });
      continue;
    }
    if (entry.revision < row.revision) {
      diff.refused.push({ updateId: entry.updateId, kb: entry.kb, reason: `revision ${entry.revision} is older than the catalog's ${row.revision}` });
      continue;
    }
    const fields = CATALOG_FIELDS
      .map((field) => {
        const from = field === 'releaseDate' ? dateOnly(row.releaseDate) : row[field];
        const to = field === 'releaseDate' ? dateOnly(entry.releaseDate) : entry[field];
        return { field, from, to };
      })
      .filter((f) => f.from !== f.to);
    // A row a device scan wrote before feeds existed, or an operator imported, is taken over by a feed
    // even when it agrees (the feed then owns it); an import re-importing its own row changes nothing.
    const adopt = row.sourceFeedId === null && (row.source === 'device_scan' || (row.source === 'import' && feedId !== OPERATOR_IMPORT));
    if (entry.revision > row.revision) diff.changes.push({ kind: 'revised', entry, fromRevision: row.revision, fields });
    else if (fields.length > 0 || adopt) diff.changes.push({ kind: 'changed', entry, fromRevision: row.revision, fields });
    else diff.unchanged++;
  }
  return diff;
}

/**
 * Supersedence as the catalog stores it: a KB. A feed may name the superseding update by its update id;
 * when that update is in the same feed, its KB is stored (install plans and the deny-superseded switch
 * compare KBs). An update id the feed does not list is kept as given.
 */
export function resolveSupersedence(entries: readonly CatalogFeedEntry[]): CatalogFeedEntry[] {
  const kbOf = new Map(entries.map((e) => [e.updateId, e.kb]));
  return entries.map((e) => (e.supersededBy !== null && kbOf.has(e.supersededBy) ? { ...e, supersededBy: kbOf.get(e.supersededBy)! } : e));
}

/** Signs a feed (publishers and adapters; the simulator's feed in dev and tests). */
export function signCatalogFeed(privateKeyPem: string, header: CatalogFeedHeader, entries: CatalogFeedEntry[]): CatalogFeed {
  const body = { format: CATALOG_FEED_FORMAT, feed: header, entries } as const;
  return { ...body, signature: { algorithm: 'ed25519', keyId: keyIdOf(publicKeyOf(privateKeyPem)), value: signValue(privateKeyPem, body) } };
}
