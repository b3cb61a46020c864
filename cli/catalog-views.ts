import type { ImportReport } from '../api/catalog-import-service';
import type { describeCatalogSync, listCatalogFeeds } from '../api/catalog-service';

type FeedView = Awaited<ReturnType<typeof listCatalogFeeds>>[number];
type SyncView = Awaited<ReturnType<typeof describeCatalogSync>>;

export function catalogFeedsText(feeds: FeedView[]): string {
  if (feeds.length === 0) return 'no catalog feed is configured (CATALOG_FEED_URL, CATALOG_FEED_PUBLIC_KEY_PATH)';
  return feeds.map((f) => {
    const last = f.lastApplied
      ? `sequence ${f.lastApplied.lastSequence} (${f.lastApplied.entries} entries, key ${f.lastApplied.keyId}) applied ${f.lastApplied.appliedAt}`
      : 'nothing applied yet';
    return `${f.feedId}  every ${f.syncIntervalMinutes} min  ${last}`;
  }).join('\n');
}

export function catalogSyncText(v: SyncView): string {
  if (v.status !== 'COMPLETED') return `catalog sync ${v.feedId}: ${v.status}${v.failure ? `: ${v.failure}` : ''}`;
  const r = v.result!;
  if (r.outcome === 'refused') return `catalog sync ${v.feedId}: REFUSED (${r.refusalCode ?? 'refused'}): ${r.reason}`;
  if (r.outcome === 'unchanged') return `catalog sync ${v.feedId}: unchanged (sequence ${r.sequence} is already applied)`;
  const a = r.applied!;
  const list = (label: string, kbs: string[]) => (kbs.length ? `\n  ${label}: ${kbs.slice(0, 20).join(', ')}${kbs.length > 20 ? ` … (${kbs.length})` : ''}` : '');
  return `catalog sync ${v.feedId}: applied sequence ${a.sequence}: ${a.newKbs.length} new, ${a.revisedKbs.length} revised, ${a.changedKbs.length} changed, ${a.unchanged} unchanged, ${a.refused.length} refused`
    + list('new', a.newKbs) + list('revised (back to Pending Approval)', a.revisedKbs) + list('changed', a.changedKbs)
    + a.refused.map((x) => `\n  refused ${x.kb}: ${x.reason}`).join('');
}

export function catalogImportText(r: ImportReport): string {
  const lines = [
    `${r.dryRun ? 'DRY RUN (nothing written; --apply to import)' : 'IMPORTED'}: ${r.rows} rows (${r.format})`,
    `  new ${r.new.length} (${r.new.filter((n) => !n.installable).length} without file facts: unverified until a feed supplies them)`,
    `  revised ${r.revised.length}, changed ${r.changed.length}, unchanged ${r.unchanged}, refused ${r.refused.length}`,
    ...r.approvals.map((a) => `  approval ${a.status}: ${a.kbs.length} KBs (${a.approvalsChanged} policy rows change)`),
    ...r.changed.slice(0, 50).map((c) => `  changed ${c.kb}${c.line ? ` (line ${c.line})` : ''}: ${c.fields.join(', ')}`),
    ...r.keptFromFeed.slice(0, 50).map((k) => `  kept ${k.kb} (line ${k.line}): ${k.reason}`),
    ...r.refused.map((x) => `  refused${x.line ? ` line ${x.line}` : ''} ${x.kb ?? ''}: ${x.reason}`),
  ];
  return lines.join('\n');
}
