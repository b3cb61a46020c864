/**
 * The zod schema of a MaintenanceWindow, for the API. Kept out of maintenance-window.ts, which
 * workflows import, so the workflow bundle carries no zod (reboot-action-schema.ts says why). Never
 * import this module from workflow code.
 */
import { z } from 'zod';
import { LOCAL_TIME_PATTERN, WEEKDAYS } from './local-time';

const DURATION_MESSAGE = 'must be a whole number of minutes from 1 to 1440';

/** The zod schema of a MaintenanceWindow (strict; days de-duplicated, Monday first). Reusable by the API. */
export const maintenanceWindowSchema = z.strictObject({
  days: z
    .array(z.enum(WEEKDAYS, { error: `must be one of ${WEEKDAYS.join(', ')}` }), {
      error: `must be a list of days (${WEEKDAYS.join(', ')}); leave it out for every day`,
    })
    .min(1, { error: 'must list at least one day; leave it out for every day' })
    .transform((days) => WEEKDAYS.filter((d) => days.includes(d)))
    .optional(),
  start: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required: a 24-hour "HH:MM", e.g. "22:00"' : 'must be a 24-hour "HH:MM", e.g. "22:00"') })
    .regex(LOCAL_TIME_PATTERN, { error: 'must be a 24-hour "HH:MM" from 00:00 to 23:59, e.g. "22:00"' }),
  durationMinutes: z
    .number({ error: (issue) => (issue.input === undefined ? `is required: a whole number of minutes from 1 to 1440` : DURATION_MESSAGE) })
    .int({ error: DURATION_MESSAGE })
    .min(1, { error: DURATION_MESSAGE })
    .max(1440, { error: DURATION_MESSAGE }),
});
