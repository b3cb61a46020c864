import { z } from 'zod';
import { ALL_REPORT_FORMATS, ALL_REPORT_GROUPINGS, parseStatusList, type ReportFormat, type ReportGrouping } from '../domain/patch-overview';
import { ALL_PATCH_STATUSES } from '../domain/patch-status';

const oneOf = <T extends string>(values: readonly T[], what: string) =>
  z.string().refine((v): v is T => (values as readonly string[]).includes(v), {
    error: (issue) => `unknown ${what} ${JSON.stringify(issue.input)} (one of ${values.join(', ')})`,
  }).transform((v) => v as T);

/**
 * GET /reports/patch-overview: clientId (absent: all clients), format (default csv), groupBy
 * (default patch), status (comma-separated or repeated; absent: every status). Every wrong value is
 * a 400 that names it; a clientId that is no client is checked by the handler (also a 400).
 */
export const patchOverviewQuery = z.object({
  clientId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a client id (a UUID)').transform((v) => v.toLowerCase()).optional(),
  format: oneOf<ReportFormat>(ALL_REPORT_FORMATS, 'format').default('csv'),
  groupBy: oneOf<ReportGrouping>(ALL_REPORT_GROUPINGS, 'grouping').default('patch'),
  status: z.union([z.string(), z.array(z.string())]).optional().transform((v, ctx) => {
    const parsed = parseStatusList(v === undefined ? [] : Array.isArray(v) ? v : [v]);
    if ('unknown' in parsed) {
      ctx.addIssue({ code: 'custom', message: `unknown status ${parsed.unknown.map((u) => JSON.stringify(u)).join(', ')} (any of ${ALL_PATCH_STATUSES.join(', ')})` });
      return z.NEVER;
    }
    return parsed.statuses;
  }),
}).strict();

export const reportIdParam = z.object({ reportId: z.string().uuid('must be a report id (a UUID)') });
export const listReportsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).optional() }).strict();
