import { z } from 'zod';
import { ALL_PATCH_STATUSES, type PatchStatus } from '../domain/patch-status';
import { installFolderProblem, workingFolderProblem } from '../domain/folders';

const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const uuid = z.string().uuid('must be a UUID');

export const createClientSchema = z.object({ name }).strict();
export const createSiteSchema = z.object({ name }).strict();
export const clientIdParam = z.object({ clientId: uuid });
export const deviceIdParam = z.object({ deviceId: uuid });
export const installParams = z.object({ deviceId: uuid, key: z.string().regex(/^[a-z0-9-]{1,64}$/, 'is not an install key') });

export const createDeviceSchema = z.object({
  siteId: uuid,
  name: z.string().trim().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a host name such as SRV-01'),
  deviceType: z.enum(['server', 'workstation']),
  os: z.string().trim().min(1).max(200).optional(),
  workingFolder: z.string().optional().superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : workingFolderProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  installFolder: z.string().optional().superRefine((v, ctx) => {
    const problem = v === undefined ? undefined : installFolderProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
}).strict();

export const listDevicesQuery = z.object({ clientId: uuid.optional(), siteId: uuid.optional() });
export const listSitesQuery = z.object({ clientId: uuid.optional() });
export const devicePatchesQuery = z.object({
  // "unverified": updates the device reports that the catalog does not confirm
  status: z.enum(['unverified', ...ALL_PATCH_STATUSES] as [PatchStatus | 'unverified', ...(PatchStatus | 'unverified')[]]).optional(),
});

export const startInstallSchema = z.object({
  kbs: z.array(z.string().trim().regex(/^KB\d{6,8}$/i, 'must look like KB5034441')).min(1).max(500).optional(),
  rebootAllowed: z.boolean().optional(),
}).strict();

export const cancelInstallSchema = z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict();

export const auditQuery = z.object({ deviceId: uuid.optional(), limit: z.coerce.number().int().min(1).max(1000).optional() });

export const scopeScanSchema = z.object({
  scopeType: z.enum(['all', 'client', 'site', 'device_type']),
  scopeId: z.string().optional(),
}).strict().superRefine((v, ctx) => {
  if (v.scopeType === 'all') return;
  if (!v.scopeId) ctx.addIssue({ code: 'custom', path: ['scopeId'], message: `is required for scopeType ${v.scopeType}` });
  else if (v.scopeType === 'device_type' && !['server', 'workstation'].includes(v.scopeId)) {
    ctx.addIssue({ code: 'custom', path: ['scopeId'], message: 'must be server or workstation for scopeType device_type' });
  } else if (v.scopeType !== 'device_type' && !/^[0-9a-f-]{36}$/i.test(v.scopeId)) {
    ctx.addIssue({ code: 'custom', path: ['scopeId'], message: 'must be a UUID' });
  }
});

/** No options yet: the Initial Update installs every approved missing patch. */
export const startInitialUpdateSchema = z.object({}).strict();
