import { z } from 'zod';
import { actionScopeType, approvalStatus, approveAfterDays, kb, patchAction } from './policy-schemas';

const uuid = z.string().uuid('must be a UUID');
const updateId = z.string().trim().min(1).max(200);
const patchNames = {
  updateIds: z.array(updateId).min(1).max(5000).optional(),
  kbs: z.array(kb).min(1).max(5000).optional(),
};
const needsPatches = (v: { updateIds?: string[]; kbs?: string[] }) => v.updateIds !== undefined || v.kbs !== undefined;
const needsPatchesIssue = { message: 'name the patches with updateIds or kbs', path: ['updateIds'] };

const scheduleScope = z.discriminatedUnion('scopeType', [
  z.object({ scopeType: z.literal('all'), scopeId: z.literal('').optional().transform(() => '') }).strict(),
  z.object({ scopeType: z.enum(['policy', 'client', 'site']), scopeId: uuid }).strict(),
  z.object({ scopeType: z.literal('device_type'), scopeId: z.enum(['server', 'workstation']) }).strict(),
]);

/** POST /api/v1/what-if: a proposed change, as the routes that would make it take it. */
export const whatIfSchema = z.object({
  /** the schedule to answer for; default every Automatic Update schedule */
  scheduleId: uuid.optional(),
  /** PUT /policies/:id/approvals, or "all" for approval by patch (PUT /patches/approval) */
  approvals: z.array(z.object({ policyId: z.union([uuid, z.literal('all')]), ...patchNames, status: approvalStatus, approveAfterDays: approveAfterDays.optional() })
    .strict().refine(needsPatches, needsPatchesIssue)).max(100).default([]),
  /** PUT /kb-overrides/:kb with a status; null: DELETE it */
  kbOverrides: z.array(z.object({ kb, status: approvalStatus.nullable() }).strict()).max(500).default([]),
  /** PUT /patch-actions */
  patchActions: z.array(z.object({ scopeType: actionScopeType, scopeId: z.string().trim().toLowerCase().min(1).max(100), ...patchNames, action: patchAction })
    .strict().refine(needsPatches, needsPatchesIssue)).max(100).default([]),
  /** a schedule's proposed scope (PATCH /schedules/:id {scope}) */
  scheduleScopes: z.array(z.object({ scheduleId: uuid, scope: scheduleScope }).strict()).max(50).default([]),
  /** list every device's predicted installs, not only the devices whose answer changes (default true) */
  includePredictions: z.boolean().default(true),
}).strict();

export type WhatIfRequest = z.infer<typeof whatIfSchema>;
