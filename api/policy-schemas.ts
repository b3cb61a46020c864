import { z } from 'zod';
import { isKaseyaClassification, KASEYA_CLASSIFICATIONS } from '../domain/kaseya-classification';
import { normaliseKb } from '../domain/patch-id';

const uuid = z.string().uuid('must be a UUID');
const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const key = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

export const approvalStatus = z.enum(['approved', 'pending_approval', 'denied'], 'must be approved, pending_approval or denied');
/** "kb890830" and "890830" are KB890830 (as the resolver normalises them). */
export const kb = z.string().trim().regex(/^(KB)?\d{4,8}$/i, 'must look like KB5034441').transform(normaliseKb);
const updateId = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');

/** Patches named by update id and/or KB: at least one of the two. */
const patchNames = {
  updateIds: z.array(updateId).min(1).max(5000).optional(),
  kbs: z.array(kb).min(1).max(5000).optional(),
};
const needsPatches = (v: { updateIds?: string[]; kbs?: string[] }) => v.updateIds !== undefined || v.kbs !== undefined;
const needsPatchesIssue = { message: 'name the patches with updateIds or kbs', path: ['updateIds'] };
/** The same rule for the contract (api/openapi.ts): refinements do not reach JSON Schema by themselves. */
const needsPatchesDoc = { anyOf: [{ required: ['updateIds'] }, { required: ['kbs'] }] };

/**
 * "Approve N days after release": checked for type here (400) and for its range and status in the
 * handler (422 naming the field, domain/approval-deferral.ts), so that the contract documents it as a
 * number and the answer names what is wrong with it.
 */
export const approveAfterDays = z.number('must be a number of days').meta({
  description: 'approve this many days after the patch\'s release (1–360; 15 or fewer is suggested); only with status approved',
});

export const policyIdParam = z.object({ id: uuid });
export const deviceIdParam = z.object({ deviceId: uuid });
export const kbParam = z.object({ kb });

const switches = {
  denyManualInstallOnly: z.boolean().optional(),
  denyWindowsUpdateWebSite: z.boolean().optional(),
  denySuperseded: z.boolean().optional(),
  fallbackDefault: approvalStatus.optional(),
};

export const createPolicySchema = z.object({ name, ...switches }).strict();
export const updatePolicySchema = z.object({ name: name.optional(), ...switches }).strict()
  .refine((v) => Object.keys(v).length > 0, { message: 'change at least one field' }).meta({ minProperties: 1 });

export const memberSchema = z.discriminatedUnion('scopeType', [
  z.object({ scopeType: z.literal('device'), scopeId: uuid }).strict(),
  z.object({ scopeType: z.literal('site'), scopeId: uuid }).strict(),
  z.object({ scopeType: z.literal('client'), scopeId: uuid }).strict(),
  z.object({ scopeType: z.literal('device_type'), scopeId: z.enum(['server', 'workstation'], 'must be server or workstation') }).strict(),
  z.object({ scopeType: z.literal('all'), scopeId: z.literal('').optional() }).strict(),
], 'must be device, site, client, device_type or all');

const defaultKind = z.enum(['classification', 'product', 'kaseya_classification'], 'must be classification, product or kaseya_classification');
const KASEYA_KEY_ISSUE = `must be one of Kaseya's classifications: ${KASEYA_CLASSIFICATIONS.map((n) => `"${n}"`).join(', ')}`;
/** A Kaseya classification default is keyed by one of the 11 names exactly; any other key would never apply. */
const kaseyaKey = (v: { kind: string; key: string }, ctx: z.RefinementCtx) => {
  if (v.kind === 'kaseya_classification' && !isKaseyaClassification(v.key)) ctx.addIssue({ code: 'custom', path: ['key'], message: KASEYA_KEY_ISSUE });
};
export const defaultSchema = z.object({ kind: defaultKind, key, status: approvalStatus, approveAfterDays: approveAfterDays.optional() }).strict().superRefine(kaseyaKey);
export const deleteDefaultSchema = z.object({ kind: defaultKind, key }).strict().superRefine(kaseyaKey);

export const policyApprovalsSchema = z.object({
  ...patchNames, status: approvalStatus, note: z.string().trim().min(1).max(500).optional(), approveAfterDays: approveAfterDays.optional(),
})
  .strict().refine(needsPatches, needsPatchesIssue).meta(needsPatchesDoc);

export const copyApprovalsSchema = z.object({ toPolicyId: uuid }).strict();

export const kbOverrideSchema = z.object({ status: approvalStatus }).strict();

export const actionScopeType = z.enum(['device', 'site', 'client', 'device_type'], 'must be device, site, client or device_type');
export const patchAction = z.enum(['inherit', 'approve', 'ignore', 'do_nothing', 'reprocess_failed', 'uninstall'],
  'must be inherit, approve, ignore, do_nothing, reprocess_failed or uninstall');

/** A scope id: a device/site/client UUID, or server/workstation for the device type. */
const scoped = <T extends { scopeType?: string; scopeId?: string }>(v: T, ctx: z.RefinementCtx) => {
  if (v.scopeType === undefined || v.scopeId === undefined) return;
  const ok = v.scopeType === 'device_type' ? ['server', 'workstation'].includes(v.scopeId) : uuid.safeParse(v.scopeId).success;
  if (!ok) {
    ctx.addIssue({ code: 'custom', path: ['scopeId'], message: v.scopeType === 'device_type' ? 'must be server or workstation' : 'must be a UUID' });
  }
};

export const patchActionsSchema = z.object({ scopeType: actionScopeType, scopeId: z.string().trim().toLowerCase(), ...patchNames, action: patchAction })
  .strict().refine(needsPatches, needsPatchesIssue).superRefine(scoped).meta(needsPatchesDoc);

export const patchActionsQuery = z.object({ scopeType: actionScopeType.optional(), scopeId: z.string().trim().toLowerCase().optional() })
  .superRefine(scoped);

export const approvalByPatchSchema = z.object({
  ...patchNames, status: approvalStatus, note: z.string().trim().min(1).max(500).optional(), approveAfterDays: approveAfterDays.optional(),
})
  .strict().refine(needsPatches, needsPatchesIssue).meta(needsPatchesDoc);

export const summaryQuery = z.object({
  groupBy: z.enum(['classification', 'product', 'kaseya_classification'], 'must be classification, product or kaseya_classification').default('classification'),
});

export const patchListQuery = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  kb: z.string().trim().min(1).max(20).optional(),
  classification: key.optional(),
  kaseyaClassification: key.refine(isKaseyaClassification, KASEYA_KEY_ISSUE).optional(),
  product: key.optional(),
  status: z.enum(['approved', 'pending_approval', 'denied', 'mixed'], 'must be approved, pending_approval, denied or mixed').optional(),
});

export type CreatePolicyInput = z.infer<typeof createPolicySchema>;
export type UpdatePolicyInput = z.infer<typeof updatePolicySchema>;
export type MemberInput = z.infer<typeof memberSchema>;
export type DefaultInput = z.infer<typeof defaultSchema>;
export type DeleteDefaultInput = z.infer<typeof deleteDefaultSchema>;
export type PolicyApprovalsInput = z.infer<typeof policyApprovalsSchema>;
export type PatchListQuery = z.infer<typeof patchListQuery>;
