/**
 * The zod schema of a Reboot Action and `validateRebootAction`, for the API and stored policies. Kept
 * out of reboot-actions.ts, which workflows import: the workflow bundle then carries no zod (the
 * worker evaluates a workflow's modules once per cached workflow, and zod cost about 750 KiB each;
 * README "Benchmarks", open-workflows). Never import this module from workflow code.
 */
import { z } from 'zod';
import { LOCAL_TIME_PATTERN } from './local-time';
import { REBOOT_DAYS, RebootAction, rebootActionProblems, type RebootActionConfig } from './reboot-actions';

const MINUTES_MESSAGE = 'must be a whole number of minutes from 1 to 1440';
const minutes = z
  .number({ error: (issue) => (issue.input === undefined ? `is required (${MINUTES_MESSAGE.replace('must be ', '')})` : MINUTES_MESSAGE) })
  .int({ error: MINUTES_MESSAGE })
  .min(1, { error: MINUTES_MESSAGE })
  .max(1440, { error: MINUTES_MESSAGE });
const time = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required: a 24-hour "HH:MM", e.g. "03:30"' : 'must be a 24-hour "HH:MM", e.g. "03:30"') })
  .regex(LOCAL_TIME_PATTERN, { error: 'must be a 24-hour "HH:MM" from 00:00 to 23:59, e.g. "03:30"' });
const day = z.enum(REBOOT_DAYS, {
  error: (issue) => (issue.input === undefined ? `is required: one of ${REBOOT_DAYS.join(', ')}` : `must be one of ${REBOOT_DAYS.join(', ')}`),
});
const action = <A extends RebootAction>(a: A) => z.literal(a);
/**
 * The user-deferral action's numbers are typed here (a string is a 400) and ranged by
 * rebootActionProblems (a 422 naming the field): the ranges are rules of the action, not of JSON.
 */
const count = (what: string) => z.number({ error: (issue) => (issue.input === undefined ? `is required (${what})` : `must be a number (${what})`) });

/** The zod schema of a RebootActionConfig (strict: unknown fields are refused). Reusable by the API. */
export const rebootActionConfigSchema = z.discriminatedUnion(
  'action',
  [
    z.strictObject({ action: action(RebootAction.RebootImmediately) }),
    z.strictObject({ action: action(RebootAction.RebootAt), day, time }),
    z.strictObject({ action: action(RebootAction.WarnThenReboot), minutes }),
    z.strictObject({ action: action(RebootAction.SkipIfUserLoggedOn) }),
    z.strictObject({ action: action(RebootAction.AskEveryNMinutes), minutes }),
    z.strictObject({ action: action(RebootAction.AskThenRebootIfNoAnswer), minutes }),
    z.strictObject({ action: action(RebootAction.AskThenDoNothingIfNoAnswer), minutes }),
    z.strictObject({ action: action(RebootAction.DoNotReboot) }),
    z.strictObject({
      action: action(RebootAction.AskUserAllowDeferrals),
      deferrals: count('postponements the user may make, 1 to 10'),
      minutes: count('minutes each postponement lasts, 1 to 1440'),
      deadlineDays: count('days after the patch became available, 0 to 30').optional(),
      graceDays: count('days a device offline at the deadline gets from its return, 0 to 7; needs deadlineDays').optional(),
    }),
  ],
  { error: () => `action must be one of ${Object.values(RebootAction).join(', ')}` },
);

// Compile-time check: the schema's output is exactly RebootActionConfig, both ways.
type SchemaOutput = z.infer<typeof rebootActionConfigSchema>;
const _sameShape: [SchemaOutput] extends [RebootActionConfig] ? ([RebootActionConfig] extends [SchemaOutput] ? true : never) : never = true;
void _sameShape;

export type RebootActionValidation =
  | { ok: true; config: RebootActionConfig }
  | {
      ok: false;
      /** every problem on one line, e.g. `rebootAction.minutes: must be a whole number of minutes from 1 to 1440` */
      message: string;
      issues: { path: string; message: string }[];
    };

/**
 * Parses a Reboot Action from JSON (an API body, a stored policy). `where` prefixes the paths in the
 * messages. Never throws.
 */
export function validateRebootAction(raw: unknown, where = 'rebootAction'): RebootActionValidation {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const message = `must be an object like {"action": "${RebootAction.SkipIfUserLoggedOn}"}`;
    return { ok: false, message: `${where}: ${message}`, issues: [{ path: where, message }] };
  }
  const parsed = rebootActionConfigSchema.safeParse(raw);
  if (parsed.success) {
    const problems = rebootActionProblems(parsed.data, where);
    if (problems.length === 0) return { ok: true, config: parsed.data };
    return { ok: false, message: problems.map((i) => `${i.path}: ${i.message}`).join('; '), issues: problems };
  }
  const issues = parsed.error.issues.map((issue) => {
    // discriminatedUnion reports an unknown action at the object; name the field instead.
    const p = issue.code === 'invalid_union' && issue.path.length === 0 ? ['action'] : issue.path;
    let message = issue.message.replace(/^action /, '');
    if (issue.code === 'unrecognized_keys') message = `${issue.keys.map((k) => `"${k}"`).join(', ')} ${issue.keys.length === 1 ? 'is' : 'are'} not a setting of ${(raw as { action?: unknown }).action as string}`;
    return { path: [where, ...p.map(String)].join('.'), message };
  });
  return { ok: false, message: issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues };
}
