/**
 * What a Windows Update Agent run means for each patch. WUA answers at two levels: the collection's
 * IInstallationResult (ResultCode, HResult) and one IUpdateInstallationResult per update from
 * GetUpdateResult(i). A collection that "succeeded with errors" (3) says only that something went wrong
 * somewhere, so every patch is read from its own row; the collection's HResult is used only when a
 * failed row carries none (WUA then puts WU_E_ALL_UPDATES_FAILED, 0x80240022, on the collection).
 * The resulting code goes through the same table as wusa's and msiexec's exit codes (domain/exit-codes.ts),
 * so the install workflow reads a WUA run exactly as it reads an installer's exit code.
 */
import { ExecutionOutcome, ExitCode, interpretExitCode } from './exit-codes';
import type { InstallOutput, PerUpdateResult } from './wua-schemas';

/** WUA's OperationResultCode (wuapi.h; ../shared/DOMAIN-RULES.md §3.1). */
export const OperationResultCode = {
  /** the operation has not started */
  NotStarted: 0,
  /** still running: not a final answer */
  InProgress: 1,
  /** finished without errors */
  Succeeded: 2,
  /** finished, but one or more errors occurred: read each update's row */
  SucceededWithErrors: 3,
  /** failed */
  Failed: 4,
  /** aborted (cancelled, or the service stopped): nothing final happened, worth another try */
  Aborted: 5,
} as const;
export type OperationResultCode = (typeof OperationResultCode)[keyof typeof OperationResultCode];

/** WU_S_REBOOT_REQUIRED: the code a row with RebootRequired = true and no HResult of its own stands for. */
export const WU_S_REBOOT_REQUIRED = ExitCode.WuRebootRequired;
/** WU_S_UPDATE_ERROR: "the operation completed successfully but errors occurred applying the updates". */
export const WU_S_UPDATE_ERROR = ExitCode.WuUpdateError;
/** E_FAIL: a failed row without any HResult, on it or on the collection. */
export const E_FAIL = 0x80004005;

/** An HRESULT with the severity bit set is an error; 0x0024xxxx are WUA's success codes. */
export const isFailureHresult = (code: number): boolean => (code >>> 0) >= 0x80000000;

/** One update's reading: the code to answer with, or a non-final state worth another delivery. */
export type UpdateReading =
  | { final: true; updateId: string; exitCode: number; outcome: ExecutionOutcome; why: string }
  | { final: false; updateId: string; code: 'Interrupted' | 'NotFinished'; why: string };

/** Reads one GetUpdateResult(i) row; `collectionHresult` fills in a failed row that carries no HResult. */
export function readUpdateResult(row: PerUpdateResult, collectionHresult: number): UpdateReading {
  const { updateId } = row;
  const hr = row.hresult >>> 0;
  const answer = (exitCode: number, why: string): UpdateReading => ({ final: true, updateId, exitCode: exitCode >>> 0, outcome: interpretExitCode(exitCode).outcome, why });
  switch (row.resultCode) {
    case OperationResultCode.Succeeded:
      // A success row may carry a WUA success code (0x00240006 already installed); else RebootRequired decides.
      if (hr !== 0 && !isFailureHresult(hr)) return answer(hr, 'succeeded');
      return row.rebootRequired ? answer(WU_S_REBOOT_REQUIRED, 'succeeded; a restart finishes it') : answer(0, 'succeeded');
    case OperationResultCode.SucceededWithErrors:
      if (isFailureHresult(hr)) return answer(hr, 'succeeded with errors, and this update carries an error');
      if (row.rebootRequired) return answer(WU_S_REBOOT_REQUIRED, 'succeeded with errors; a restart finishes it');
      // Installed as far as WUA says, with errors: the post-scan decides whether it is really in.
      return answer(WU_S_UPDATE_ERROR, 'succeeded with errors; the post-scan verifies it');
    case OperationResultCode.Failed: {
      if (isFailureHresult(hr)) return answer(hr, 'failed');
      const fallback = isFailureHresult(collectionHresult) ? collectionHresult : E_FAIL;
      return answer(fallback, "failed without an HResult of its own: the collection's");
    }
    case OperationResultCode.Aborted:
      return { final: false, updateId, code: 'Interrupted', why: 'Windows Update aborted the operation (cancelled, or the service stopped); nothing final happened' };
    default:
      return { final: false, updateId, code: 'NotFinished', why: `Windows Update reported result code ${row.resultCode} (not started / in progress), which is not a final answer` };
  }
}

/** Every update of one `install` run, read per update, and whether the run as a whole was all good. */
export interface InstallationReading {
  updates: UpdateReading[];
  /** true only when the collection reports Succeeded and every row is a success */
  allGood: boolean;
  collectionResultCode: number;
  collectionHresult: number;
}

const GOOD: ReadonlySet<ExecutionOutcome> = new Set([ExecutionOutcome.Installed, ExecutionOutcome.InstalledPendingReboot, ExecutionOutcome.AlreadyInstalled]);

/**
 * Reads an `install` answer for the updates requested, in the order requested: GetUpdateResult(i) is by
 * position in the collection, so a row whose update id is not the one at its position, a missing row or
 * an extra one means the answer does not describe this run, and nothing of it is believed.
 */
export function readInstallation(output: InstallOutput, requested: readonly string[]): InstallationReading | { problem: string } {
  if (output.rebootRequiredBeforeInstallation) return { problem: 'Windows requires a restart before it installs anything (IUpdateInstaller.RebootRequiredBeforeInstallation)' };
  if (output.updates.length !== requested.length) {
    return { problem: `the install answer has ${output.updates.length} update results for ${requested.length} requested updates` };
  }
  const updates: UpdateReading[] = [];
  for (const [i, row] of output.updates.entries()) {
    if (row.updateId.toLowerCase() !== requested[i]!.toLowerCase()) {
      return { problem: `result ${i} is for update ${row.updateId}, but update ${requested[i]} was requested at that position` };
    }
    updates.push(readUpdateResult(row, output.hresult));
  }
  const allGood = output.resultCode === OperationResultCode.Succeeded && updates.every((u) => u.final && GOOD.has(u.outcome));
  return { updates, allGood, collectionResultCode: output.resultCode, collectionHresult: output.hresult >>> 0 };
}
