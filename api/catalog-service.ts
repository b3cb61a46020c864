import { WorkflowNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import { findFeedState } from '../db/catalog-repository';
import type { Db } from '../db/database';
import { NotFoundError } from '../domain/errors';
import {
  CATALOG_SYNC_WORKFLOW_TYPE, catalogSyncScheduleId, catalogSyncWorkflowId, type CatalogConfig, type CatalogSyncInput, type CatalogSyncResult,
} from '../workflows/catalog-sync.contract';
import { OperationAttr } from '../workflows/search-attributes';
import { upsertSchedule } from './temporal-schedules';

export type { CatalogConfig } from '../workflows/catalog-sync.contract';

export interface CatalogServiceDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  catalog?: CatalogConfig;
}

function scheduleOptionsOf(deps: CatalogServiceDeps, feed: CatalogConfig['feeds'][number]): ScheduleOptions {
  const input: CatalogSyncInput = { feedId: feed.feedId, requestedBy: 'schedule' };
  return {
    scheduleId: catalogSyncScheduleId(feed.feedId),
    spec: { intervals: [{ every: `${feed.syncIntervalMinutes} minutes` }] },
    action: {
      type: 'startWorkflow',
      workflowType: CATALOG_SYNC_WORKFLOW_TYPE,
      workflowId: catalogSyncWorkflowId(feed.feedId),
      taskQueue: deps.taskQueue,
      args: [input],
      typedSearchAttributes: [{ key: OperationAttr, value: 'catalog-sync' }],
      staticSummary: `Catalog sync · feed ${feed.feedId} every ${feed.syncIntervalMinutes} min`,
    },
    // A sync still running when the next is due: skip (the running one reads the newest feed anyway).
    policies: { overlap: 'SKIP', catchupWindow: '1 hour' },
    memo: { patchflowCatalogFeed: feed.feedId },
  };
}

/** Creates or updates each configured feed's Temporal Schedule (at API start: config is the source). */
export async function reconcileCatalogSchedules(deps: CatalogServiceDeps): Promise<void> {
  for (const feed of deps.catalog?.feeds ?? []) {
    await upsertSchedule(deps.client, scheduleOptionsOf(deps, feed));
    deps.log.info({ feedId: feed.feedId, everyMinutes: feed.syncIntervalMinutes }, 'catalog sync schedule reconciled');
  }
}

function configuredFeed(deps: CatalogServiceDeps, feedId?: string): string {
  const feeds = deps.catalog?.feeds ?? [];
  const id = feedId ?? feeds[0]?.feedId;
  if (!id || !feeds.some((f) => f.feedId === id)) throw new NotFoundError('catalog feed', feedId ?? '(none configured: set CATALOG_FEED_URL)');
  return id;
}

/**
 * Starts a sync of a feed now. One sync per feed at a time: while one runs, this answers the running one.
 */
export async function startCatalogSync(deps: CatalogServiceDeps, request: { feedId?: string; requestedBy: string }) {
  const feedId = configuredFeed(deps, request.feedId);
  const workflowId = catalogSyncWorkflowId(feedId);
  const input: CatalogSyncInput = { feedId, requestedBy: request.requestedBy };
  const handle = await deps.client.workflow.start(CATALOG_SYNC_WORKFLOW_TYPE, {
    workflowId, taskQueue: deps.taskQueue, args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: `Catalog sync · feed ${feedId}`,
    staticDetails: `Requested by ${request.requestedBy}.`,
    typedSearchAttributes: [{ key: OperationAttr, value: 'catalog-sync' }],
  });
  await appendAudit(deps.db, [{ actor: request.requestedBy, action: 'catalog.sync_started', subject: feedId, details: { workflowId, runId: handle.firstExecutionRunId } }]);
  return { feedId, workflowId, runId: handle.firstExecutionRunId };
}

/** A sync run: running, or its result (applied / unchanged / refused with the reason). */
export async function describeCatalogSync(deps: CatalogServiceDeps, feedId: string, runId: string) {
  const handle = deps.client.workflow.getHandle(catalogSyncWorkflowId(feedId), runId);
  let d;
  try {
    d = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('catalog sync', `${feedId}/${runId}`);
    throw err;
  }
  return {
    feedId, workflowId: d.workflowId, runId, status: d.status.name,
    startedAt: d.startTime.toISOString(), closedAt: d.closeTime?.toISOString() ?? null,
    result: d.status.name === 'COMPLETED' ? ((await handle.result()) as CatalogSyncResult) : null,
    failure: d.status.name === 'FAILED' ? await handle.result().then(() => null, (err: Error) => (err.cause as Error | undefined)?.message ?? err.message) : null,
  };
}

/** The configured feeds with what was last applied from each. */
export async function listCatalogFeeds(deps: CatalogServiceDeps) {
  const out = [];
  for (const f of deps.catalog?.feeds ?? []) {
    out.push({ ...f, scheduleId: catalogSyncScheduleId(f.feedId), lastApplied: (await findFeedState(deps.db, f.feedId)) ?? null });
  }
  return out;
}
