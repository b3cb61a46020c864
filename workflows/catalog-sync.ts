import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { CatalogActivities } from '../activities';
import type { CatalogSyncInput, CatalogSyncResult } from './catalog-sync.contract';
import { SCHEDULED_RUN_RETRY } from './retry-policies';

const catalog = proxyActivities<CatalogActivities>({
  startToCloseTimeout: '5 minutes',
  // A feed that cannot be reached is tried again; one that is refused is an answer, not a failure.
  retry: SCHEDULED_RUN_RETRY,
});

/**
 * Syncs the catalog from one signed feed: fetch → verify (pinned key, signature, sequence) → diff and
 * apply in one transaction. A refused feed writes nothing but its audit row, and the result says why.
 */
export async function catalogSyncWorkflow(input: CatalogSyncInput): Promise<CatalogSyncResult> {
  setCurrentDetails(`**fetch**: feed ${input.feedId} (requested by ${input.requestedBy})`);
  const fetched = await catalog.fetchCatalogFeed.executeWithOptions(
    { startToCloseTimeout: '5 minutes', retry: SCHEDULED_RUN_RETRY, summary: `fetch and verify feed ${input.feedId}` },
    [{ feedId: input.feedId }],
  );
  if (fetched.outcome === 'refused') {
    setCurrentDetails(`**refused**: ${fetched.reason}`);
    return { feedId: input.feedId, outcome: 'refused', sequence: null, reason: fetched.reason, refusalCode: fetched.code };
  }
  if (fetched.outcome === 'unchanged') {
    setCurrentDetails(`**unchanged**: sequence ${fetched.sequence} is already applied`);
    return { feedId: input.feedId, outcome: 'unchanged', sequence: fetched.sequence };
  }
  setCurrentDetails(`**apply**: sequence ${fetched.sequence}, ${fetched.entries} entries, signed by ${fetched.keyId}`);
  const applied = await catalog.applyCatalogFeed.executeWithOptions(
    { startToCloseTimeout: '5 minutes', retry: SCHEDULED_RUN_RETRY, summary: `apply sequence ${fetched.sequence} (${fetched.entries} entries)` },
    [{ feedId: input.feedId, sequence: fetched.sequence, digest: fetched.digest }],
  );
  setCurrentDetails(applied.outcome === 'applied'
    ? `**done**: sequence ${applied.sequence}: ${applied.newKbs.length} new, ${applied.revisedKbs.length} revised, ${applied.changedKbs.length} changed, ${applied.unchanged} unchanged, ${applied.refused.length} refused`
    : `**${applied.outcome}**: ${applied.reason ?? `sequence ${applied.sequence}`}`);
  return { feedId: input.feedId, outcome: applied.outcome, sequence: applied.sequence, applied, ...(applied.reason ? { reason: applied.reason } : {}) };
}
