import type { Client } from '@temporalio/client';
import express, { type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { deleteReleasePlan, listReleasePlans, listReleases } from '../db/release-repository';
import { NotFoundError } from '../domain/errors';
import type { InstallTimingInput } from '../workflows/install.contract';
import { createReleasePlanSchema, releaseActionSchema, releaseIdParam, releasePlanIdParam, startReleaseSchema } from './release-schemas';
import { actOnRelease, createReleasePlan, describeRelease, releasePlanOr404, startRelease } from './release-service';
import { assertReachable, filterVisible } from './tenancy';
import { parse } from './validation';

export interface ReleasesApiDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  installTiming?: InstallTimingInput;
  rolloutOfflineAfterSeconds?: number;
}

/**
 * Release plans (/api/v1/release-plans): a client's ordered rings; and releases of a cycle's patches
 * through them (releaseWorkflow, `release/<planId>/<cycle>`), with the operator's promote, resume,
 * retry and abort. Handlers parse and call api/release-service.ts.
 */
export function createReleasesApi(deps: ReleasesApiDeps): Router {
  const { db } = deps;
  const router = express.Router();
  const actorOf = (res: Response) => res.locals.actor as string;

  router.post('/release-plans', async (req, res) => {
    const body = parse(createReleasePlanSchema, req.body, 'body');
    assertReachable(res, [body.clientId], 'client', body.clientId);
    const plan = await createReleasePlan(deps, body, actorOf(res));
    res.status(201).location(`/api/v1/release-plans/${plan.id}`).json(plan);
  });

  router.get('/release-plans', async (_req, res) => {
    res.json({ plans: await filterVisible(res, await listReleasePlans(db), (p) => [p.clientId]) });
  });

  router.get('/release-plans/:planId', async (req, res) => {
    const { planId } = parse(releasePlanIdParam, req.params, 'params');
    res.json(await releasePlanOr404(deps, planId));
  });

  router.delete('/release-plans/:planId', async (req, res) => {
    const { planId } = parse(releasePlanIdParam, req.params, 'params');
    // A running release keeps its snapshot of the plan; its row goes with the plan.
    if (!(await deleteReleasePlan(db, planId))) throw new NotFoundError('release plan', planId);
    await appendAudit(db, [{ actor: actorOf(res), action: 'release_plan.deleted', subject: planId }]);
    res.status(204).end();
  });

  router.post('/release-plans/:planId/releases', async (req, res) => {
    const { planId } = parse(releasePlanIdParam, req.params, 'params');
    const body = parse(startReleaseSchema, req.body ?? {}, 'body');
    const started = await startRelease(deps, planId, body, actorOf(res));
    const location = `/api/v1/release-plans/${planId}/releases/${body.cycle}`;
    res.status(202).location(location).json({ ...started, location });
  });

  router.get('/release-plans/:planId/releases', async (req, res) => {
    const { planId } = parse(releasePlanIdParam, req.params, 'params');
    await releasePlanOr404(deps, planId);
    res.json({ releases: (await listReleases(db, planId)).map((r) => ({ releaseId: r.cycle, ...r })) });
  });

  router.get('/release-plans/:planId/releases/:releaseId', async (req, res) => {
    const { planId, releaseId } = parse(releaseIdParam, req.params, 'params');
    res.json(await describeRelease(deps, planId, releaseId));
  });

  for (const action of ['promote', 'resume', 'retry', 'abort'] as const) {
    router.post(`/release-plans/:planId/releases/:releaseId/${action}`, async (req, res) => {
      const { planId, releaseId } = parse(releaseIdParam, req.params, 'params');
      const body = parse(releaseActionSchema, req.body ?? {}, 'body');
      res.json(await actOnRelease(deps, planId, releaseId, action, body.reason, actorOf(res)));
    });
  }
  return router;
}
