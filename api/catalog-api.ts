import express, { type Router } from 'express';
import { importCatalog } from './catalog-import-service';
import { describeCatalogSync, listCatalogFeeds, startCatalogSync, type CatalogServiceDeps } from './catalog-service';
import { catalogImportQuery, catalogSyncBody, catalogSyncParams } from './catalog-schemas';
import { parse } from './validation';

/** The catalog's feeds and their syncs (/api/v1/catalog). */
export function createCatalogApi(deps: CatalogServiceDeps): Router {
  const router = express.Router();

  router.get('/catalog/feeds', async (_req, res) => {
    res.json({ feeds: await listCatalogFeeds(deps) });
  });

  router.post('/catalog/sync', async (req, res) => {
    const body = parse(catalogSyncBody, req.body, 'body');
    const started = await startCatalogSync(deps, { feedId: body.feedId, requestedBy: res.locals.actor as string });
    const location = `/api/v1/catalog/feeds/${started.feedId}/syncs/${started.runId}`;
    res.status(202).location(location).json({ ...started, location });
  });

  router.get('/catalog/feeds/:feedId/syncs/:runId', async (req, res) => {
    const p = parse(catalogSyncParams, req.params, 'params');
    res.json(await describeCatalogSync(deps, p.feedId, p.runId));
  });

  /**
   * An operator's catalog file: CSV (Content-Type: text/csv) exported from another RMM, or a
   * feed-format JSON document. Answers what would change (dryRun=true, the default) or what changed.
   */
  router.post('/catalog/import', express.text({ type: ['text/csv', 'text/plain'], limit: '20mb' }), async (req, res) => {
    const q = parse(catalogImportQuery, req.query, 'query');
    const isCsv = typeof req.body === 'string';
    if (!isCsv && (req.body === undefined || typeof req.body !== 'object')) {
      res.status(400).json({ error: 'body: send a CSV (Content-Type: text/csv) or a feed-format JSON document (application/json)' });
      return;
    }
    const report = await importCatalog(deps.db, isCsv ? { format: 'csv', text: req.body as string } : { format: 'feed', document: req.body }, {
      dryRun: q.dryRun, actor: res.locals.actor as string,
    });
    res.status(q.dryRun ? 200 : 201).json(report);
  });

  return router;
}
