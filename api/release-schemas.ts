import { z } from 'zod';

const uuid = z.string().uuid('must be a UUID');

/** A ring's devices, inside the plan's client (a device belongs to the first ring whose scope matches it). */
export const ringScopeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('client') }).strict(),
  z.object({ type: z.literal('site'), siteId: uuid }).strict(),
  z.object({ type: z.literal('device_type'), deviceType: z.enum(['server', 'workstation']) }).strict(),
  /** a deterministic sample: a stable hash of device id + plan id, so the same devices every cycle */
  z.object({ type: z.literal('sample'), percent: z.number().gt(0).max(100) }).strict(),
  /** the plan's scope minus the earlier rings */
  z.object({ type: z.literal('rest') }).strict(),
]);

export const ringSchema = z.object({
  name: z.string().trim().min(1).max(100),
  scope: ringScopeSchema,
  deferral: z.object({ days: z.number().int().min(0).max(90), from: z.enum(['release', 'previous']).default('release') }).strict(),
  gate: z.object({
    minSuccessRate: z.number().min(0).max(100),
    minSuccessCount: z.number().int().min(0).max(1_000_000).default(0),
    soakHours: z.number().min(0).max(24 * 30),
  }).strict(),
  haltThreshold: z.object({ failureRate: z.number().gt(0).max(100), minFinished: z.number().int().min(1).max(1_000_000).default(5) }).strict(),
}).strict();

export const createReleasePlanSchema = z.object({
  clientId: uuid,
  name: z.string().trim().min(1).max(200),
  rings: z.array(ringSchema).min(1).max(10),
}).strict().superRefine((p, ctx) => {
  p.rings.forEach((r, i) => {
    if (r.scope.type === 'rest' && i !== p.rings.length - 1) {
      ctx.addIssue({ code: 'custom', path: ['rings', i, 'scope'], message: 'a "rest" ring takes every device left: only the last ring may be one' });
    }
  });
});

export const releasePlanIdParam = z.object({ planId: uuid }).strict();
export const releaseIdParam = z.object({ planId: uuid, releaseId: z.string().regex(/^[A-Za-z0-9._-]{1,60}$/, 'must be a cycle (2026-12 or oob-KB5034441)') }).strict();

export const startReleaseSchema = z.object({
  /** the Patch Tuesday month (2026-12) or an out-of-band name (oob-KB5034441) */
  cycle: z.string().regex(/^(\d{4}-(0[1-9]|1[0-2])|oob-[A-Za-z0-9-]{1,40})$/, 'must be YYYY-MM or oob-<name>'),
  kbs: z.array(z.string().regex(/^KB\d{6,8}$/i, 'must be a KB number (KB5034441)').transform((k) => k.toUpperCase())).min(1).max(50),
  /** deferrals "after release" count from here (default: now) */
  releasedAt: z.string().datetime({ offset: true }).optional(),
  timezone: z.string().min(1).max(64).default('UTC'),
  distributionWindowMinutes: z.number().int().min(0).max(1440).default(60),
  maxConcurrentDevices: z.number().int().min(1).max(2000).default(50),
}).strict();

export const releaseActionSchema = z.object({ reason: z.string().trim().max(500).optional() }).strict();

export const releasePlanResponse = z.looseObject({ id: z.string(), clientId: z.string(), name: z.string(), rings: z.array(z.unknown()) });
export const releasePlanListResponse = z.object({ plans: z.array(releasePlanResponse) });
export const releaseResponse = z.looseObject({ releaseId: z.string(), workflowId: z.string(), planId: z.string() });

export type CreateReleasePlan = z.infer<typeof createReleasePlanSchema>;

export type CreateReleasePlanInput = z.infer<typeof createReleasePlanSchema>;
export type StartReleaseInput = z.infer<typeof startReleaseSchema>;
