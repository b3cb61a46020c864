import express, { type Response, type Router } from 'express';
import type { ScheduleFields } from '../db/schedule-repository';
import { findPatchRefs } from '../db/approval-repository';
import { NotFoundError, UnprocessableError } from '../domain/errors';
import { rebootActionProblems, type RebootActionConfig } from '../domain/reboot-actions';
import {
  backfillSchedule, changeSchedule, createSchedule, getSchedule, listScheduleViews, removeSchedule, scheduleRollouts,
  triggerSchedule, type ScheduleDeps,
} from './schedule-service';
import { backfillSchema, createScheduleSchema, scheduleIdParam, updateScheduleSchema } from './schedule-schemas';
import { parse } from './validation';
import { assertScopeReachable, filterVisible } from './tenancy';
import { scheduleTenancy } from '../db/tenancy-repository';
import { findSchedule } from '../db/schedule-repository';
import { countScopeDevices } from '../db/reach-repository';
import { Role } from '../domain/roles';
import { GatedAction, waitsForSecondPerson, type TwoPersonRuleOptions } from './two-person-rule';

/** A per-patch schedule names catalog KBs only: a 404 naming the ones no patch has. */
async function knownKbs(deps: ScheduleDeps, kbs: string[] | null | undefined): Promise<void> {
  if (!kbs) return;
  const { unknownKbs } = await findPatchRefs(deps.db, { kbs });
  if (unknownKbs.length > 0) throw new NotFoundError(unknownKbs.length === 1 ? 'patch' : 'patches', unknownKbs.join(', '));
}

/** A reboot action whose numbers break its rules (postponements, deadline, grace): 422 naming the field, nothing written. */
function assertRebootAction(action: RebootActionConfig | undefined): void {
  if (!action) return;
  const problems = rebootActionProblems(action, 'body.rebootAction');
  if (problems.length > 0) throw new UnprocessableError(problems.map((p) => `${p.path}: ${p.message}`).join('; '), problems[0]!.path.replace(/^body\./, ''));
}

/** Scan and Automatic Update schedules: stored in Postgres, run by Temporal Schedules. */
export function createSchedulesApi(deps: ScheduleDeps & { twoPersonRule?: TwoPersonRuleOptions }): Router {
  /** The schedule's devices right now: what a trigger or a backfill reaches. */
  const reachOf = async (scheduleId: string) => {
    const row = await findSchedule(deps.db, scheduleId);
    if (!row) throw new NotFoundError('schedule', scheduleId);
    return { row, devices: await countScopeDevices(deps.db, row.scopeType, row.scopeId), clients: await scheduleTenancy(deps.db, scheduleId) };
  };

  const router = express.Router();
  const actorOf = (res: Response): string => res.locals.actor as string;

  router.post('/schedules', async (req, res) => {
    const body = parse(createScheduleSchema, req.body, 'body');
    assertRebootAction(body.rebootAction);
    await knownKbs(deps, body.kbs);
    const { scope, ...rest } = body;
    await assertScopeReachable(deps.db, res, scope.scopeType, scope.scopeId);
    const fields: ScheduleFields = { ...rest, scopeType: scope.scopeType, scopeId: scope.scopeId, paused: false };
    const view = await createSchedule(deps, fields, actorOf(res));
    res.status(201).location(`/api/v1/schedules/${view.id}`).json(view);
  });

  router.get('/schedules', async (_req, res) => {
    res.json({ schedules: await filterVisible(res, await listScheduleViews(deps), (s) => scheduleTenancy(deps.db, s.id)) });
  });

  router.get('/schedules/:scheduleId', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    res.json(await getSchedule(deps, scheduleId));
  });

  router.patch('/schedules/:scheduleId', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    const { scope, ...rest } = parse(updateScheduleSchema, req.body, 'body');
    assertRebootAction(rest.rebootAction);
    await knownKbs(deps, rest.kbs);
    if (scope) await assertScopeReachable(deps.db, res, scope.scopeType, scope.scopeId);
    const patch: Partial<ScheduleFields> = { ...rest, ...(scope ? { scopeType: scope.scopeType, scopeId: scope.scopeId } : {}) };
    res.json(await changeSchedule(deps, scheduleId, patch, actorOf(res)));
  });

  router.delete('/schedules/:scheduleId', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    await removeSchedule(deps, scheduleId, actorOf(res));
    res.status(204).end();
  });

  router.post('/schedules/:scheduleId/pause', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    res.json(await changeSchedule(deps, scheduleId, { paused: true }, actorOf(res), 'schedule.paused'));
  });

  router.post('/schedules/:scheduleId/resume', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    res.json(await changeSchedule(deps, scheduleId, { paused: false }, actorOf(res), 'schedule.resumed'));
  });

  router.post('/schedules/:scheduleId/trigger', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    const { row, devices, clients } = await reachOf(scheduleId);
    if (await waitsForSecondPerson(deps, res, {
      kind: GatedAction.ScheduleTrigger, summary: `Run schedule "${row.name}" now (${devices} devices)`,
      parameters: { scheduleId }, devices, neededRole: Role.Operator, clients,
    })) return;
    await triggerSchedule(deps, scheduleId, actorOf(res));
    res.status(202).json({ triggered: true, rollouts: `/api/v1/schedules/${scheduleId}/rollouts` });
  });

  router.post('/schedules/:scheduleId/backfill', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    const body = parse(backfillSchema, req.body, 'body');
    const { row, devices, clients } = await reachOf(scheduleId);
    if (await waitsForSecondPerson(deps, res, {
      kind: GatedAction.ScheduleBackfill, summary: `Backfill schedule "${row.name}" from ${body.start} to ${body.end} (${devices} devices)`,
      parameters: { scheduleId, start: body.start, end: body.end }, devices, neededRole: Role.Approver, clients,
    })) return;
    await backfillSchedule(deps, scheduleId, { start: new Date(body.start), end: new Date(body.end) }, actorOf(res));
    res.status(202).json({ backfilled: true });
  });

  router.get('/schedules/:scheduleId/rollouts', async (req, res) => {
    const { scheduleId } = parse(scheduleIdParam, req.params, 'params');
    res.json({ rollouts: await scheduleRollouts(deps, scheduleId) });
  });

  return router;
}
