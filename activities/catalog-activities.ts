import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { appendAudit, type AuditEntry } from '../db/audit-repository';
import {
  adoptImportedPlaceholders, changeDetails, findFeedState, findStagedFeed, loadCatalogRows, recordFeedApplied, stageFeedDocument, upsertCatalogEntries,
} from '../db/catalog-repository';
import { withTransaction, type Db } from '../db/database';
import type { StampNewPatches } from '../db/scan-repository';
import { catalogFeedSchema, diffCatalog, resolveSupersedence, verifyCatalogFeed, type FeedRefusal } from '../domain/catalog-feed';
import type { CatalogApplyResult, CatalogFetchResult } from '../workflows/catalog-sync.contract';

/** Where a feed is fetched from and the public keys pinned for it (the server's configuration, never the feed's). */
export interface CatalogFeedSource {
  /** http(s):// or file:// */
  url: string;
  /** PEM public keys; more than one while a feed key is rotated */
  publicKeysPem: string[];
}
export type CatalogFeedSources = ReadonlyMap<string, CatalogFeedSource>;

/** A feed bigger than this is refused before parsing (a real Windows catalog feed is a few MB). */
const MAX_FEED_BYTES = 64 * 1024 * 1024;

/** Thrown when the feed could not be read at all (network, missing file): worth another try. */
async function readSource(url: string): Promise<string> {
  if (url.startsWith('file://')) return readFile(fileURLToPath(url), 'utf8');
  if (!/^https?:\/\//.test(url)) throw ApplicationFailure.nonRetryable(`feed URL must be http(s):// or file://, got ${url}`, 'BadFeedUrl');
  const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status} ${res.statusText}`);
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > MAX_FEED_BYTES) throw ApplicationFailure.nonRetryable(`feed is ${length} bytes, the limit is ${MAX_FEED_BYTES}`, 'FeedTooLarge');
  return res.text();
}

/** Catalog sync: fetch and verify a signed feed, then diff and apply it in one transaction. */
export function createCatalogActivities(deps: { db: Db; log: Logger; catalogFeeds: CatalogFeedSources; stampNewPatches: StampNewPatches }) {
  const { db, log } = deps;
  const actorOf = () => {
    const wf = Context.current().info.workflowExecution;
    return wf ? `workflow:${wf.workflowId}` : 'catalog-sync';
  };

  async function refuse(feedId: string, refusal: FeedRefusal, extra: Record<string, unknown> = {}): Promise<CatalogFetchResult> {
    await appendAudit(db, [{ actor: actorOf(), action: 'catalog.feed_refused', subject: feedId, details: { feedId, code: refusal.code, reason: refusal.message, ...extra } }]);
    log.warn({ feedId, code: refusal.code, reason: refusal.message }, 'catalog feed refused');
    return { outcome: 'refused', feedId, code: refusal.code, reason: refusal.message };
  }

  return {
    /**
     * Fetches the feed and verifies it against the pinned key and the last applied sequence. Nothing is
     * written unless the signature holds: a refusal writes only its audit row. A verified document is
     * staged in Postgres for the apply step (too big for a workflow payload). Idempotent: the same
     * document stages once, and the document already applied answers `unchanged` and writes nothing.
     */
    async fetchCatalogFeed(args: { feedId: string }): Promise<CatalogFetchResult> {
      const source = deps.catalogFeeds.get(args.feedId);
      if (!source) throw ApplicationFailure.nonRetryable(`no catalog feed "${args.feedId}" is configured on this worker`, 'UnknownFeed');
      const text = await readSource(source.url);
      if (Buffer.byteLength(text) > MAX_FEED_BYTES) return refuse(args.feedId, { code: 'malformed', message: `feed is larger than ${MAX_FEED_BYTES} bytes` });
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        return refuse(args.feedId, { code: 'malformed', message: `not JSON: ${(err as Error).message}` });
      }
      const last = await findFeedState(db, args.feedId);
      const verdict = verifyCatalogFeed(raw, {
        feedId: args.feedId, pinnedPublicKeys: source.publicKeysPem,
        lastApplied: last ? { sequence: last.lastSequence, digest: last.lastDigest } : undefined,
      });
      if (!verdict.ok) return refuse(args.feedId, verdict.refusal, { url: source.url, lastAppliedSequence: last?.lastSequence ?? null });
      const { feed, digest } = verdict;
      const header = { feedId: feed.feed.id, sequence: feed.feed.sequence, digest, keyId: feed.signature.keyId, publishedAt: feed.feed.publishedAt, entries: feed.entries.length };
      if (last && last.lastDigest === digest) return { outcome: 'unchanged', ...header };
      await stageFeedDocument(db, feed, digest);
      return { outcome: 'verified', ...header };
    },

    /**
     * Applies a verified, staged feed in one transaction: re-checks the sequence under a per-feed lock,
     * diffs every entry against the catalog, writes the changes in batches, stamps new and revised patches
     * with each policy's default (a revision returns a patch to Pending Approval), and audits each change
     * (feed, sequence, update, revision from → to, fields). Idempotent: a second run finds nothing to change.
     */
    async applyCatalogFeed(args: { feedId: string; sequence: number; digest: string }): Promise<CatalogApplyResult> {
      const actor = actorOf();
      return withTransaction(db, async (tx) => {
        // One apply per feed at a time (a schedule's run and an operator's sync may meet).
        await tx.query(`SELECT pg_advisory_xact_lock(hashtext('patchflow-catalog-feed:' || $1::text))`, [args.feedId]);
        const last = await findFeedState(tx, args.feedId);
        const base = { feedId: args.feedId, sequence: args.sequence, newKbs: [], revisedKbs: [], changedKbs: [], unchanged: 0, refused: [] };
        if (last && last.lastSequence === args.sequence && last.lastDigest === args.digest) return { ...base, outcome: 'unchanged' };
        if (last && (last.lastSequence > args.sequence || last.lastSequence === args.sequence)) {
          const reason = `sequence ${args.sequence} is not newer than the last applied sequence ${last.lastSequence}`;
          await appendAudit(tx, [{ actor, action: 'catalog.feed_refused', subject: args.feedId, details: { feedId: args.feedId, code: 'old_sequence', reason } }]);
          return { ...base, outcome: 'refused', reason };
        }
        const staged = await findStagedFeed(tx, args.feedId, args.sequence, args.digest);
        if (!staged) throw ApplicationFailure.nonRetryable(`feed ${args.feedId} sequence ${args.sequence} is not staged; fetch it again`, 'FeedNotStaged');
        const feed = catalogFeedSchema.parse(staged);
        const entries = resolveSupersedence(feed.entries);
        const current = await loadCatalogRows(tx, entries.map((e) => e.updateId), { forUpdate: true });
        const diff = diffCatalog(args.feedId, entries, current);
        const revisedIds = diff.changes.filter((c) => c.kind === 'revised').map((c) => c.entry.updateId);
        await upsertCatalogEntries(tx, diff.changes.map((c) => c.entry), { kind: 'feed', feedId: args.feedId, sequence: args.sequence, revisedIds });
        const fresh = diff.changes.filter((c) => c.kind !== 'changed').map((c) => c.entry);
        if (fresh.length > 0) await deps.stampNewPatches(tx, fresh, { revisionChanged: revisedIds });
        // A KB an operator imported before any feed knew its file keeps the approvals given to it.
        const adopted = await adoptImportedPlaceholders(tx, diff.changes.filter((c) => c.kind === 'new').map((c) => c.entry));
        const feedRef = { feedId: args.feedId, sequence: args.sequence };
        const audit: AuditEntry[] = [
          ...diff.changes.map((c) => ({ actor, action: `catalog.entry_${c.kind === 'new' ? 'added' : c.kind}`, subject: c.entry.kb, details: { ...feedRef, ...changeDetails(c) } })),
          ...diff.refused.map((r) => ({ actor, action: 'catalog.entry_refused', subject: r.kb, details: { ...feedRef, updateId: r.updateId, reason: r.reason } })),
          ...adopted.map((kb) => ({ actor, action: 'catalog.import_confirmed', subject: kb, details: { ...feedRef, reason: 'the feed supplies the file for an imported KB; its imported approvals carry over' } })),
        ];
        const result: CatalogApplyResult = {
          ...base,
          outcome: 'applied',
          newKbs: diff.changes.filter((c) => c.kind === 'new').map((c) => c.entry.kb),
          revisedKbs: diff.changes.filter((c) => c.kind === 'revised').map((c) => c.entry.kb),
          changedKbs: diff.changes.filter((c) => c.kind === 'changed').map((c) => c.entry.kb),
          unchanged: diff.unchanged,
          refused: diff.refused,
        };
        audit.push({
          actor, action: 'catalog.feed_applied', subject: args.feedId,
          details: { ...feedRef, digest: args.digest, keyId: feed.signature.keyId, new: result.newKbs.length, revised: result.revisedKbs.length, changed: result.changedKbs.length, unchanged: result.unchanged, refused: result.refused.length },
        });
        await appendAudit(tx, audit);
        await recordFeedApplied(tx, feed, args.digest);
        log.info({ feedId: args.feedId, sequence: args.sequence, new: result.newKbs.length, revised: result.revisedKbs.length, changed: result.changedKbs.length }, 'catalog feed applied');
        return result;
      });
    },
  };
}
