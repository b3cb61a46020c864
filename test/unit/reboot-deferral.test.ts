import { resultSchemas } from '../../api/agent-schemas';
import type { RebootPayload, RebootResult } from '../../domain/device-protocol';
import { planReboot, rebootActionProblems, type RebootActionConfig } from '../../domain/reboot-actions';
import { validateRebootAction } from '../../domain/reboot-action-schema';
import { afterAnswer, deferredReplyProblem, initialUserDeferralState, nextUserDeferralStep, type UserDeferralState } from '../../domain/reboot-deferral';

// The user-deferral reboot action (issue 14 part 4): up to N postponements of M minutes, then forced;
// forced from the deadline on (domain/install-deadline.ts computes when).

type Config = Extract<RebootActionConfig, { action: 'ask_user_allow_deferrals' }>;
const CONFIG: Config = { action: 'ask_user_allow_deferrals', deferrals: 2, minutes: 30 };
const MIN = 60_000;
const T0 = Date.parse('2026-12-12T10:00:00Z');
const REASON = 'patches installed pending reboot';

const deferred = (minutes: number): RebootResult => ({ previousBootId: 'b1', bootId: 'b1', skipped: { reason: 'user_deferred' }, deferredMinutes: minutes, userWasLoggedOn: true });
const restarted: RebootResult = { previousBootId: 'b1', bootId: 'b2' };

describe('the step function, state in, decision out', () => {
  test('N postponements, each waited out, then forced', () => {
    let st: UserDeferralState = initialUserDeferralState();
    let now = T0;
    const steps: string[] = [];
    for (let i = 0; i < 10; i++) {
      const step = nextUserDeferralStep(CONFIG, st, now, undefined, REASON);
      if (step.kind === 'done') break;
      if (step.kind === 'ask') {
        steps.push(`ask ${JSON.stringify(step.payload.mode)}`);
        st = afterAnswer(CONFIG, st, deferred(30), now);
      } else if (step.kind === 'wait') {
        steps.push(`wait ${(step.untilMs - now) / MIN} min`);
        now = step.untilMs;
      } else {
        steps.push(`force ${step.why}`);
        expect(step.payload).toEqual({ reason: `${REASON} (forced: ${step.why})`, mode: { kind: 'immediate' } });
        st = afterAnswer(CONFIG, st, restarted, now);
      }
    }
    expect(steps).toEqual([
      'ask {"kind":"ask_defer","minutes":30,"deferralsLeft":2}',
      'wait 30 min',
      'ask {"kind":"ask_defer","minutes":30,"deferralsLeft":1}',
      'wait 30 min',
      'force the user postponed 2 times, all that is allowed',
    ]);
    expect(st).toMatchObject({ rebooted: true, deferralsUsed: 2, history: [{ atMs: T0, minutes: 30 }, { atMs: T0 + 30 * MIN, minutes: 30 }] });
  });

  test.each([
    { name: 'accepted at the first question: done', state: { ...initialUserDeferralState(), rebooted: true }, now: T0, forceAt: undefined, kind: 'done' },
    { name: 'past the deadline: forced, postponements left or not', state: initialUserDeferralState(), now: T0, forceAt: T0, kind: 'force' },
    { name: 'a postponement is offered only up to the deadline', state: initialUserDeferralState(), now: T0, forceAt: T0 + 10 * MIN, kind: 'ask', minutes: 10 },
    { name: 'less than a minute to the deadline: one minute', state: initialUserDeferralState(), now: T0, forceAt: T0 + 20_000, kind: 'ask', minutes: 1 },
    {
      name: 'a wait ends at the deadline when that comes first',
      state: { ...initialUserDeferralState(), deferralsUsed: 1, deferredUntilMs: T0 + 30 * MIN }, now: T0, forceAt: T0 + 5 * MIN, kind: 'wait', untilMs: T0 + 5 * MIN,
    },
  ])('$name', ({ state, now, forceAt, kind, minutes, untilMs }: { state: UserDeferralState; now: number; forceAt?: number; kind: string; minutes?: number; untilMs?: number }) => {
    const step = nextUserDeferralStep(CONFIG, state, now, forceAt, REASON);
    expect(step.kind).toBe(kind);
    if (step.kind === 'ask') expect(step.payload.mode).toEqual({ kind: 'ask_defer', minutes, deferralsLeft: 2 });
    if (step.kind === 'wait') expect(step.untilMs).toBe(untilMs);
    if (step.kind === 'force') expect(step.why).toBe('the deadline has passed; postponements are no longer allowed');
  });

  test('an answer the action does not expect still counts as a postponement, so nothing asks for ever', () => {
    const st = afterAnswer(CONFIG, initialUserDeferralState(), { previousBootId: 'b', bootId: 'b', skipped: { reason: 'user_logged_on' } }, T0);
    expect(st).toMatchObject({ deferralsUsed: 1, deferredUntilMs: T0 + 30 * MIN });
  });

  test('the action plans its first question like the other actions plan theirs', () => {
    const p = planReboot(CONFIG, { rebootNeeded: true, now: new Date(T0), timezone: 'UTC' });
    expect(p).toMatchObject({ kind: 'command', payload: { mode: { kind: 'ask_defer', minutes: 30, deferralsLeft: 2 } } });
  });
});

describe('validation of N, M, the deadline and the grace (422 naming the field at the API)', () => {
  test.each([
    { config: { deferrals: 1, minutes: 1 }, problems: [] },
    { config: { deferrals: 10, minutes: 1440, deadlineDays: 30, graceDays: 7 }, problems: [] },
    { config: { deferrals: 0, minutes: 30 }, problems: ['rebootAction.deferrals: must be a whole number of postponements from 1 to 10, got 0'] },
    { config: { deferrals: 11, minutes: 30 }, problems: ['rebootAction.deferrals: must be a whole number of postponements from 1 to 10, got 11'] },
    { config: { deferrals: 2.5, minutes: 30 }, problems: ['rebootAction.deferrals: must be a whole number of postponements from 1 to 10, got 2.5'] },
    { config: { deferrals: 3, minutes: 0 }, problems: ['rebootAction.minutes: must be a whole number of minutes from 1 to 1440, got 0'] },
    { config: { deferrals: 3, minutes: 1441 }, problems: ['rebootAction.minutes: must be a whole number of minutes from 1 to 1440, got 1441'] },
    { config: { deferrals: 3, minutes: 30, deadlineDays: 31 }, problems: ['rebootAction.deadlineDays: must be a whole number of days from 0 to 30, got 31'] },
    { config: { deferrals: 3, minutes: 30, deadlineDays: 2, graceDays: 8 }, problems: ['rebootAction.graceDays: must be a whole number of days from 0 to 7, got 8'] },
    { config: { deferrals: 3, minutes: 30, graceDays: 2 }, problems: ['rebootAction.graceDays: a grace period needs a deadline: set deadlineDays (0–30) too, or leave graceDays out'] },
  ])('$config', ({ config, problems }) => {
    const full = { action: 'ask_user_allow_deferrals' as const, ...config };
    expect(rebootActionProblems(full).map((p) => `${p.path}: ${p.message}`)).toEqual(problems);
    const v = validateRebootAction(full);
    expect(v.ok).toBe(problems.length === 0);
    if (!v.ok) expect(v.message).toBe(problems.join('; '));
  });

  test('a missing or non-number field is a type error, and unknown fields are refused', () => {
    expect(validateRebootAction({ action: 'ask_user_allow_deferrals', minutes: 30 })).toMatchObject({ ok: false, issues: [{ path: 'rebootAction.deferrals' }] });
    expect(validateRebootAction({ action: 'ask_user_allow_deferrals', deferrals: '3', minutes: 30 })).toMatchObject({ ok: false, issues: [{ path: 'rebootAction.deferrals' }] });
    expect(validateRebootAction({ action: 'ask_user_allow_deferrals', deferrals: 3, minutes: 30, snooze: true }).ok).toBe(false);
    expect(rebootActionProblems({ action: 'warn_then_reboot', minutes: 5 })).toEqual([]);
  });
});

describe("the device's answer to a postponement, as the gateway checks it", () => {
  const question: RebootPayload = { reason: 'r', mode: { kind: 'ask_defer', minutes: 30, deferralsLeft: 2 } };
  const schema = resultSchemas.reboot;

  test('the schema: a postponement keeps its boot id and says for how long', () => {
    expect(schema.parse(deferred(30))).toEqual(deferred(30));
    expect(schema.safeParse({ previousBootId: 'a', bootId: 'a', skipped: { reason: 'user_deferred' } }).success).toBe(false);
    expect(schema.safeParse({ ...deferred(30), bootId: 'b2' }).success).toBe(false);
    expect(schema.safeParse(deferred(0)).success).toBe(false);
    expect(schema.safeParse(deferred(1.5)).success).toBe(false);
  });

  test.each([
    { name: 'a postponement within the offer', payload: question, result: deferred(30), problem: undefined },
    { name: 'a shorter postponement', payload: question, result: deferred(5), problem: undefined },
    { name: 'a restart', payload: question, result: restarted, problem: undefined },
    { name: 'longer than offered', payload: question, result: deferred(31), problem: 'deferredMinutes must be from 1 to the 30 minutes offered' },
    { name: 'to a question that allowed none', payload: { reason: 'r', mode: { kind: 'ask_defer' as const, minutes: 30, deferralsLeft: 0 } }, result: deferred(30), problem: 'the command allowed no more postponements' },
    { name: 'to a forced restart', payload: { reason: 'r', mode: { kind: 'immediate' as const } }, result: deferred(30), problem: '"user_deferred" answers only an ask_defer reboot; this command\'s mode is immediate' },
    { name: 'minutes without a postponement', payload: question, result: { ...restarted, deferredMinutes: 5 }, problem: 'deferredMinutes is only for skipped.reason "user_deferred"' },
  ])('$name', ({ payload, result, problem }) => {
    expect(deferredReplyProblem(payload, result)).toBe(problem);
  });
});
