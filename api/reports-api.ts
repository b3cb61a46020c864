import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import express, { type Router } from 'express';
import { findClient } from '../db/fleet-repository';
import { findReport, listReports, openPatchOverview } from '../db/report-repository';
import { NotFoundError } from '../domain/errors';
import { ReportFormat, type PatchOverviewFilter } from '../domain/patch-overview';
import { CONTENT_TYPES, renderStages, reportFileName, toEvents } from '../reports/patch-overview-render';
import { HttpError } from './errors';
import { listReportsQuery, patchOverviewQuery, reportIdParam } from './report-schemas';
import { offlineReportFile, reportView, startOfflineReport, type ReportServiceDeps } from './report-service';
import { parse } from './validation';
import { filterVisible, principalOf } from './tenancy';
import { principalSees } from '../domain/roles';
import { reportTenancy } from '../db/tenancy-repository';

/**
 * Reports (/api/v1/reports): the Patch Overview Report streamed from a database cursor in HTML,
 * CSV, XML or JSON, or written in the background ("CSV - Offline Mode") and downloaded when done.
 */
export function createReportsApi(deps: ReportServiceDeps): Router {
  const { db } = deps;
  const router = express.Router();

  router.get('/reports/patch-overview', async (req, res) => {
    const q = parse(patchOverviewQuery, req.query, 'query');
    const principal = principalOf(res);
    if (!q.clientId && principal.clients !== 'all') {
      res.locals.refusal = 'spans clients';
      throw new HttpError(403, 'query.clientId: this key sees only some clients: name one (a report of all clients needs a key for all clients)');
    }
    // Another tenant's client reads like an unknown one.
    const client = q.clientId && principalSees(principal, [q.clientId]) ? await findClient(db, q.clientId) : undefined;
    if (q.clientId && !client) throw new HttpError(400, `query.clientId: no client ${q.clientId}`);
    const filter: PatchOverviewFilter = { ...(q.clientId ? { clientId: q.clientId } : {}), groupBy: q.groupBy, statuses: q.status };
    const clientName = client?.name ?? 'All clients';

    if (q.format === ReportFormat.CsvOffline) {
      const view = await startOfflineReport(deps, filter, clientName, res.locals.actor as string);
      res.status(202).location(view.location).json(view);
      return;
    }

    const { total, records } = await openPatchOverview(db, filter);
    const meta = {
      generatedAt: new Date().toISOString(), clientId: filter.clientId ?? null, clientName,
      groupBy: filter.groupBy, statuses: filter.statuses, rowCount: total,
    };
    res.status(200)
      .type(CONTENT_TYPES[q.format])
      .set('Content-Disposition', `${q.format === ReportFormat.Html ? 'inline' : 'attachment'}; filename="${reportFileName(meta, q.format)}"`)
      // The exact number of rows that follow (same snapshot): the CLI's progress bar reads it.
      .set('X-Report-Rows', String(total))
      .set('Cache-Control', 'no-store');
    try {
      await pipeline(records, toEvents(), ...renderStages(q.format, meta), res);
    } catch (err) {
      // The status line is gone already: all that is left is to cut the response short, so the
      // client sees an incomplete body rather than a complete-looking one.
      if (!res.writableFinished) res.destroy();
      deps.log.warn({ err, filter, format: q.format }, 'report stream ended early');
    }
  });

  router.get('/reports', async (req, res) => {
    const q = parse(listReportsQuery, req.query, 'query');
    const reports = await filterVisible(res, await listReports(db, q.limit), (r) => reportTenancy(db, r.id));
    res.json({ reports: reports.map(reportView) });
  });

  router.get('/reports/:reportId', async (req, res) => {
    const { reportId } = parse(reportIdParam, req.params, 'params');
    const report = await findReport(db, reportId);
    if (!report) throw new NotFoundError('report', reportId);
    res.json(reportView(report));
  });

  router.get('/reports/:reportId/download', async (req, res) => {
    const { reportId } = parse(reportIdParam, req.params, 'params');
    const file = await offlineReportFile(deps, reportId);
    res.status(200).type(CONTENT_TYPES.csv).set('Content-Length', String(file.size))
      .set('Content-Disposition', `attachment; filename="${file.fileName}"`);
    try {
      await pipeline(fs.createReadStream(file.path), res);
    } catch (err) {
      if (!res.writableFinished) res.destroy();
      deps.log.warn({ err, reportId }, 'report download ended early');
    }
  });

  return router;
}
