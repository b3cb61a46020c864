import { z } from 'zod';
import { kb } from './policy-schemas';

/** Exactly one of `all: true` or `kb`. */
const scope = { all: z.literal(true, 'must be true (or name a kb instead)').optional(), kb: kb.optional() };
const oneScope = (v: { all?: true; kb?: string }) => (v.all === true) !== (v.kb !== undefined);
const oneScopeIssue = { message: 'give exactly one of all: true or kb', path: ['all'] };

/** POST /api/v1/halt: the kill switch, for every patch or one KB. */
export const haltSchema = z.object({
  ...scope,
  reason: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters').optional(),
}).strict().refine(oneScope, oneScopeIssue);

/** A rollout's workflow id, as GET /api/v1/halt lists it under `automatic` (automatic-update/<schedule>-<time>, or a release's ring). */
const rolloutId = z.string().trim().min(1, 'must not be empty').max(300, 'must be at most 300 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/+-]*$/, 'must be a rollout workflow id (see GET /api/v1/halt, automatic.active[].workflowId)');

/**
 * POST /api/v1/halt/resume: exactly one of `all: true`, `kb` (an operator's fleet halt) or `rollout`
 * (one rollout's automatic halt, which a fleet resume never lifts).
 */
export const resumeSchema = z.object({ ...scope, rollout: rolloutId.optional() }).strict()
  .refine((v) => [v.all === true, v.kb !== undefined, v.rollout !== undefined].filter(Boolean).length === 1,
    { message: 'give exactly one of all: true, kb or rollout', path: ['all'] });

const haltRow = z.object({
  source: z.literal('operator').describe('a fleet halt is always an operator\'s (the kill switch)'),
  id: z.string(), kb: z.string().nullable(), reason: z.string(), haltedBy: z.string(), haltedAt: z.string(),
  resumedBy: z.string().nullable(), resumedAt: z.string().nullable(),
});
const autoHaltRow = z.object({
  source: z.literal('automatic').describe('a rollout halted itself at its failure threshold'),
  workflowId: z.string(), scheduleId: z.string(), scheduleName: z.string(), reason: z.string(),
  haltedBy: z.string().describe('"system: rollout <workflow id> auto-halt"'), haltedAt: z.string(),
  resumedBy: z.string().nullable(), resumedAt: z.string().nullable(),
  endedAt: z.string().nullable().describe('the rollout closed while halted'),
});
const signalled = z.object({ rollouts: z.number().int(), releases: z.number().int(), installs: z.number().int(), failed: z.number().int() });
export const haltStateResponse = z.object({
  active: z.array(haltRow).describe('operators\' fleet halts in force (all patches first, then KBs)'),
  recent: z.array(haltRow).describe('the last 20 resumed fleet halts'),
  automatic: z.object({
    active: z.array(autoHaltRow).describe('rollouts halted by their own failure threshold, waiting for an operator'),
    recent: z.array(autoHaltRow).describe('the last 20 resumed or ended automatic halts'),
  }),
});
export const haltSetResponse = z.object({ halt: haltRow, created: z.boolean(), signalled });
export const haltResumedResponse = z.object({ halt: z.union([haltRow, autoHaltRow]), signalled });
