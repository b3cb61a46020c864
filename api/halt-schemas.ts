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

/** POST /api/v1/halt/resume */
export const resumeSchema = z.object(scope).strict().refine(oneScope, oneScopeIssue);

const haltRow = z.object({
  id: z.string(), kb: z.string().nullable(), reason: z.string(), haltedBy: z.string(), haltedAt: z.string(),
  resumedBy: z.string().nullable(), resumedAt: z.string().nullable(),
});
const signalled = z.object({ rollouts: z.number().int(), releases: z.number().int(), installs: z.number().int(), failed: z.number().int() });
export const haltStateResponse = z.object({ active: z.array(haltRow), recent: z.array(haltRow) });
export const haltSetResponse = z.object({ halt: haltRow, created: z.boolean(), signalled });
export const haltResumedResponse = z.object({ halt: haltRow, signalled });
