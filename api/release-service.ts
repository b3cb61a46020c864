import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { appendAudit } from '../db/audit-repository';
import { findClient, isSiteOfClient } from '../db/fleet-repository';
import { deleteRelease, findReleasePlan, insertRelease, insertReleasePlan, listReleases, type ReleasePlanRow } from '../db/release-repository';
import { ConflictError, NotFoundError, UnprocessableError } from '../domain/errors';
import type { Ring } from '../domain/release-plan';
import {
  RELEASE_WORKFLOW_TYPE, releaseActionUpdate, releaseProgressQuery, releaseWorkflowId, type ReleaseAction, type ReleaseInput,
} from '../workflows/release.contract';
import type { ReleasesApiDeps } from './releases-api';
import type { CreateReleasePlanInput, StartReleaseInput } from './release-schemas';
import { rolloutDefaultsOf } from './schedule-service';
import { executeUpdateRetrying } from './workflow-updates';

/** Release plans and the releases of a cycle's patches through their rings (releaseWorkflow). */

/** A client's plan; a ring may name only that client's sites (422 naming the ring). */
export async function createReleasePlan(deps: ReleasesApiDeps, body: CreateReleasePlanInput, actor: string): Promise<ReleasePlanRow> {
  const { db } = deps;
  if (!(await findClient(db, body.clientId))) throw new NotFoundError('client', body.clientId);
  for (const [i, r] of body.rings.entries()) {
    if (r.scope.type !== 'site') continue;
    if (!(await isSiteOfClient(db, r.scope.siteId, body.clientId))) throw new UnprocessableError(`rings[${i}].scope.siteId: site ${r.scope.siteId} is not a site of client ${body.clientId}`);
  }
  const plan = await insertReleasePlan(db, { clientId: body.clientId, name: body.name, rings: body.rings as Ring[] });
  if (!plan) throw new ConflictError(`client ${body.clientId} already has a release plan named ${body.name}`);
  await appendAudit(db, [{ actor, action: 'release_plan.created', subject: plan.id, details: { name: plan.name, clientId: plan.clientId, rings: plan.rings.length } }]);
  return plan;
}

export async function releasePlanOr404(deps: Pick<ReleasesApiDeps, 'db'>, planId: string): Promise<ReleasePlanRow> {
  const plan = await findReleasePlan(deps.db, planId);
  if (!plan) throw new NotFoundError('release plan', planId);
  return plan;
}

/**
 * Starts the release of a cycle through the plan's rings: its row first (one release per plan and
 * cycle: 409), then the workflow, whose input holds every default that shapes the rings' rollouts (as a
 * schedule's does). A start that fails leaves no row behind.
 */
export async function startRelease(deps: ReleasesApiDeps, planId: string, body: StartReleaseInput, actor: string) {
  const { db } = deps;
  const plan = await releasePlanOr404(deps, planId);
  const workflowId = releaseWorkflowId(plan.id, body.cycle);
  const settings = { distributionWindowMinutes: body.distributionWindowMinutes, maxConcurrentDevices: body.maxConcurrentDevices };
  const input: ReleaseInput = {
    plan: { id: plan.id, clientId: plan.clientId, name: plan.name, rings: plan.rings },
    cycle: body.cycle, kbs: body.kbs, releasedAt: body.releasedAt ?? new Date().toISOString(), startedBy: actor,
    rollout: {
      timezone: body.timezone, rebootAction: { action: 'reboot_immediately' }, missedRun: 'skip', ...settings,
      ...rolloutDefaultsOf(settings, deps),
    },
  };
  if (!(await insertRelease(db, { workflowId, planId, cycle: body.cycle, kbs: body.kbs, startedBy: actor }))) {
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
  await appendAudit(db, [{ actor, action: 'release.started', subject: workflowId, details: { planId, cycle: body.cycle, kbs: body.kbs } }]);
  return { releaseId: body.cycle, workflowId, planId };
}

/** A release's row and its workflow's status and progress, or a 404 for a release the plan never had. */
export async function describeRelease(deps: ReleasesApiDeps, planId: string, releaseId: string) {
  const workflowId = releaseWorkflowId(planId, releaseId);
  const row = (await listReleases(deps.db, planId)).find((r) => r.workflowId === workflowId);
  if (!row) throw new NotFoundError('release', releaseId);
  const handle = deps.client.workflow.getHandle(workflowId);
  const [desc, progress] = await Promise.all([handle.describe(), handle.query(releaseProgressQuery)]);
  return { releaseId, workflowId, status: desc.status.name, startedBy: row.startedBy, startedAt: row.startedAt, ...progress };
}

/** The operator's promote, resume, retry or abort: 409 when the release refuses it, 404 when it is not running. */
export async function actOnRelease(deps: ReleasesApiDeps, planId: string, releaseId: string, action: ReleaseAction['action'], reason: string | undefined, actor: string) {
  const workflowId = releaseWorkflowId(planId, releaseId);
  const a: ReleaseAction = { action, by: actor, ...(reason ? { reason } : {}) };
  let progress;
  try {
    progress = await executeUpdateRetrying(deps.client.workflow.getHandle(workflowId), releaseActionUpdate, [a]);
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new ConflictError(`cannot ${action}: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    if (err instanceof WorkflowNotFoundError) throw new NotFoundError('running release', releaseId);
    throw err;
  }
  await appendAudit(deps.db, [{ actor, action: `release.${action}`, subject: workflowId, details: { reason: reason ?? null, ringIndex: progress.ringIndex } }]);
  return { releaseId, workflowId, ...progress };
}
