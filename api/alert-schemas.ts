import { z } from 'zod';
import { ALERT_CONDITIONS, THRESHOLD_UNIT, type AlertCondition } from '../domain/alert-rules';

/** A webhook receiver: http(s) only, no credentials in the URL (they would show in every rule listing). */
// zod runs the refinement even when .url() has refused the string: `new URL` would throw (a 500), so
// a string that is no URL at all passes here and is refused by .url() alone, with one message.
const webhookUrl = z.string().trim().max(2000).url('must be an http:// or https:// URL').refine((u) => {
  if (!URL.canParse(u)) return true;
  const url = new URL(u);
  return (url.protocol === 'https:' || url.protocol === 'http:') && !url.username && !url.password;
}, 'must be an http:// or https:// URL without a user or password in it');

export const createAlertRuleSchema = z.object({
  name: z.string().trim().min(1).max(200),
  /** omit (or null) for every client */
  clientId: z.string().uuid('must be a UUID').nullable().default(null),
  condition: z.enum(ALERT_CONDITIONS as [AlertCondition, ...AlertCondition[]]),
  /** hours for reboot_required, days for noncompliant and no_scan; none for patch_failed */
  threshold: z.number().int().min(1).max(3650).nullable().optional(),
  webhookUrl,
  /** the HMAC key for the signature header; omit to have one generated (it is shown once) */
  webhookSecret: z.string().min(16, 'must be at least 16 characters').max(200).optional(),
}).strict().transform((v, ctx) => {
  const unit = THRESHOLD_UNIT[v.condition];
  if (!unit && v.threshold != null) {
    ctx.addIssue({ code: 'custom', path: ['threshold'], message: `${v.condition} takes no threshold` });
    return z.NEVER;
  }
  return { ...v, threshold: unit ? (v.threshold ?? unit.default) : null };
});

export const alertRuleIdParam = z.object({ ruleId: z.string().uuid('must be a UUID') });
export const deliveryIdParam = z.object({ deliveryId: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER) });
export const updateAlertRuleSchema = z.object({ enabled: z.boolean() }).strict();

export const listAlertsQuery = z.object({
  state: z.enum(['open', 'closed', 'all']).default('open'),
  clientId: z.string().uuid('must be a UUID').optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
}).strict();
