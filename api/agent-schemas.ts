import { z } from 'zod';
import { NotStartedReason, type CommandResults, type CommandType, type ScanReport } from '../domain/device-protocol';
import { isPatchId, PATCH_ID_HINT } from '../domain/patch-id';
import { FileSource } from '../domain/file-source';
import { folderAclOutputSchema } from '../domain/wua-schemas';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex SHA-256');
const kb = z.string().refine(isPatchId, PATCH_ID_HINT);
const exitCode = z.number().int().min(-2147483648).max(4294967295);

/**
 * One update of a device's scan: which update, which revision, installed or not; a KB and a title may
 * come along as display hints. Everything else an older agent sends (URL, hash, classification,
 * supersedence...) is dropped here: only the catalog feed says those (api/scan-report.ts).
 */
const reportedUpdate = z.object({
  updateId: z.string().min(1).max(100),
  revision: z.number().int().min(0),
  installed: z.boolean(),
  kb: z.string().min(1).max(100).optional().catch(undefined),
  title: z.string().min(1).max(500).optional().catch(undefined),
});

/** A device's scan answer (domain/device-protocol.ts ScanReport). */
export const scanReportSchema = z.object({
  bootId: z.string().min(1).max(200),
  updates: z.array(reportedUpdate).max(10000),
  rebootPending: z.boolean(),
  freeDiskBytes: z.number().int().min(0),
  scannedAt: z.string().datetime({ offset: true }),
});

const shortText = (max: number) => z.string().min(1).max(max);

/**
 * A device's Patch Test observation (domain/patch-test.ts PatchTestObservation). Only the shape is
 * checked here; what passes is decided on the server, and the expected hashes and sizes a device
 * reports are replaced by the catalog's before anything is evaluated (activities/patch-test-activities.ts).
 */
export const patchTestObservationSchema = z.object({
  credential: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('system') }),
    z.object({
      kind: z.literal('set'), account: shortText(256), sid: z.string().regex(/^S-1-[0-9-]{1,180}$/, 'must be a SID (S-1-...)').nullable(),
      verified: z.boolean(), error: shortText(1000).optional(),
    }),
  ]),
  platform: z.enum(['windows', 'posix']).optional(),
  workingFolder: shortText(300),
  workingFolderAcl: folderAclOutputSchema.shape.folders.element.nullable(),
  folderProblem: shortText(1000).optional(),
  freeBytes: z.number().int().min(0).nullable(),
  files: z.array(z.object({
    patchId: shortText(100), source: shortText(2000), expectedSha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a hex SHA-256'),
    sizeBytes: z.number().int().min(0), answered: z.boolean(),
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be a hex SHA-256').nullable(), error: shortText(1000).optional(),
  })).max(200),
  services: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}$/, 'must be a service name'), z.enum(['Automatic', 'Manual', 'Disabled', 'Missing']))
    .refine((r) => Object.keys(r).length <= 50, { message: 'at most 50 services' }),
});

/** The result schema of each command type: a device's answer is checked before it reaches a workflow. */
const fileSource = z.enum(Object.values(FileSource) as [FileSource, ...FileSource[]]);
/** domain/file-source.ts DownloadReport: which source served a download (agents since file sources). */
const downloadReportSchema = z.object({
  servedBy: fileSource,
  bytes: z.number().int().min(0),
  durationMs: z.number().min(0),
  bytesPerSecond: z.number().min(0),
  fellBack: z.array(z.object({ source: fileSource, reason: z.string().max(2000) })).max(8),
});

const downloadResultSchema = z.object({ kb, path: z.string().min(1), sha256, bytes: z.number().int().min(0), source: downloadReportSchema.optional() });
const commandErrorSchema = z.object({ code: z.string().min(1).max(100), message: z.string().min(1).max(4000), retryable: z.boolean() });
/** All an install's patches in one download: each one downloaded (and verified) or refused with its reason. */
const downloadPatchesResultSchema = z.object({
  downloaded: z.array(downloadResultSchema.extend({ updateId: z.string().min(1).max(100) })).max(500),
  failed: z.array(z.object({ updateId: z.string().min(1).max(100), kb, error: commandErrorSchema })).max(500),
});

const updateId = z.string().min(1).max(100);
const notStartedReason = z.enum(Object.values(NotStartedReason) as [NotStartedReason, ...NotStartedReason[]]);
/** An install's installers in one command: each patch executed (its exit code), not started (why), or refused. */
const executePatchesResultSchema = z.object({
  patches: z.array(z.discriminatedUnion('status', [
    z.object({ updateId, kb, status: z.literal('executed'), exitCode, durationMs: z.number().min(0), alreadyInstalled: z.boolean() }),
    z.object({ updateId, kb, status: z.literal('not_started'), reason: notStartedReason, message: z.string().min(1).max(2000) }),
    z.object({ updateId, kb, status: z.literal('failed'), error: commandErrorSchema }),
  ])).max(500),
});

const resultSchemaOf = {
  scan: scanReportSchema,
  // One patch (installs before the one download command) or all of them.
  download: z.union([downloadResultSchema, downloadPatchesResultSchema]),
  copy: z.object({ copied: z.array(z.object({ kb, path: z.string().min(1) })) }),
  execute: z.object({ kb, exitCode, durationMs: z.number().min(0), alreadyInstalled: z.boolean() }),
  execute_patches: executePatchesResultSchema,
  // A device that did not restart (Reboot Action: user logged on, declined, no answer) says why, with its
  // unchanged boot id; older agents send only the two boot ids.
  reboot: z
    .object({
      previousBootId: z.string().min(1),
      bootId: z.string().min(1),
      skipped: z.object({ reason: z.enum(['user_logged_on', 'user_declined', 'no_answer', 'user_deferred']) }).optional(),
      userWasLoggedOn: z.boolean().optional(),
      waitedMinutes: z.number().min(0).optional(),
      // a postponement by the user (ask_defer): how long; checked against the question by the gateway
      deferredMinutes: z.number().int('must be a whole number of minutes').min(1).max(1440).optional(),
    })
    .refine((r) => !r.skipped || r.previousBootId === r.bootId, { message: 'a skipped reboot keeps its boot id: bootId must equal previousBootId', path: ['bootId'] })
    .refine((r) => r.skipped?.reason !== 'user_deferred' || r.deferredMinutes !== undefined, { message: 'a postponed reboot says for how long', path: ['deferredMinutes'] }),
  uninstall: z.object({ kb, exitCode, durationMs: z.number().min(0), notInstalled: z.boolean() }),
  health_check: z.object({
    healthy: z.boolean(),
    output: z.string().max(4000),
    items: z.array(z.object({ name: z.string().min(1).max(80), ok: z.boolean(), state: z.string().min(1).max(200) })).max(20),
  }).refine((r) => r.healthy === r.items.every((i) => i.ok), { message: 'healthy must be true exactly when every item is ok', path: ['healthy'] }),
  patch_test: patchTestObservationSchema,
  trust_keys: z.object({ keyIds: z.array(z.string().regex(/^[0-9a-f]{16}$/, 'must be a key id (16 hex digits)')).min(1).max(10) }),
  cleanup: z.object({ removedFiles: z.number().int().min(0), workingFolderEmpty: z.boolean(), installFolderEmpty: z.boolean() }),
} satisfies Record<CommandType, z.ZodType>;
export const resultSchemas: Record<CommandType, z.ZodType> = resultSchemaOf;

/**
 * The protocol's interfaces (domain/device-protocol.ts, which the workflows import as types) and these
 * schemas describe the same answers twice; this makes the compiler hold them equal, so neither can
 * change alone. A scan is checked as the device sends it (ScanReport): the gateway turns it into a
 * ScanResult from the catalog.
 */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
type AnswerOf<K extends CommandType> = K extends 'scan' ? ScanReport : CommandResults[K];
const schemasMatchProtocol: { [K in CommandType]: Same<z.infer<(typeof resultSchemaOf)[K]>, AnswerOf<K>> } = {
  scan: true, download: true, copy: true, execute: true, execute_patches: true, reboot: true, cleanup: true,
  uninstall: true, health_check: true, patch_test: true, trust_keys: true,
};
void schemasMatchProtocol;

export const outcomeSchema = z.discriminatedUnion('status', [
  z.object({ status: z.literal('succeeded'), result: z.unknown() }),
  z.object({
    status: z.literal('failed'),
    error: commandErrorSchema,
  }),
  z.object({ status: z.literal('acknowledged') }),
]);

export const progressSchema = z.object({
  message: z.string().min(1).max(1000),
  percent: z.number().min(0).max(100).optional(),
  /**
   * an execute_patches command's next patch, which the agent starts only on the answer's
   * `goAhead: { proceed: true }` (the install's halts and maintenance window decide)
   */
  starting: z.object({ updateId, kb: z.string().min(1).max(100) }).optional(),
});

export const enrollSchema = z.object({
  enrollmentToken: z.string().min(20).max(200),
  hostname: z.string().min(1).max(255).refine((v) => !/\p{Cc}/u.test(v), 'must not contain control characters').optional(),
  bootId: z.string().min(1).max(200),
  /**
   * the agent's own random value, the same for every try of one enrollment: a retry with the same token
   * and nonce within the retry window enrols it again (its first answer was lost); absent: no retry
   */
  enrollmentNonce: z.string().min(16).max(200).optional(),
  /**
   * which try of this enrollment (1, 2, …) under one nonce: a try that reaches the server after a later
   * one was answered is refused (409) and leaves the later try's credential in place; absent: every
   * retry replaces the credential
   */
  enrollmentAttempt: z.number().int().min(1).max(1_000_000).optional(),
});

export const pollQuerySchema = z.object({
  wait: z.coerce.number().int().min(0).max(120).optional(),
  /**
   * the agent holds none of the commands claimed for it: its first poll since it started, or the poll
   * after one that failed (its reply, perhaps carrying commands, never arrived); they are offered again at once
   */
  restarted: z.enum(['true', 'false']).optional().transform((v) => v === 'true'),
});

/** The header in which an agent names its boot (the reboot protocol compares them across check-ins). */
export const BOOT_ID_HEADER = 'x-patchflow-boot-id';
export const bootIdHeader = z.string().min(1).max(200);

export const commandIdParam = z.object({ id: z.string().min(1).max(1000) });

/** GET /agent/v1/files/:sha256: a patch file is asked for by the catalog's hash only, never by a path or URL. */
export const fileHashParam = z.object({ sha256 });
