import { z } from 'zod';
import { maintenanceWindowSchema } from '../domain/maintenance-window-schema';
import { rebootActionConfigSchema } from '../domain/reboot-action-schema';
import { DEFAULT_REBOOT_ACTION } from '../domain/reboot-actions';
import { HEALTH_CHECK_NAME, healthCheckProblem, MAX_HEALTH_CHECK_NAMES, MAX_SETTLE_SECONDS } from '../domain/health-check';
import { LOCAL_TIME_PATTERN, WEEKDAYS } from '../domain/local-time';
import { parseScheduleTiming, PATCH_TUESDAY_OFFSET_MAX, PATCH_TUESDAY_OFFSET_MIN } from '../domain/schedule-spec';
import { kb } from './policy-schemas';

const localTime = z.string().regex(LOCAL_TIME_PATTERN).meta({ description: 'HH:MM, 24-hour, local to timezone' });
const timezone = z.string().min(1).meta({ description: 'an IANA time zone, spelled as IANA spells it', examples: ['UTC', 'Europe/London'] });
/**
 * The timing's shape, for the contract only (api/openapi.ts): `parseScheduleTiming` stays the rule,
 * with its messages, and also knows which time zones exist.
 */
const timingShape = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('daily'), time: localTime, timezone }).strict(),
  z.object({ kind: z.literal('weekly'), days: z.array(z.enum(WEEKDAYS)).min(1), time: localTime, timezone }).strict(),
  z.object({ kind: z.literal('monthly_patch_tuesday'), offsetDays: z.number().int().min(PATCH_TUESDAY_OFFSET_MIN).max(PATCH_TUESDAY_OFFSET_MAX), time: localTime, timezone }).strict(),
  z.object({ kind: z.literal('monthly_day'), day: z.number().int().min(1).max(31), time: localTime, timezone }).strict(),
]);

const { $schema: _dialect, ...timingDoc } = z.toJSONSchema(timingShape, { io: 'input' });

/** A schedule's timing, checked by the domain parser so API and spec builder agree on every rule. */
const timing = z.unknown().meta({ override: timingDoc as Record<string, unknown> }).transform((raw, ctx) => {
  try {
    return parseScheduleTiming(raw);
  } catch (err) {
    const field = (err as { field?: string }).field;
    ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^invalid schedule: /, ''), path: field ? [field] : [] });
    return z.NEVER;
  }
});

const scope = z.discriminatedUnion('scopeType', [
  z.object({ scopeType: z.literal('all'), scopeId: z.literal('').optional().transform(() => '') }).strict(),
  z.object({ scopeType: z.enum(['policy', 'client', 'site']), scopeId: z.string().uuid('must be a UUID') }).strict(),
  z.object({ scopeType: z.literal('device_type'), scopeId: z.enum(['server', 'workstation']) }).strict(),
]);

/** A per-patch schedule's KBs ("kb890830" and "890830" are KB890830). */
const kbs = z.array(kb)
  .min(1, 'name at least one KB').max(100).transform((list) => [...new Set(list)]);

const checkName = z.string().regex(HEALTH_CHECK_NAME, 'must be a name of letters, digits and _ . @ - (at most 80), starting with a letter or digit');
const checkNames = z.array(checkName).min(1).max(MAX_HEALTH_CHECK_NAMES)
  .refine((names) => new Set(names.map((n) => n.toLowerCase())).size === names.length, 'must not repeat a name');
/**
 * The health check each install of the schedule runs after its post-scan: one of the named checks the
 * agents know (never a script). A failure rolls back what the install installed.
 */
export const healthCheckSettingsSchema = z.object({
  check: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('services_running'), services: checkNames }).strict(),
    z.object({ kind: z.literal('processes_running'), processes: checkNames }).strict(),
  ]),
  settleSeconds: z.number().int().min(0).max(MAX_SETTLE_SECONDS).optional()
    .meta({ description: 'seconds the services get to start after the install (and after a rollback) before the check' }),
}).strict().refine((v) => healthCheckProblem(v.check) === undefined, { message: 'not a check the agents run', path: ['check'] })
  .meta({ id: 'HealthCheckSettings', examples: [{ check: { kind: 'services_running', services: ['Spooler', 'W32Time'] }, settleSeconds: 120 }] });

const fields = {
  name: z.string().trim().min(1).max(200),
  kind: z.enum(['scan', 'automatic_update']),
  scope,
  timing,
  distributionWindowMinutes: z.number().int().min(0).max(1440),
  maintenanceWindow: maintenanceWindowSchema.nullable(),
  rebootAction: rebootActionConfigSchema,
  missedRun: z.enum(['skip', 'run_on_check_in', 'run_asap']),
  missedRunReboot: z.boolean(),
  maxConcurrentDevices: z.number().int().min(1).max(2000),
};

export const createScheduleSchema = z.object({
  ...fields,
  distributionWindowMinutes: fields.distributionWindowMinutes.default(0),
  maintenanceWindow: fields.maintenanceWindow.default(null),
  rebootAction: fields.rebootAction.default(DEFAULT_REBOOT_ACTION),
  missedRun: fields.missedRun.default('skip'),
  missedRunReboot: fields.missedRunReboot.default(true),
  maxConcurrentDevices: fields.maxConcurrentDevices.default(200),
  /** a per-patch schedule: install only these KBs at each run (automatic_update only); absent: what policy approves */
  kbs: kbs.optional(),
  /** a health check after each install (automatic_update only); absent: none */
  healthCheck: healthCheckSettingsSchema.nullable().optional(),
}).strict().superRefine((v, ctx) => {
  if (v.kbs && v.kind !== 'automatic_update') ctx.addIssue({ code: 'custom', path: ['kbs'], message: 'only an automatic_update schedule installs patches' });
  if (v.healthCheck && v.kind !== 'automatic_update') ctx.addIssue({ code: 'custom', path: ['healthCheck'], message: 'only an automatic_update schedule installs patches: a scan schedule takes no health check' });
}).transform(({ kbs: list, healthCheck, ...rest }) => ({ ...rest, kbs: list ?? null, healthCheck: healthCheck ?? null }));

export const updateScheduleSchema = z.object({
  name: fields.name.optional(),
  scope: fields.scope.optional(),
  timing: fields.timing.optional(),
  distributionWindowMinutes: fields.distributionWindowMinutes.optional(),
  maintenanceWindow: fields.maintenanceWindow.optional(),
  rebootAction: fields.rebootAction.optional(),
  missedRun: fields.missedRun.optional(),
  missedRunReboot: fields.missedRunReboot.optional(),
  maxConcurrentDevices: fields.maxConcurrentDevices.optional(),
  /** null: back to every patch the policy approves */
  kbs: kbs.nullable().optional(),
  /** null: no health check */
  healthCheck: healthCheckSettingsSchema.nullable().optional(),
}).strict();

export const scheduleIdParam = z.object({ scheduleId: z.string().uuid('must be a UUID') });

export const backfillSchema = z.object({
  start: z.string().datetime({ offset: true }),
  end: z.string().datetime({ offset: true }),
}).strict().refine((v) => new Date(v.start) < new Date(v.end), { message: 'start must be before end', path: ['end'] });
