import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import express, { type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { findClient, isSiteOfClient } from '../db/fleet-repository';
import { deleteRelease, deleteReleasePlan, findReleasePlan, insertRelease, insertReleasePlan, listReleasePlans, listReleases } from '../db/release-repository';
import { ConflictError, NotFoundError, UnprocessableError } from '../domain/errors';
import type { InstallTimingInput } from '../workflows/install.contract';
import type { Ring } from '../domain/release-plan';
import {
  RELEASE_WORKFLOW_TYPE, releaseActionUpdate, releaseProgressQuery, releaseWorkflowId, type ReleaseAction, type ReleaseInput,
} from '../workflows/release.contract';
import { createReleasePlanSchema, releaseActionSchema, releaseIdParam, releasePlanIdParam, startReleaseSchema } from './release-schemas';
import { rolloutDefaultsOf } from './schedule-service';
import { assertReachable, filterVisible } from './tenancy';
import { executeUpdateRetrying } from './workflow-updates';
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
 * retry and abort.
 */
export function createReleasesApi(deps: ReleasesApiDeps): Router {
  const { db } = deps;
  const router = express.Router();
  const actorOf = (res: Response) => res.locals.actor as string;

  router.post('/release-plans', async (req, res) => {
    const body = parse(createReleasePlanSchema, req.body, 'body');
    assertReachable(res, [body.clientId], 'client', body.clientId);
    if (!(await findClient(db, body.clientId))) throw new NotFoundError('client', body.clientId);
    for (const [i, r] of body.rings.entries()) {
      if (r.scope.type !== 'site') continue;
      if (!(await isSiteOfClient(db, r.scope.siteId, body.clientId))) throw new UnprocessableError(`rings[${i}].scope.siteId: site ${r.scope.siteId} is not a site of client ${body.clientId}`);
    }
    const plan = await insertReleasePlan(db, { clientId: body.clientId, name: body.name, rings: body.rings as Ring[] });
    if (!plan) throw new ConflictError(`client ${body.clientId} already has a release plan named ${body.name}`);
    await appendAudit(db, [{ actor: actorOf(res), action: 'release_plan.created', subject: plan.id, details: { name: plan.name, clientId: plan.clientId, rings: plan.rings.length } }]);
    res.status(201).location(`/api/v1/release-plans/${plan.id}`).json(plan);
  });

  router.get('/release-plans', async (_req, res) => {
    res.json({ plans: await filterVisible(res, await listReleasePlans(db), (p) => [p.clientId]) });
  });

  const planOf = async (planId: string) => {
    const plan = await findReleasePlan(db, planId);
    if (!plan) throw new NotFoundError('release plan', planId);
    return plan;
  };

  router.get('/release-plans/:planId', async (req, res) => {
    const { planId } = parse(releasePlanIdParam, req.params, 'params');
    res.json(await planOf(planId));
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
    const plan = await planOf(planId);
    const workflowId = releaseWorkflowId(plan.id, body.cycle);
    const settings = { distributionWindowMinutes: body.distributionWindowMinutes, maxConcurrentDevices: body.maxConcurrentDevices };
    const input: ReleaseInput = {
      plan: { id: plan.id, clientId: plan.clientId, name: plan.name, rings: plan.rings },
      cycle: body.cycle, kbs: body.kbs, releasedAt: body.releasedAt ?? new Date().toISOString(), startedBy: actorOf(res),
      // Every default that shapes the rings' rollouts is written into the input (as a schedule's are).
      rollout: {
        timezone: body.timezone, rebootAction: { action: 'reboot_immediately' }, missedRun: 'skip', ...settings,
        ...rolloutDefaultsOf(settings, deps),
      },
    };
    if (!(await insertRelease(db, { workflowId, planId, cycle: body.cycle, kbs: body.kbs, startedBy: actorOf(res) }))) {
      throw new ConflictError(`release plan ${planId} already has a release for cycle ${body.cycle}`);
    }
    try {
      await deps.client.workflow.start(RELEASE_WORKFLOW_TYPE, {
        taskQueue: deps.taskQueue, workflowId, args: [input],
        staticSummary: `Release ${plan.name} ${body.cycle}: ${body.kbs.join(', ')} through ${plan.rings.length} rings`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) await deleteRelease(db, workflowId);
      throw err instanceof WorkflowExecutionAlreadyStartedError ? new ConflictError(`release ${workflowId} is already running`) : err;
    }
    await appendAudit(db, [{ actor: actorOf(res), action: 'release.started', subject: workflowId, details: { planId, cycle: body.cycle, kbs: body.kbs } }]);
    const location = `/api/v1/release-plans/${planId}/releases/${body.cycle}`;
    res.status(202).location(location).json({ releaseId: body.cycle, workflowId, planId, location });
  });

  router.get('/release-plans/:planId/releases', async (req, res) => {
    const { planId } = parse(releasePlanIdParam, req.params, 'params');
    await planOf(planId);
    res.json({ releases: (await listReleases(db, planId)).map((r) => ({ releaseId: r.cycle, ...r })) });
  });

  router.get('/release-plans/:planId/releases/:releaseId', async (req, res) => {
    const { planId, releaseId } = parse(releaseIdParam, req.params, 'params');
    const workflowId = releaseWorkflowId(planId, releaseId);
    const row = (await listReleases(db, planId)).find((r) => r.workflowId === workflowId);
    if (!row) throw new NotFoundError('release', releaseId);
    const handle = deps.client.workflow.getHandle(workflowId);
    const [desc, progress] = await Promise.all([handle.describe(), handle.query(releaseProgressQuery)]);
    res.json({ releaseId, workflowId, status: desc.status.name, startedBy: row.startedBy, startedAt: row.startedAt, ...progress });
  });

  for (const action of ['promote', 'resume', 'retry', 'abort'] as const) {
    router.post(`/release-plans/:planId/releases/:releaseId/${action}`, async (req, res) => {
      const { planId, releaseId } = parse(releaseIdParam, req.params, 'params');
      const body = parse(releaseActionSchema, req.body ?? {}, 'body');
      const workflowId = releaseWorkflowId(planId, releaseId);
      const a: ReleaseAction = { action, by: actorOf(res), ...(body.reason ? { reason: body.reason } : {}) };
      let progress;
      try {
        progress = await executeUpdateRetrying(deps.client.workflow.getHandle(workflowId), releaseActionUpdate, [a]);
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) throw new ConflictError(`cannot ${action}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
        if (err instanceof WorkflowNotFoundError) throw new NotFoundError('running release', releaseId);
        throw err;
      }
      await appendAudit(db, [{ actor: actorOf(res), action: `release.${action}`, subject: workflowId, details: { reason: body.reason ?? null, ringIndex: progress.ringIndex } }]);
      res.json({ releaseId, workflowId, ...progress });
    });
  }
  return router;
}
