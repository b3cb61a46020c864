/** The contract of catalogSyncWorkflow: id scheme, input and result. api/ and cli/ import this file. */
import type { FeedRefusal, RefusedEntry } from '../domain/catalog-feed';

export const CATALOG_SYNC_WORKFLOW_TYPE = 'catalogSyncWorkflow';

/** `catalog-sync/<feedId>`: one sync of a feed at a time (a Schedule's runs add `-<time>`). */
export function catalogSyncWorkflowId(feedId: string): string {
  return `catalog-sync/${feedId}`;
}

/** The Temporal Schedule that syncs a feed every CATALOG_SYNC_INTERVAL_MINUTES. */
export function catalogSyncScheduleId(feedId: string): string {
  return `patchflow-catalog-sync-${feedId}`;
}

/** The catalog feeds a server syncs, each on its own schedule (from CATALOG_FEED_ID / CATALOG_SYNC_INTERVAL_MINUTES). */
export interface CatalogConfig {
  feeds: { feedId: string; syncIntervalMinutes: number }[];
}

export interface CatalogSyncInput {
  feedId: string;
  /** who asked: "schedule", "api-key:admin", "npm start" */
  requestedBy: string;
}

interface FeedHeader {
  feedId: string;
  sequence: number;
  digest: string;
  keyId: string;
  publishedAt: string;
  entries: number;
}

/** What fetching and verifying a feed found. */
export type CatalogFetchResult =
  | ({ outcome: 'verified' | 'unchanged' } & FeedHeader)
  | { outcome: 'refused'; feedId: string; code: FeedRefusal['code']; reason: string };

/** What applying a verified feed changed. */
export interface CatalogApplyResult {
  outcome: 'applied' | 'unchanged' | 'refused';
  feedId: string;
  sequence: number;
  newKbs: string[];
  revisedKbs: string[];
  /** same revision, other fields (e.g. supersedence added later) */
  changedKbs: string[];
  unchanged: number;
  /** entries refused one by one (an older revision, an update another feed supplies) */
  refused: RefusedEntry[];
  reason?: string;
}

export interface CatalogSyncResult {
  feedId: string;
  /** applied: the catalog changed; unchanged: the feed was already applied; refused: `reason` says why */
  outcome: 'applied' | 'unchanged' | 'refused';
  sequence: number | null;
  reason?: string;
  refusalCode?: FeedRefusal['code'];
  applied?: CatalogApplyResult;
}
