import type { CatalogChange, CatalogFeed, CatalogFeedEntry, CatalogRow } from '../domain/catalog-feed';
import type { CatalogFacts } from '../domain/scan-verification';
import type { Queryable } from './database';

/** The last feed document applied for a feed. */
export interface CatalogFeedState {
  feedId: string;
  lastSequence: number;
  lastDigest: string;
  keyId: string;
  publishedAt: string;
  entries: number;
  appliedAt: string;
}

export async function findFeedState(db: Queryable, feedId: string, options: { forUpdate?: boolean } = {}): Promise<CatalogFeedState | undefined> {
  const { rows } = await db.query(`SELECT * FROM catalog_feeds WHERE feed_id = $1::text${options.forUpdate ? ' FOR UPDATE' : ''}`, [feedId]);
  const r = rows[0];
  return r ? {
    feedId: r.feed_id, lastSequence: Number(r.last_sequence), lastDigest: r.last_digest, keyId: r.key_id,
    publishedAt: r.published_at.toISOString(), entries: r.entries, appliedAt: r.applied_at.toISOString(),
  } : undefined;
}

/** Records the feed as applied at this sequence (the caller holds the transaction). */
export async function recordFeedApplied(db: Queryable, feed: CatalogFeed, digest: string): Promise<void> {
  await db.query(
    `INSERT INTO catalog_feeds (feed_id, last_sequence, last_digest, key_id, published_at, entries, applied_at)
     VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::timestamptz, $6::int, now())
     ON CONFLICT (feed_id) DO UPDATE SET last_sequence = EXCLUDED.last_sequence, last_digest = EXCLUDED.last_digest,
       key_id = EXCLUDED.key_id, published_at = EXCLUDED.published_at, entries = EXCLUDED.entries, applied_at = now()`,
    [feed.feed.id, feed.feed.sequence, digest, feed.signature.keyId, feed.feed.publishedAt, feed.entries.length],
  );
  // Staged documents up to this sequence are no longer needed.
  await db.query('DELETE FROM catalog_feed_documents WHERE feed_id = $1::text AND sequence <= $2::bigint', [feed.feed.id, feed.feed.sequence]);
}

/** Keeps a verified document until it is applied (idempotent: the same document twice is one row). */
export async function stageFeedDocument(db: Queryable, feed: CatalogFeed, digest: string): Promise<void> {
  await db.query(
    `INSERT INTO catalog_feed_documents (feed_id, sequence, digest, key_id, document)
     VALUES ($1::text, $2::bigint, $3::text, $4::text, $5::jsonb) ON CONFLICT DO NOTHING`,
    [feed.feed.id, feed.feed.sequence, digest, feed.signature.keyId, JSON.stringify(feed)],
  );
}

export async function findStagedFeed(db: Queryable, feedId: string, sequence: number, digest: string): Promise<unknown> {
  const { rows } = await db.query(
    'SELECT document FROM catalog_feed_documents WHERE feed_id = $1::text AND sequence = $2::bigint AND digest = $3::text',
    [feedId, sequence, digest],
  );
  return rows[0]?.document;
}

const ROW_COLUMNS = `update_id, revision, kb, title, classification, product, severity, published_at, superseded_by, file_name,
  size_bytes, sha256, download_url, reboot_behavior, install_type, uninstallable, security_bulletin, source_feed_id, source`;

function rowOf(r: any): CatalogRow {
  return {
    updateId: r.update_id, revision: Number(r.revision), kb: r.kb, title: r.title, classification: r.classification,
    product: r.product, severity: r.severity, releaseDate: r.published_at ? r.published_at.toISOString() : null,
    supersededBy: r.superseded_by, fileName: r.file_name, sizeBytes: r.size_bytes === null ? null as never : Number(r.size_bytes),
    sha256: r.sha256, downloadUrl: r.download_url, rebootBehavior: r.reboot_behavior, installType: r.install_type,
    uninstallable: r.uninstallable, securityBulletin: r.security_bulletin, sourceFeedId: r.source_feed_id, source: r.source,
  };
}

/** The catalog rows of these updates, locked for the rest of the caller's transaction. */
export async function loadCatalogRows(db: Queryable, updateIds: string[], options: { forUpdate?: boolean } = {}): Promise<Map<string, CatalogRow>> {
  const { rows } = await db.query(
    `SELECT ${ROW_COLUMNS} FROM patches WHERE update_id = ANY($1::text[]) ORDER BY update_id${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [updateIds],
  );
  return new Map(rows.map((r) => [r.update_id as string, rowOf(r)]));
}

/**
 * The catalog's file with this SHA-256 (lower-case hex), or undefined: what the gateway's file route may
 * serve. Only files the signed catalog names can be asked for, and only by their hash.
 */
export async function findCatalogFile(db: Queryable, sha256: string): Promise<{ updateId: string; kb: string; fileName: string; sizeBytes: number; downloadUrl: string } | undefined> {
  const { rows } = await db.query(
    `SELECT update_id, kb, file_name, size_bytes, download_url FROM patches
     WHERE lower(sha256) = $1::text AND download_url IS NOT NULL ORDER BY update_id LIMIT 1`,
    [sha256],
  );
  const r = rows[0];
  return r ? { updateId: r.update_id, kb: r.kb, fileName: r.file_name, sizeBytes: Number(r.size_bytes), downloadUrl: r.download_url } : undefined;
}

/** The catalog's facts for a scan's updates (the gateway checks a device's report against them). */
export async function catalogFactsOf(db: Queryable, updateIds: string[]): Promise<Map<string, CatalogFacts>> {
  const { rows } = await db.query(`SELECT ${ROW_COLUMNS} FROM patches WHERE update_id = ANY($1::text[])`, [updateIds]);
  return new Map(rows.map((r) => [r.update_id as string, {
    updateId: r.update_id, revision: Number(r.revision), kb: r.kb, title: r.title, product: r.product,
    classification: r.classification, severity: r.severity,
    publishedAt: r.published_at ? r.published_at.toISOString().slice(0, 10) : '',
    rebootBehavior: r.reboot_behavior, securityBulletin: r.security_bulletin, installType: r.install_type,
    supersededBy: r.superseded_by, uninstallable: r.uninstallable,
    file: r.sha256 === null ? null : { fileName: r.file_name, sizeBytes: Number(r.size_bytes), sha256: r.sha256, downloadUrl: r.download_url },
  }]));
}

/**
 * Writes catalog changes in one statement (unnest): new rows, and revised or corrected ones. The source
 * becomes the feed, with the sequence that last changed the row.
 */
export async function upsertCatalogEntries(
  db: Queryable,
  entries: readonly CatalogFeedEntry[],
  source: { kind: 'feed' | 'import'; feedId: string | null; sequence: number | null; revisedIds: readonly string[] },
): Promise<void> {
  if (entries.length === 0) return;
  const col = <K extends keyof CatalogFeedEntry>(k: K) => entries.map((e) => e[k]);
  await db.query(
    `INSERT INTO patches AS p (update_id, revision, kb, title, product, classification, severity, published_at,
                          size_bytes, sha256, download_url, file_name, reboot_behavior, security_bulletin,
                          install_type, superseded_by, uninstallable, source, source_feed_id, feed_sequence)
     SELECT u.*, $18::text, $19::text, $20::bigint
     FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                 $8::timestamptz[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[],
                 $14::text[], $15::text[], $16::text[], $17::bool[]) AS u
     ON CONFLICT (update_id) DO UPDATE SET
       revision = EXCLUDED.revision, kb = EXCLUDED.kb, title = EXCLUDED.title, product = EXCLUDED.product,
       classification = EXCLUDED.classification, severity = EXCLUDED.severity,
       published_at = EXCLUDED.published_at, size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256,
       download_url = EXCLUDED.download_url, file_name = EXCLUDED.file_name,
       reboot_behavior = EXCLUDED.reboot_behavior, security_bulletin = EXCLUDED.security_bulletin,
       install_type = EXCLUDED.install_type, superseded_by = EXCLUDED.superseded_by,
       uninstallable = EXCLUDED.uninstallable, source = EXCLUDED.source, source_feed_id = EXCLUDED.source_feed_id,
       feed_sequence = EXCLUDED.feed_sequence, catalog_changed_at = now(),
       revision_seen_at = CASE WHEN p.update_id = ANY($21::text[]) THEN now() ELSE p.revision_seen_at END`,
    [
      col('updateId'), col('revision'), col('kb'), col('title'), col('product'), col('classification'),
      col('severity'), col('releaseDate'), col('sizeBytes'), col('sha256'), col('downloadUrl'), col('fileName'),
      col('rebootBehavior'), col('securityBulletin'), col('installType'), col('supersededBy'), col('uninstallable'),
      source.kind, source.feedId, source.sequence, [...source.revisedIds],
    ],
  );
}

/** One audit detail per change: what changed, from which revision to which. */
export function changeDetails(c: CatalogChange): Record<string, unknown> {
  return {
    updateId: c.entry.updateId,
    kind: c.kind,
    revision: { from: c.fromRevision, to: c.entry.revision },
    fields: c.fields.map((f) => f.field),
    changes: Object.fromEntries(c.fields.map((f) => [f.field, { from: f.from, to: f.to }])),
  };
}

/**
 * A feed brings the file for a KB an operator imported without one: the feed's new entry takes over the
 * imported placeholder's explicit approvals and actions (over the default stamp), and the placeholder
 * goes. Returns the KBs taken over.
 */
export async function adoptImportedPlaceholders(db: Queryable, entries: readonly { updateId: string; kb: string }[]): Promise<string[]> {
  if (entries.length === 0) return [];
  const { rows } = await db.query(
    `SELECT p.update_id AS placeholder, u.update_id, u.kb
     FROM unnest($1::text[], $2::text[]) AS u(update_id, kb)
     JOIN patches p ON p.update_id = 'import:' || u.kb AND p.source = 'import'`,
    [entries.map((e) => e.updateId), entries.map((e) => e.kb)],
  );
  if (rows.length === 0) return [];
  const placeholders = rows.map((r) => r.placeholder as string);
  const targets = rows.map((r) => r.update_id as string);
  await db.query(
    `UPDATE policy_approvals pa SET status = imp.status, source = imp.source, changed_at = now(),
       note = format('imported before its file was known; %s', coalesce(imp.note, ''))
     FROM policy_approvals imp, unnest($1::text[], $2::text[]) AS m(placeholder, update_id)
     WHERE imp.update_id = m.placeholder AND imp.source = 'explicit' AND pa.update_id = m.update_id AND pa.policy_id = imp.policy_id`,
    [placeholders, targets],
  );
  await db.query(
    `INSERT INTO patch_actions (scope_type, scope_id, update_id, action, set_at)
     SELECT a.scope_type, a.scope_id, m.update_id, a.action, a.set_at
     FROM patch_actions a JOIN unnest($1::text[], $2::text[]) AS m(placeholder, update_id) ON a.update_id = m.placeholder
     ON CONFLICT DO NOTHING`,
    [placeholders, targets],
  );
  await db.query('DELETE FROM patch_actions WHERE update_id = ANY($1::text[])', [placeholders]);
  await db.query('DELETE FROM policy_approvals WHERE update_id = ANY($1::text[])', [placeholders]);
  await db.query('DELETE FROM patches WHERE update_id = ANY($1::text[])', [placeholders]);
  return rows.map((r) => r.kb as string);
}

/** Catalog rows by KB (an import matches by KB: another RMM's export has no update ids). */
export async function catalogRowsByKb(db: Queryable, kbs: string[]): Promise<CatalogRow[]> {
  const { rows } = await db.query(`SELECT ${ROW_COLUMNS} FROM patches WHERE kb = ANY($1::text[]) ORDER BY kb, update_id FOR UPDATE`, [kbs]);
  return rows.map(rowOf);
}

/** Imported KBs no feed knows yet: catalog rows without file facts. */
export async function insertImportedPlaceholders(
  db: Queryable,
  rows: readonly { updateId: string; kb: string; title: string; classification: string; severity: string; product: string; releaseDate: string | null }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO patches (update_id, revision, kb, title, product, classification, severity, published_at, reboot_behavior, source)
     SELECT u.update_id, 0, u.kb, u.title, u.product, u.classification, u.severity, u.published_at, 'can_request', 'import'
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
       AS u(update_id, kb, title, product, classification, severity, published_at)`,
    [rows.map((r) => r.updateId), rows.map((r) => r.kb), rows.map((r) => r.title), rows.map((r) => r.product),
      rows.map((r) => r.classification), rows.map((r) => r.severity), rows.map((r) => r.releaseDate)],
  );
}

/** Corrects the metadata of rows no feed supplies (an operator's import of their classification). */
export async function updateImportedMetadata(
  db: Queryable,
  rows: readonly { updateId: string; title: string; classification: string; severity: string; product: string; releaseDate: string | null }[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `UPDATE patches p SET title = u.title, classification = u.classification, severity = u.severity, product = u.product,
       published_at = u.published_at, catalog_changed_at = now()
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[])
       AS u(update_id, title, classification, severity, product, published_at)
     WHERE p.update_id = u.update_id AND p.source_feed_id IS NULL`,
    [rows.map((r) => r.updateId), rows.map((r) => r.title), rows.map((r) => r.classification), rows.map((r) => r.severity),
      rows.map((r) => r.product), rows.map((r) => r.releaseDate)],
  );
}
