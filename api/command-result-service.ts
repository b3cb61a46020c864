import { runIdOfCommand } from '../activities/device-command';
import { appendAudit } from '../db/audit-repository';
import { acknowledgeReboot, findCommandForDevice, recordProgress, recordWaitingProgress, storeOutcome, type CommandRow } from '../db/command-repository';
import { refusalReasonOf } from '../domain/command-envelope';
import { CommandStatus, isWaitingOnDevice } from '../domain/command-lifecycle';
import { CommandErrorCode, NotStartedReason, type ExecutePatchesPayload, type GoAhead, type PatchStart, type RebootPayload, type RebootResult } from '../domain/device-protocol';
import { deferredReplyProblem } from '../domain/reboot-deferral';
import type { GatewayDeps } from './agent-gateway';
import { BOOT_ID_HEADER, resultSchemas, type outcomeSchema, type progressSchema } from './agent-schemas';
import { completeActivity, type CommandCompletionDeps, type StoredOutcome } from './command-completion';
import { describeZodError, HttpError } from './errors';
import type { ProgressHeartbeats } from './progress-heartbeats';
import { storedOutcomeOf } from './result-delivery';
import { scanResultFromReport } from './scan-report';
import { executeGoAheadQuery } from '../workflows/install.contract';
import type { z } from 'zod';

export type CommandResultDeps = CommandCompletionDeps & Pick<GatewayDeps, 'metrics'> & { progressHeartbeats: ProgressHeartbeats };

/** The device as its credential and boot id header name it. */
export interface ReportingDevice { deviceId: string; bootId?: string }

/**
 * A device's answer to one of its commands: stored, then handed to the waiting activity. A re-post of
 * an answer already stored is accepted again (and delivered if still owed); a withdrawn or finished
 * command is a 409; an answer that does not fit the command is a 400 naming the field.
 */
export async function acceptCommandResult(deps: CommandResultDeps, device: ReportingDevice, id: string, outcome: z.infer<typeof outcomeSchema>) {
  const { db, log, metrics } = deps;
  const row = await findCommandForDevice(db, id, device.deviceId);
  if (!row) throw new HttpError(404, `command ${id} not found for this device`);
  if (outcome.status === 'failed' && outcome.error.code === CommandErrorCode.CommandRefused) {
    // The device's own credential, about a command addressed to it: the refusal is believable, and
    // it can fail only that device's own step. Audited whatever happens next (who, what, why), even
    // for a command that is already finished (a replay of it).
    await appendAudit(db, [{
      actor: `device:${device.deviceId}`, action: 'command.refused', deviceId: device.deviceId, subject: id,
      details: { type: row.type, workflowId: row.workflowId, attempt: row.attempt, reason: refusalReasonOf(outcome.error.message) ?? 'unstated', message: outcome.error.message, retryable: outcome.error.retryable },
    }]);
    log.warn({ deviceId: device.deviceId, commandId: id, type: row.type, reason: outcome.error.message }, 'command refused by the device');
  }
  if (row.status === CommandStatus.Withdrawn) throw new HttpError(409, `command ${id} was withdrawn; its result is not needed`);
  if (row.status === CommandStatus.Succeeded) {
    // A re-post after an answer that never reached the device (a 500, a dropped reply): the stored
    // answer may be owed to Temporal still, so deliver it now rather than leave it to a timeout.
    const delivered = row.deliveredAt ? undefined : await completeActivity(deps, row, storedOutcomeOf(row));
    return { accepted: true, status: row.status, duplicate: true, ...(delivered === undefined ? {} : { delivered }) };
  }

  if (outcome.status === 'acknowledged') {
    if (row.type !== 'reboot') throw new HttpError(400, `body.status: "acknowledged" is only for reboot commands, not ${row.type}`);
    if (!device.bootId) throw new HttpError(400, `header ${BOOT_ID_HEADER} is required to acknowledge a reboot`);
    const acked = await acknowledgeReboot(db, id, device.bootId);
    if (acked) {
      // Said now, and last: a warning or prompt still held back must not replace it afterwards.
      deps.progressHeartbeats.settle(id);
      await deps.client.activity.heartbeat(row.taskToken, { stage: 'rebooting' }).catch(() => undefined);
    }
    metrics.commandResults.inc({ type: row.type, status: 'acknowledged' });
    return { accepted: true, status: acked?.status ?? row.status };
  }

  let stored: StoredOutcome;
  if (outcome.status === 'succeeded' && row.type === 'scan') {
    // A scan answers with catalog facts, never with the device's: see api/scan-report.ts.
    stored = { status: 'succeeded', result: await scanResultFromReport(db, device.deviceId, id, outcome.result) };
  } else if (outcome.status === 'succeeded') {
    const result = resultSchemas[row.type].safeParse(outcome.result);
    if (!result.success) throw new HttpError(400, describeZodError(result.error, 'body.result'));
    if (row.type === 'reboot') {
      // A postponement must answer a question that offered one, for no longer than offered.
      const problem = deferredReplyProblem(row.payload as RebootPayload, result.data as RebootResult);
      if (problem) throw new HttpError(400, `body.result: ${problem}`);
    }
    stored = { status: 'succeeded', result: result.data };
  } else {
    stored = { status: 'failed', error: outcome.error };
  }
  const updated = await storeOutcome(db, id, stored);
  if (!updated) throw new HttpError(409, `command ${id} is already finished (${row.status})`);
  deps.progressHeartbeats.settle(id);
  const delivered = await completeActivity(deps, updated, stored);
  metrics.commandResults.inc({ type: row.type, status: outcome.status });
  log.info({ deviceId: device.deviceId, commandId: id, type: row.type, status: outcome.status, delivered }, 'command result');
  return { accepted: true, status: updated.status, delivered };
}

/** A Temporal query may not hang the agent's request: past this the agent asks again. */
const GO_AHEAD_DEADLINE_MS = 5_000;

/**
 * A waiting command's progress: stored, and heartbeated so the Web UI's pending activity shows
 * "download 50%" (at most one heartbeat per command per interval: api/progress-heartbeats.ts).
 * Progress that names the next patch of an execute_patches command (`starting`) is also the agent's
 * question "may I start it?": the install workflow answers it (executeGoAheadQuery), from its own
 * halts and maintenance window, with this server's clock; the agent starts the patch
 * only on `goAhead.proceed`. An install that cannot be asked now is a 503: the agent asks again.
 */
export async function acceptProgress(deps: CommandCompletionDeps & Pick<CommandResultDeps, 'progressHeartbeats'>, deviceId: string, id: string, progress: z.infer<typeof progressSchema>): Promise<{ goAhead?: GoAhead }> {
  const { starting } = progress;
  // One round trip when the report fits (the usual case); else the checks below name what does not.
  const row = await recordWaitingProgress(deps.db, id, deviceId, progress, starting?.updateId) ?? await checkedProgress(deps, deviceId, id, progress);
  await deps.progressHeartbeats.report(id, row.taskToken, progress);
  if (!starting) return {};
  return { goAhead: await askInstall(deps, row.workflowId, id, starting) };
}

/** A report recordWaitingProgress did not take: refused with the reason, or (its command changed meanwhile) stored after all. */
async function checkedProgress(deps: CommandCompletionDeps, deviceId: string, id: string, progress: z.infer<typeof progressSchema>): Promise<CommandRow> {
  const row = await findCommandForDevice(deps.db, id, deviceId);
  if (!row) throw new HttpError(404, `command ${id} not found for this device`);
  if (!isWaitingOnDevice(row.status)) throw new HttpError(409, `command ${id} is already finished (${row.status})`);
  const { starting } = progress;
  if (starting) {
    if (row.type !== 'execute_patches') throw new HttpError(400, `body.starting: only an execute_patches command asks before a patch, not ${row.type}`);
    if (!(row.payload as ExecutePatchesPayload).patches.some((p) => p.updateId === starting.updateId)) {
      throw new HttpError(400, `body.starting.updateId: ${starting.updateId} is not a patch of command ${id}`);
    }
  }
  await recordProgress(deps.db, id, progress);
  return row;
}

/** The install's go-ahead for one patch (the run that sent the command), at this server's time. */
async function askInstall(deps: CommandCompletionDeps, workflowId: string, commandId: string, starting: PatchStart): Promise<GoAhead> {
  const handle = deps.client.workflow.getHandle(workflowId, runIdOfCommand(commandId));
  try {
    return await deps.client.connection.withDeadline(Date.now() + GO_AHEAD_DEADLINE_MS,
      () => handle.query(executeGoAheadQuery, { updateId: starting.updateId, kb: starting.kb, at: new Date().toISOString() }));
  } catch (err) {
    if (isNotFound(err)) return { proceed: false, reason: NotStartedReason.Withdrawn, message: 'the install that sent this command is gone' };
    deps.log.warn({ err, commandId }, 'go-ahead not answered by the install');
    throw new HttpError(503, 'the install could not be asked for a go-ahead now; ask again');
  }
}

const isNotFound = (err: unknown) => err instanceof Error && (err.name === 'WorkflowNotFoundError' || err.name === 'NamespaceNotFoundError');
