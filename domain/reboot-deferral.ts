/**
 * The user-deferral reboot (issue 14 part 4) as a pure step function: state in, decision out. The
 * install's reboot step loops on it: ask the logged-on user (a reboot command in `ask_defer` mode),
 * wait out a postponement on a durable timer, or force the restart (a plain `immediate` reboot) once
 * the postponements are used up or the deadline has passed (domain/install-deadline.ts says when,
 * with the grace of a device that was offline at the deadline). No clock here: `nowMs` is the
 * workflow's time, so a replay takes the same steps.
 */
import type { RebootPayload, RebootResult } from './device-protocol';
import type { RebootActionConfig } from './reboot-actions';

type UserDeferralConfig = Extract<RebootActionConfig, { action: 'ask_user_allow_deferrals' }>;

export interface UserDeferralState {
  /** postponements the user has made so far */
  deferralsUsed: number;
  /** the current postponement ends here (ms since the epoch); absent: not postponed now */
  deferredUntilMs?: number;
  /** the device restarted (the user accepted, nobody was logged on, or it was forced) */
  rebooted: boolean;
  /** each postponement, in order: for the install's result and the operator */
  history: { atMs: number; minutes: number }[];
}

export const initialUserDeferralState = (): UserDeferralState => ({ deferralsUsed: 0, rebooted: false, history: [] });

export type UserDeferralStep =
  | { kind: 'done' }
  /** send this reboot command and fold its answer in with afterAnswer */
  | { kind: 'ask'; payload: RebootPayload }
  /** sleep on a durable timer until `untilMs`, then take the next step */
  | { kind: 'wait'; untilMs: number }
  /** send this reboot command: no question, no postponement */
  | { kind: 'force'; payload: RebootPayload; why: string };

const MINUTE_MS = 60_000;

/**
 * The next thing to do. `forceAtMs` is when the deadline (or the grace after it) makes the restart
 * forced; absent: no deadline, only the number of postponements limits them. A postponement that
 * would outlast the deadline is offered only up to it.
 */
export function nextUserDeferralStep(
  config: UserDeferralConfig, state: UserDeferralState, nowMs: number, forceAtMs: number | undefined, reason: string,
): UserDeferralStep {
  if (state.rebooted) return { kind: 'done' };
  const forced = (why: string): UserDeferralStep => ({ kind: 'force', why, payload: { reason: `${reason} (forced: ${why})`, mode: { kind: 'immediate' } } });
  if (forceAtMs !== undefined && nowMs >= forceAtMs) return forced('the deadline has passed; postponements are no longer allowed');
  if (state.deferredUntilMs !== undefined && nowMs < state.deferredUntilMs) {
    return { kind: 'wait', untilMs: forceAtMs === undefined ? state.deferredUntilMs : Math.min(state.deferredUntilMs, forceAtMs) };
  }
  const left = config.deferrals - state.deferralsUsed;
  if (left <= 0) return forced(`the user postponed ${config.deferrals} time${config.deferrals === 1 ? '' : 's'}, all that is allowed`);
  const untilDeadline = forceAtMs === undefined ? Infinity : Math.floor((forceAtMs - nowMs) / MINUTE_MS);
  const minutes = Math.max(1, Math.min(config.minutes, untilDeadline));
  return {
    kind: 'ask',
    payload: { reason: `${reason} (postpone up to ${left} more time${left === 1 ? '' : 's'})`, mode: { kind: 'ask_defer', minutes, deferralsLeft: left } },
  };
}

/**
 * The state after the device answered a question. A restart is done; a postponement counts one and
 * starts its timer; any other "did not restart" answer (an agent that does not know the mode) counts as
 * a postponement of the full length, so that a device can never keep the install asking for ever.
 */
export function afterAnswer(config: UserDeferralConfig, state: UserDeferralState, result: RebootResult, nowMs: number): UserDeferralState {
  if (!result.skipped) return { ...state, rebooted: true, deferredUntilMs: undefined };
  const minutes = result.skipped.reason === 'user_deferred' && result.deferredMinutes ? result.deferredMinutes : config.minutes;
  return {
    ...state,
    deferralsUsed: state.deferralsUsed + 1,
    deferredUntilMs: nowMs + minutes * MINUTE_MS,
    history: [...state.history, { atMs: nowMs, minutes }],
  };
}

/**
 * What is wrong with a device's answer to a reboot command, against the command it answers (the
 * gateway refuses it with a 400): a postponement only answers an `ask_defer` question that still
 * allowed one, for 1 to the offered minutes; a postponement keeps the boot id (the schema checks that).
 */
export function deferredReplyProblem(payload: RebootPayload, result: RebootResult): string | undefined {
  if (result.skipped?.reason !== 'user_deferred') {
    return result.deferredMinutes === undefined ? undefined : 'deferredMinutes is only for skipped.reason "user_deferred"';
  }
  const mode = payload.mode;
  if (mode?.kind !== 'ask_defer') return `"user_deferred" answers only an ask_defer reboot; this command's mode is ${mode?.kind ?? 'immediate'}`;
  if (mode.deferralsLeft <= 0) return 'the command allowed no more postponements';
  if (result.deferredMinutes === undefined || result.deferredMinutes > mode.minutes) {
    return `deferredMinutes must be from 1 to the ${mode.minutes} minutes offered`;
  }
  return undefined;
}
