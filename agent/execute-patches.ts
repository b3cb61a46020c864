/**
 * An install's installers in one command (execute_patches), for every agent: before each patch the
 * agent asks the gateway for a go-ahead (the install decides from its halts and its maintenance
 * window), then runs the patch through its own one-patch execute, which re-checks the machine's real
 * state (installed already? the file's SHA-256) exactly as a single execute does. Each patch's final
 * answer is journalled under `<command id>#<update id>`, so a re-delivery of the command (the agent
 * died, a retryable failure) answers those from the journal and goes on with the rest: no patch runs
 * twice, and none is asked about twice.
 */
import {
  CommandErrorCode,
  NotStartedReason,
  type CommandOutcome,
  type ExecutePatchesPayload,
  type ExecutePatchesResult,
  type ExecutePayload,
  type ExecuteResult,
  type GoAhead,
  type PatchExecution,
  type PatchStart,
} from '../domain/device-protocol';
import { ExecutionOutcome, interpretExitCode } from '../domain/exit-codes';

/** What an agent's one-patch execute does with `{ patch, installFolder }`. */
export type ExecuteOne = (payload: ExecutePayload) => Promise<CommandOutcome>;

/** Asks the gateway whether this patch may start now (agent/agent-runner.ts posts progress with `starting`). */
export type AskToStart = (start: PatchStart & { index: number; of: number }) => Promise<GoAhead>;

/** Where each patch's final answer is kept: the agent's command journal, by a per-patch id. */
export interface PatchAnswers {
  finished(id: string): CommandOutcome | undefined;
  finish(id: string, outcome: CommandOutcome): Promise<void> | void;
}

export interface ExecutePatchesDeps {
  executeOne: ExecuteOne;
  /** absent (an agent loop that cannot ask): nothing starts, every patch is answered not started */
  askToStart?: AskToStart;
  answers: PatchAnswers;
}

/** The journal id of one patch's answer inside an execute_patches command. */
export const patchAnswerId = (commandId: string, updateId: string) => `${commandId}#${updateId}`;

/**
 * Runs the patches in order. A "no" for one KB skips that patch; any other "no" (halt, window closed,
 * withdrawn, no answer) leaves it and every later patch not started, with the reason. A patch refused
 * for good (hash mismatch, update loop...) is answered with its error and the next one goes on; an
 * unsafe install folder refuses the whole command; a failure that may pass stops here and fails the
 * command retryable (its next delivery resumes after the patches already answered).
 */
export async function executePatches(commandId: string, payload: ExecutePatchesPayload, deps: ExecutePatchesDeps): Promise<CommandOutcome> {
  const patches: PatchExecution[] = [];
  const { patches: files } = payload;
  for (let i = 0; i < files.length; i++) {
    const patch = files[i]!;
    const id = patchAnswerId(commandId, patch.updateId);
    const known = deps.answers.finished(id);
    if (known) {
      patches.push(answerOf(patch, known));
      continue;
    }
    const go: GoAhead = deps.askToStart
      ? await deps.askToStart({ updateId: patch.updateId, kb: patch.kb, index: i + 1, of: files.length })
      : { proceed: false, reason: NotStartedReason.NoGoAhead, message: 'this agent has no way to ask the gateway before a patch' };
    if (!go.proceed) {
      if (go.reason === NotStartedReason.KbHalted) {
        patches.push({ updateId: patch.updateId, kb: patch.kb, status: 'not_started', reason: go.reason, message: go.message.slice(0, 2000) });
        continue;
      }
      for (const rest of files.slice(i)) patches.push({ updateId: rest.updateId, kb: rest.kb, status: 'not_started', reason: go.reason, message: go.message.slice(0, 2000) });
      break;
    }
    const outcome = await deps.executeOne({ patch, installFolder: payload.installFolder });
    if (outcome.status === 'failed' && outcome.error.code === CommandErrorCode.UnsafeFolder) return outcome;
    if (outcome.status === 'failed' && outcome.error.retryable) {
      return { status: 'failed', error: { ...outcome.error, message: `${patch.kb}: ${outcome.error.message}` } };
    }
    // Busy is no final answer: a later batch (or delivery) runs the patch.
    if (!isBusyAnswer(outcome)) await deps.answers.finish(id, outcome);
    patches.push(answerOf(patch, outcome));
  }
  const result: ExecutePatchesResult = { patches };
  return { status: 'succeeded', result };
}

function answerOf(patch: { updateId: string; kb: string }, outcome: CommandOutcome): PatchExecution {
  const { updateId, kb } = patch;
  if (outcome.status === 'succeeded') {
    const r = outcome.result as ExecuteResult;
    return { updateId, kb, status: 'executed', exitCode: r.exitCode, durationMs: r.durationMs, alreadyInstalled: r.alreadyInstalled };
  }
  if (outcome.status === 'failed') return { updateId, kb, status: 'failed', error: outcome.error };
  return { updateId, kb, status: 'failed', error: { code: 'DeviceError', message: 'the execute was only acknowledged', retryable: false } };
}

const isBusyAnswer = (outcome: CommandOutcome) =>
  outcome.status === 'succeeded' && interpretExitCode((outcome.result as ExecuteResult).exitCode >>> 0).outcome === ExecutionOutcome.Busy;
