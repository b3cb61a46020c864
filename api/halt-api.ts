import express, { type Response, type Router } from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { activeAutoHalt, endAutoHalt, insertFleetHalt, listAutoHalts, listFleetHalts, resumeAutoHalt, resumeFleetHalt } from '../db/halt-repository';
import { ConflictError, NotFoundError } from '../domain/errors';
import { AUTOMATIC_UPDATE_WORKFLOW_TYPE, resumeRolloutSignal } from '../workflows/automatic-update.contract';
import { INSTALL_WORKFLOW_TYPE } from '../workflows/install.contract';
import { haltSchema, resumeSchema } from './halt-schemas';
import { parse } from './validation';

/** The release workflow of branch rings (issue 14 part 1): it takes 'halt' and 'resume' by name. */
export const RELEASE_WORKFLOW_TYPE = 'releaseWorkflow';
const SIGNAL_CONCURRENCY = 32;

export interface HaltApiDeps { db: Db; client: Client; log: Logger }

export interface Signalled { rollouts: number; releases: number; installs: number; failed: number }

/** Every running workflow of a type (visibility), signalled by name, at most SIGNAL_CONCURRENCY at once. */
async function signalRunning(deps: HaltApiDeps, type: string, signal: string, arg: unknown): Promise<{ sent: number; failed: number }> {
  let sent = 0;
  let failed = 0;
  const pending = new Set<Promise<void>>();
  for await (const wf of deps.client.workflow.list({ query: `WorkflowType="${type}" AND ExecutionStatus="Running"` })) {
    const p = deps.client.workflow.getHandle(wf.workflowId, wf.runId).signal(signal, arg)
      .then(() => { sent += 1; }, (err: unknown) => {
        // one that closed since the list is no failure of the halt
        failed += 1;
        deps.log.warn({ workflowId: wf.workflowId, err }, `${signal} signal not delivered`);
      })
      .finally(() => { pending.delete(p); });
    pending.add(p);
    if (pending.size >= SIGNAL_CONCURRENCY) await Promise.race(pending);
  }
  await Promise.all(pending);
  return { sent, failed };
}

/**
 * The kill switch (/api/v1/halt): the fleet halt state in PostgreSQL, which every rollout reads at
 * start and before each batch, and signals to every running rollout, release and install at once.
 */
export function createHaltApi(deps: HaltApiDeps): Router {
  const router = express.Router();

  // Operators' fleet halts and rollouts' own automatic halts, apart (each row says its source).
  router.get('/halt', async (_req, res) => {
    const [fleet, automatic] = await Promise.all([listFleetHalts(deps.db), listAutoHalts(deps.db)]);
    res.json({ ...fleet, automatic });
  });

  router.post('/halt', async (req, res) => {
    const body = parse(haltSchema, req.body ?? {}, 'body');
    const actor = res.locals.actor as string;
    const kb = body.kb ?? null;
    const reason = body.reason ?? 'no reason given';
    const { halt, created } = await insertFleetHalt(deps.db, { kb, reason, by: actor });
    // Signalled again even when the halt already stood: a rollout started since is reached too.
    const h = { reason: halt.reason, by: halt.haltedBy, ...(kb ? { kb } : {}) };
    const [rollouts, releases, installs] = await Promise.all([
      signalRunning(deps, AUTOMATIC_UPDATE_WORKFLOW_TYPE, 'halt', h),
      signalRunning(deps, RELEASE_WORKFLOW_TYPE, 'halt', h),
      signalRunning(deps, INSTALL_WORKFLOW_TYPE, 'halt', h),
    ]);
    const signalled: Signalled = { rollouts: rollouts.sent, releases: releases.sent, installs: installs.sent, failed: rollouts.failed + releases.failed + installs.failed };
    await appendAudit(deps.db, [{
      actor, action: created ? 'fleet.halted' : 'fleet.halt_repeated', subject: kb ?? 'all',
      details: { haltId: halt.id, reason, by: 'operator', signalled },
    }]);
    res.status(created ? 201 : 200).json({ halt, created, signalled });
  });

  router.post('/halt/resume', async (req, res) => {
    const body = parse(resumeSchema, req.body ?? {}, 'body');
    const actor = res.locals.actor as string;
    if (body.rollout !== undefined) {
      await resumeAutomatic(body.rollout, actor, res);
      return;
    }
    const kb = body.kb ?? null;
    const halt = await resumeFleetHalt(deps.db, { kb, by: actor });
    if (!halt) throw new NotFoundError('active halt', kb ?? 'all');
    // fleet: true: a rollout's own automatic halt stays (an operator resumes that one on the rollout).
    const r = { by: actor, fleet: true, ...(kb ? { kb } : {}) };
    const [rollouts, releases] = await Promise.all([
      signalRunning(deps, AUTOMATIC_UPDATE_WORKFLOW_TYPE, 'resume', r),
      // A release's resume ({by}) ends its whole halt: it is sent only for the all-patches halt.
      kb ? Promise.resolve({ sent: 0, failed: 0 }) : signalRunning(deps, RELEASE_WORKFLOW_TYPE, 'resume', { by: actor }),
    ]);
    const signalled: Signalled = { rollouts: rollouts.sent, releases: releases.sent, installs: 0, failed: rollouts.failed + releases.failed };
    await appendAudit(deps.db, [{ actor, action: 'fleet.resumed', subject: kb ?? 'all', details: { haltId: halt.id, haltedBy: halt.haltedBy, signalled } }]);
    res.json({ halt, signalled });
  });

  /**
   * One rollout's automatic halt, ended by an operator: the rollout's own resume signal (not the
   * fleet's, which leaves automatic halts alone), then the record and the audit row.
   */
  async function resumeAutomatic(workflowId: string, actor: string, res: Response): Promise<void> {
    const active = await activeAutoHalt(deps.db, workflowId);
    if (!active) throw new NotFoundError('active automatic halt of rollout', workflowId);
    try {
      await deps.client.workflow.getHandle(workflowId).signal(resumeRolloutSignal, { by: actor });
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      // Closed without finishing (terminated): its halt holds nothing back; the list says so from now on.
      deps.log.warn({ workflowId, err }, 'resume signal not delivered: the rollout is not running');
      await endAutoHalt(deps.db, workflowId);
      throw new ConflictError(`rollout ${workflowId} is no longer running; its automatic halt is marked ended`);
    }
    const halt = (await resumeAutoHalt(deps.db, { workflowId, by: actor })) ?? active;
    await appendAudit(deps.db, [{
      actor, action: 'rollout.auto_halt_resumed', subject: workflowId,
      details: { reason: active.reason, haltedBy: active.haltedBy, haltedAt: active.haltedAt, scheduleId: active.scheduleId },
    }]);
    const signalled: Signalled = { rollouts: 1, releases: 0, installs: 0, failed: 0 };
    res.json({ halt, signalled });
  }

  return router;
}
