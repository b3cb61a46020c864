import { z } from 'zod';

const feedId = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be a feed id such as microsoft-update');

/** POST /catalog/sync: one feed, or (absent) the first configured. */
export const catalogSyncBody = z.object({ feedId: feedId.optional() }).strict();
export const catalogSyncParams = z.object({ feedId, runId: z.string().uuid() });
// Writing is what an operator asks for explicitly: without dryRun=false an import only reports.
export const catalogImportQuery = z.object({ dryRun: z.enum(['true', 'false']).default('true').transform((v) => v === 'true') });

/** POST /command-keys/rotate takes no options. */
export const rotateSchema = z.object({}).strict();
