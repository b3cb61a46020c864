import { z } from 'zod';
import { CommandType, type CommandPayloads } from '../../domain/device-protocol';
import { HEALTH_CHECK_NAME, MAX_HEALTH_CHECK_NAMES } from '../../domain/health-check';
import { wuaGuidSchema } from '../../domain/wua-schemas';

/**
 * Installer file names the Windows executor accepts: plain names of .msu, .msi or .cab files. The
 * pattern is narrow on purpose: msiexec parses its own command line, so a name like
 * `x.msi /qn TRANSFORMS=...` would add options even without a shell; these characters cannot.
 */
export const INSTALLER_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,150}\.(msu|msi|cab)$/i;

const kb = z.string().regex(/^KB\d{6,8}$/, 'must look like KB5034441');
const patchFile = z.object({
  updateId: wuaGuidSchema,
  kb,
  fileName: z.string().regex(INSTALLER_FILE_NAME, 'must be a plain .msu, .msi or .cab file name of letters, digits and . _ + -'),
  downloadUrl: z.string().min(1).max(2000),
  sizeBytes: z.number().int().min(1),
  sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a hex SHA-256'),
});
// Folders are strings here; domain/folders.ts decides whether they may serve.
const folder = z.string().max(1000);
const sources = z.array(z.string().max(40)).max(8);
const rebootMode = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('immediate') }),
  z.object({ kind: z.literal('warn'), minutes: z.number().int().min(1).max(1440) }),
  z.object({ kind: z.literal('skip_if_user_logged_on') }),
  z.object({ kind: z.literal('ask_every'), minutes: z.number().int().min(1).max(1440) }),
  z.object({ kind: z.literal('ask'), minutes: z.number().int().min(1).max(1440), ifNoAnswer: z.enum(['reboot', 'do_nothing']) }),
  z.object({ kind: z.literal('ask_defer'), minutes: z.number().int().min(1).max(1440), deferralsLeft: z.number().int().min(0) }),
]);

// A health check: only the named checks (domain/health-check.ts), names as Windows spells services.
const checkNames = z.array(z.string().regex(HEALTH_CHECK_NAME, 'must be a name of letters, digits and _ . @ -')).min(1).max(MAX_HEALTH_CHECK_NAMES);
const healthCheck = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('services_running'), services: checkNames }).strict(),
  z.object({ kind: z.literal('processes_running'), processes: checkNames }).strict(),
]);

/** The payload of each command the Windows executor runs, checked before anything runs. */
export const payloadSchemas = {
  [CommandType.Scan]: z.object({ reason: z.string().max(200) }),
  // sources: as signed (domain/file-source.ts); an unknown one fails in its turn, so any string is kept.
  // One patch (installs before the one download command) or all of an install's, as copy.
  [CommandType.Download]: z.union([
    z.object({ patch: patchFile, workingFolder: folder, sources: sources.optional() }),
    z.object({ patches: z.array(patchFile).min(1).max(500), workingFolder: folder, sources: sources.optional() }),
  ]),
  [CommandType.Copy]: z.object({ patches: z.array(patchFile).max(500), workingFolder: folder, installFolder: folder }),
  [CommandType.Execute]: z.object({ patch: patchFile, installFolder: folder }),
  [CommandType.ExecutePatches]: z.object({ patches: z.array(patchFile).min(1).max(500), installFolder: folder }),
  [CommandType.Reboot]: z.object({ reason: z.string().max(500), mode: rebootMode.optional() }),
  [CommandType.Cleanup]: z.object({ workingFolder: folder, installFolder: folder }),
  [CommandType.Uninstall]: z.object({ updateId: wuaGuidSchema, kb }),
  [CommandType.HealthCheck]: z.object({ check: healthCheck, reason: z.string().max(200) }),
  [CommandType.PatchTest]: z.object({ workingFolder: folder, installFolder: folder, patches: z.array(patchFile).max(500) }),
} satisfies Partial<Record<CommandType, z.ZodType>>;

export type WindowsCommandType = keyof typeof payloadSchemas;
export type Payload<T extends WindowsCommandType> = z.infer<(typeof payloadSchemas)[T]> & CommandPayloads[T];
