import { z } from 'zod';
import { healthCheckSettingsSchema } from './schedule-schemas';
import { ALL_PATCH_STATUSES, type PatchStatus } from '../domain/patch-status';
import { isPatchId, normalisePatchId, PATCH_ID_HINT } from '../domain/patch-id';
import { checkFolder, defaultFolders, folderPlatformOf, FolderRole, type FolderPlatform } from '../domain/folders';
import { FileSource, type FileSourcePolicy } from '../domain/file-source';
import { HttpError } from './errors';

const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const uuid = z.string().uuid('must be a UUID');

export const createClientSchema = z.object({ name }).strict();
export const FILE_SOURCES = Object.values(FileSource) as [FileSource, ...FileSource[]];
/**
 * A site's file source as documented (the enum). Handlers read the shape with `fileSourceShape` (400 for a
 * wrong type) and the value with `fileSourceOf` (422 naming body.fileSource.source for an unknown source).
 */
export const fileSourceSchema = z.object({
  source: z.enum(FILE_SOURCES).meta({ description: 'internet (default: the catalog URL), cache (the Patchflow cache over the gateway), lan-share (one device per site fills a share), temp-most-free-drive' }),
  fallback: z.boolean().optional().meta({ description: 'on failure try the next source: lan-share → cache → internet (default true)' }),
}).strict().meta({ id: 'FileSourceSetting' });
const fileSourceShape = z.object({ source: z.string({ error: 'must be a string' }), fallback: z.boolean({ error: 'must be true or false' }).optional() }).strict();
export const createSiteSchema = z.object({ name, fileSource: fileSourceShape.optional() }).strict();
export const createSiteDocSchema = z.object({ name, fileSource: fileSourceSchema.optional() }).strict();
export const updateSiteSchema = z.object({ fileSource: fileSourceShape }).strict();
export const updateSiteDocSchema = z.object({ fileSource: fileSourceSchema }).strict();
export const siteIdParam = z.object({ siteId: uuid });

/** The setting as stored; an unknown source is a 422 naming the field (the shape was checked already). */
export function fileSourceOf(input: z.infer<typeof fileSourceShape>, where = 'body.fileSource'): FileSourcePolicy {
  if (!(FILE_SOURCES as string[]).includes(input.source)) {
    throw new HttpError(422, `${where}.source: "${input.source}" is not a file source; one of ${FILE_SOURCES.join(', ')}`);
  }
  return { source: input.source as FileSource, fallback: input.fallback ?? true };
}
export const clientIdParam = z.object({ clientId: uuid });
export const deviceIdParam = z.object({ deviceId: uuid });
export const installParams = z.object({ deviceId: uuid, key: z.string().regex(/^[a-z0-9-]{1,64}$/, 'is not an install key') });

/** A folder as sent: any string; the folder rules (domain/folders.ts) judge it with the device's OS. */
const folderInput = z.string({ error: 'must be a string' });

type DeviceFolders = { workingFolder?: string; installFolder?: string };

/**
 * The canonical spellings of the folders given (what gets stored), and an issue naming the field for
 * each folder that breaks a rule.
 */
export function canonicalFolders(folders: DeviceFolders, platform: FolderPlatform): { folders: DeviceFolders; issues: { field: keyof DeviceFolders; message: string }[] } {
  const out: DeviceFolders = {};
  const issues: { field: keyof DeviceFolders; message: string }[] = [];
  for (const [field, role] of [['workingFolder', FolderRole.Working], ['installFolder', FolderRole.Install]] as const) {
    const value = folders[field];
    if (value === undefined) continue;
    const r = checkFolder(value, { role, platform });
    if (r.ok) out[field] = r.canonical;
    else issues.push({ field, message: r.problem.message });
  }
  return { folders: out, issues };
}

export const createDeviceSchema = z.object({
  siteId: uuid,
  name: z.string().trim().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a host name such as SRV-01'),
  deviceType: z.enum(['server', 'workstation']),
  os: z.string().trim().min(1).max(200).optional(),
  workingFolder: folderInput.optional(),
  installFolder: folderInput.optional(),
}).strict().transform((v, ctx) => {
  // The OS decides the rule set (Windows or POSIX) and the defaults.
  const platform = folderPlatformOf(v.os);
  const defaults = defaultFolders(platform);
  const { folders, issues } = canonicalFolders({
    workingFolder: v.workingFolder ?? defaults.workingFolder, installFolder: v.installFolder ?? defaults.installFolder,
  }, platform);
  for (const i of issues) ctx.addIssue({ code: 'custom', path: [i.field], message: i.message });
  if (!folders.workingFolder || !folders.installFolder) return z.NEVER;
  return { ...v, workingFolder: folders.workingFolder, installFolder: folders.installFolder };
});

/** PATCH /devices/:id: the folders only; checked with `canonicalFolders` against the stored device's OS. */
export const updateDeviceSchema = z.object({
  workingFolder: folderInput.optional(),
  installFolder: folderInput.optional(),
}).strict().refine((v) => v.workingFolder !== undefined || v.installFolder !== undefined, { message: 'give workingFolder, installFolder or both' }).meta({ minProperties: 1 });

/** DELETE /devices/:id?force=true: retire even while an install or Initial Update runs (it is cancelled). */
export const retireDeviceQuery = z.object({ force: z.enum(['true', 'false']).optional() }).strict();

export const listDevicesQuery = z.object({
  clientId: uuid.optional(), siteId: uuid.optional(),
  needsAttention: z.enum(['true', 'false'], 'must be true or false').optional()
    .describe('true: only devices an automatic rollback left needing attention; false: only the others'),
});
/** POST /devices/:deviceId/needs-attention/clear: what the operator fixed (kept in the audit log). */
export const clearNeedsAttentionSchema = z.object({
  note: z.string().trim().min(1, 'must say what was fixed').max(1000, 'must be at most 1000 characters'),
}).strict();
export const listSitesQuery = z.object({ clientId: uuid.optional() });
export const devicePatchesQuery = z.object({
  // "unverified": updates the device reports that the catalog does not confirm
  status: z.enum(['unverified', ...ALL_PATCH_STATUSES] as [PatchStatus | 'unverified', ...(PatchStatus | 'unverified')[]]).optional(),
});

export const startInstallSchema = z.object({
  kbs: z.array(z.string().trim().transform(normalisePatchId).refine(isPatchId, PATCH_ID_HINT)).min(1).max(500).optional(),
  rebootAllowed: z.boolean().optional(),
  /** a health check after the post-scan; a failure rolls back what the install installed */
  healthCheck: healthCheckSettingsSchema.optional(),
}).strict();

export const cancelInstallSchema = z.object({ reason: z.string().trim().min(1).max(500).optional() }).strict();

const cursor = z.string().regex(/^[0-9]{1,18}$/, 'must be a cursor from a previous page (nextCursor)').transform(Number);
const instant = z.iso.datetime({ offset: true }).transform((v) => new Date(v));
const pattern = z.string().min(1).max(200);
/**
 * The audit's filters and cursor: `before` pages back from the newest (each page's nextCursor),
 * `after` reads forward, oldest first (what `patchflow audit --follow` polls with).
 */
export const auditQuery = z.object({
  deviceId: uuid.optional(),
  clientId: uuid.optional(),
  /** exact, or a prefix ending in '*': "user:alice/*" */
  actor: pattern.optional(),
  /** exact, or a prefix ending in '*': "auth.*" */
  action: pattern.optional(),
  since: instant.optional(),
  until: instant.optional(),
  before: cursor.optional(),
  after: cursor.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
}).refine((q) => q.before === undefined || q.after === undefined, { message: 'give before or after, not both', path: ['after'] });

export const scopeScanSchema = z.object({
  scopeType: z.enum(['all', 'client', 'site', 'device_type']),
  scopeId: z.string().optional(),
}).strict().superRefine((v, ctx) => {
  if (v.scopeType === 'all') return;
  if (!v.scopeId) ctx.addIssue({ code: 'custom', path: ['scopeId'], message: `is required for scopeType ${v.scopeType}` });
  else if (v.scopeType === 'device_type' && !['server', 'workstation'].includes(v.scopeId)) {
    ctx.addIssue({ code: 'custom', path: ['scopeId'], message: 'must be server or workstation for scopeType device_type' });
  } else if (v.scopeType !== 'device_type' && !uuid.safeParse(v.scopeId).success) {
    // a UUID's shape is not enough: 36 dashes would reach a ::uuid cast
    ctx.addIssue({ code: 'custom', path: ['scopeId'], message: 'must be a UUID' });
  }
});

/** No options yet: the Initial Update installs every approved missing patch. */
export const startInitialUpdateSchema = z.object({}).strict();
