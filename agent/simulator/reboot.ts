/**
 * Restarting Windows the way the command's reboot mode asks (Kaseya's Reboot Action): at once, after a
 * warning, skipped while a user is logged on, or after asking the user, who may decline or postpone.
 */
import type { AgentCommand, CommandOutcome, RebootPayload, RebootResult } from '../../domain/device-protocol';
import { sleep } from '../timing';
import { INVALID_PAYLOAD } from './device-log';
import type { SimulatedMachine } from './machine';
import type { HandleOptions, RebootAnswer } from './options';

/** `ask_every` gives up after this many prompts and reports the reboot skipped (no answer). */
export const MAX_REBOOT_PROMPTS = 50;

type SkipReason = 'user_logged_on' | 'user_declined' | 'no_answer' | 'user_deferred';

interface Skip {
  reason: SkipReason;
  waitedMinutes: number;
  /** what the device's log says */
  detail: string;
  /** how long the user postponed the restart (ask_defer) */
  deferredMinutes?: number;
}

/**
 * Restart Windows, after the interaction the command's mode asks for (absent = immediate). Restarting
 * is answered "acknowledged" (the runner restarts once the gateway has it); not restarting is answered
 * at once as succeeded with `skipped` and the unchanged boot id. A re-delivery of an acknowledged
 * reboot neither prompts nor restarts again.
 */
export async function reboot(m: SimulatedMachine, command: AgentCommand<'reboot'>, options: HandleOptions): Promise<CommandOutcome> {
  if (m.state.acknowledgedReboots.has(command.id)) return { status: 'acknowledged' };
  const mode = command.payload.mode ?? { kind: 'immediate' };
  const problem = rebootModeProblem(mode);
  if (problem) return m.log.refuse(command, { code: INVALID_PAYLOAD, message: problem, retryable: false });

  const loggedOn = m.user.isLoggedOn();
  const restart = (detail: string): CommandOutcome => {
    m.state.acknowledgedReboots.set(command.id, m.state.bootId);
    m.log.record({ commandId: command.id, type: command.type, detail: `restart requested from boot ${m.state.bootId}: ${detail}` });
    return { status: 'acknowledged' };
  };
  const skip = ({ reason, waitedMinutes, detail, deferredMinutes }: Skip): CommandOutcome => {
    m.log.record({ commandId: command.id, type: 'reboot-skipped', detail: `${reason}: ${detail}` });
    const result: RebootResult = {
      previousBootId: m.state.bootId, bootId: m.state.bootId, skipped: { reason }, userWasLoggedOn: loggedOn, waitedMinutes,
      ...(deferredMinutes === undefined ? {} : { deferredMinutes }),
    };
    return { status: 'succeeded', result };
  };
  const interrupted = (what: string): CommandOutcome =>
    m.log.refuse(command, { code: 'Interrupted', message: `the agent stopped during ${what}; the machine did not restart`, retryable: true });
  /** Simulated minutes pass; false when the agent stopped meanwhile. */
  const wait = async (minutes: number): Promise<boolean> => {
    await sleep(minutes * m.minuteMs, options.signal);
    return !options.signal?.aborted;
  };
  const prompt = (n: number, minutes: number): RebootAnswer => {
    const answer = m.user.answerPrompt();
    m.log.record({ commandId: command.id, type: 'reboot-prompt', detail: `prompt ${n} (answer within ${minutes} min): ${answer}` });
    options.onProgress?.({ message: `asking the logged-on user to reboot (prompt ${n})` });
    return answer;
  };

  // Nobody logged on: every mode restarts at once (rule 23).
  if (mode.kind === 'immediate' || !loggedOn) return restart(`${mode.kind}${loggedOn ? '' : ', nobody logged on'}`);

  switch (mode.kind) {
    case 'warn': {
      m.log.record({ commandId: command.id, type: 'reboot-warning', detail: `user warned: restart in ${mode.minutes} min` });
      options.onProgress?.({ message: `warned the logged-on user: restart in ${mode.minutes} minutes` });
      if (!(await wait(mode.minutes))) return interrupted('the reboot warning');
      return restart(`after a ${mode.minutes} min warning`);
    }
    case 'skip_if_user_logged_on':
      return skip({ reason: 'user_logged_on', waitedMinutes: 0, detail: 'a user is logged on; reboot skipped' });
    case 'ask_every': {
      let waited = 0;
      for (let n = 1; n <= MAX_REBOOT_PROMPTS; n++) {
        if (prompt(n, mode.minutes) === 'yes') return restart(`user accepted prompt ${n}`);
        // declined or ignored: ask again N minutes later (the last unanswered prompt times out too)
        if (!(await wait(mode.minutes))) return interrupted('the reboot prompts');
        waited += mode.minutes;
      }
      return skip({ reason: 'no_answer', waitedMinutes: waited, detail: `no "yes" after ${MAX_REBOOT_PROMPTS} prompts` });
    }
    case 'ask': {
      const answer = prompt(1, mode.minutes);
      if (answer === 'yes') return restart('user accepted');
      if (answer === 'no') return skip({ reason: 'user_declined', waitedMinutes: 0, detail: 'the user declined the reboot' });
      if (!(await wait(mode.minutes))) return interrupted('the reboot prompt');
      return mode.ifNoAnswer === 'reboot'
        ? restart(`no answer in ${mode.minutes} min`)
        : skip({ reason: 'no_answer', waitedMinutes: mode.minutes, detail: `no answer in ${mode.minutes} min; doing nothing` });
    }
    case 'ask_defer': {
      // "Restart now, or postpone?": queued answers first, then the user's habit (defersReboots).
      let answer: RebootAnswer;
      if (m.user.hasQueuedAnswers()) answer = prompt(1, mode.minutes);
      else {
        answer = m.user.answerByHabit();
        m.log.record({ commandId: command.id, type: 'reboot-prompt', detail: `restart now or postpone ${mode.minutes} min (${mode.deferralsLeft} left): ${answer}` });
        options.onProgress?.({ message: `asking the logged-on user to restart or postpone (${mode.deferralsLeft} postponements left)` });
      }
      if ((answer === 'defer' || answer === 'no') && mode.deferralsLeft > 0) {
        return skip({ reason: 'user_deferred', waitedMinutes: 0, detail: `the user postponed the restart by ${mode.minutes} min`, deferredMinutes: mode.minutes });
      }
      if (answer === 'none') {
        if (!(await wait(mode.minutes))) return interrupted('the reboot question');
        return restart(`no answer in ${mode.minutes} min`);
      }
      return restart('user chose restart now');
    }
  }
}

/** The restart finished: a new boot id, and what waited for the restart is now installed. */
export function completeReboot(m: SimulatedMachine): RebootResult {
  const { previousBootId, bootId, finished } = m.state.restarted();
  m.log.record({ type: 'reboot-completed', detail: `boot ${previousBootId} → ${bootId}; finished ${finished.join(', ') || 'nothing pending'}` });
  m.state.save();
  return { previousBootId, bootId };
}

/** Why a reboot mode cannot be applied (an unknown kind, minutes out of range), or undefined. */
function rebootModeProblem(mode: NonNullable<RebootPayload['mode']>): string | undefined {
  const kind: string = mode.kind;
  switch (mode.kind) {
    case 'immediate':
    case 'skip_if_user_logged_on':
      return undefined;
    case 'ask_defer':
      if (!Number.isInteger(mode.minutes) || mode.minutes < 1 || mode.minutes > 1440) return `reboot mode ask_defer: minutes must be a whole number from 1 to 1440, got ${String(mode.minutes)}`;
      if (!Number.isInteger(mode.deferralsLeft) || mode.deferralsLeft < 0) return `reboot mode ask_defer: deferralsLeft must be a whole number from 0, got ${String(mode.deferralsLeft)}`;
      return undefined;
    case 'warn':
    case 'ask_every':
    case 'ask': {
      if (!Number.isInteger(mode.minutes) || mode.minutes < 1 || mode.minutes > 1440) return `reboot mode ${kind}: minutes must be a whole number from 1 to 1440, got ${String(mode.minutes)}`;
      if (mode.kind === 'ask' && mode.ifNoAnswer !== 'reboot' && mode.ifNoAnswer !== 'do_nothing') return `reboot mode ask: ifNoAnswer must be "reboot" or "do_nothing", got ${String(mode.ifNoAnswer)}`;
      return undefined;
    }
    default:
      return `this agent does not know the reboot mode "${kind}"; it did not restart`;
  }
}
