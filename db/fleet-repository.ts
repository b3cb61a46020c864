import { randomUUID } from 'node:crypto';
import type { FileSource, FileSourcePolicy } from '../domain/file-source';
import { automaticUpdateBlock } from '../domain/patch-test-result';
import type { Queryable } from './database';
import { CommandStatus } from '../domain/command-lifecycle';
import { claimableWhere } from './command-repository';

export interface ClientRow { id: string; name: string; createdAt: string }
export interface SiteRow {
  id: string; clientId: string; clientName: string; name: string; createdAt: string;
  /** where the site's devices get patch files (migration 0031; default internet) */
  fileSource: FileSourcePolicy;
}
export interface DeviceRow {
  id: string;
  name: string;
  deviceType: 'server' | 'workstation';
  os: string | null;
  siteId: string;
  siteName: string;
  clientId: string;
  clientName: string;
  enrolled: boolean;
  enrolledAt: string | null;
  lastCheckInAt: string | null;
  bootId: string | null;
  workingFolder: string;
  installFolder: string;
  createdAt: string;
  /** set once the device is retired (DELETE /api/v1/devices/:id); nothing starts on it after */
  retiredAt: string | null;
  /** why a person must look (an automatic rollback after a failed health check could not finish), else null */
  needsAttention: string | null;
  needsAttentionAt: string | null;
  /** the device's effective file source: its site's */
  fileSource: FileSourcePolicy;
  /** why Automatic Update skips the device (its latest Patch Test failed), else null */
  automaticUpdateBlocked: string | null;
}

const iso = (v: Date | null): string | null => (v ? v.toISOString() : null);

export async function insertClient(db: Queryable, name: string): Promise<ClientRow> {
  const { rows } = await db.query(
    'INSERT INTO clients (id, name) VALUES ($1::uuid, $2::text) RETURNING id, name, created_at',
    [randomUUID(), name],
  );
  return { id: rows[0].id, name: rows[0].name, createdAt: rows[0].created_at.toISOString() };
}

export async function listClients(db: Queryable): Promise<ClientRow[]> {
  const { rows } = await db.query('SELECT id, name, created_at FROM clients ORDER BY name');
  return rows.map((r) => ({ id: r.id, name: r.name, createdAt: r.created_at.toISOString() }));
}

export async function findClient(db: Queryable, id: string): Promise<ClientRow | undefined> {
  const { rows } = await db.query('SELECT id, name, created_at FROM clients WHERE id = $1::uuid', [id]);
  return rows[0] ? { id: rows[0].id, name: rows[0].name, createdAt: rows[0].created_at.toISOString() } : undefined;
}

const SITE_SELECT = `
  SELECT s.id, s.client_id, c.name AS client_name, s.name, s.created_at, s.file_source, s.file_source_fallback
  FROM sites s JOIN clients c ON c.id = s.client_id`;

const fileSourceOf = (r: Record<string, any>): FileSourcePolicy => ({ source: r.file_source as FileSource, fallback: r.file_source_fallback });

const toSite = (r: Record<string, any>): SiteRow => ({
  id: r.id, clientId: r.client_id, clientName: r.client_name, name: r.name, createdAt: r.created_at.toISOString(), fileSource: fileSourceOf(r),
});

export async function insertSite(db: Queryable, clientId: string, name: string, fileSource?: FileSourcePolicy): Promise<SiteRow> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO sites (id, client_id, name, file_source, file_source_fallback)
     VALUES ($1::uuid, $2::uuid, $3::text, coalesce($4::text, 'internet'), coalesce($5::boolean, true))`,
    [id, clientId, name, fileSource?.source ?? null, fileSource?.fallback ?? null],
  );
  return (await findSite(db, id))!;
}

/** Sets a site's file source; undefined when there is no such site. */
export async function updateSiteFileSource(db: Queryable, id: string, fileSource: FileSourcePolicy): Promise<SiteRow | undefined> {
  const { rowCount } = await db.query('UPDATE sites SET file_source = $2::text, file_source_fallback = $3::boolean WHERE id = $1::uuid', [id, fileSource.source, fileSource.fallback]);
  return rowCount ? findSite(db, id) : undefined;
}

/** The file source a device's downloads use (its site's), or undefined for an unknown device. */
export async function deviceFileSource(db: Queryable, deviceId: string): Promise<FileSourcePolicy | undefined> {
  const { rows } = await db.query('SELECT s.file_source, s.file_source_fallback FROM devices d JOIN sites s ON s.id = d.site_id WHERE d.id = $1::uuid', [deviceId]);
  return rows[0] ? fileSourceOf(rows[0]) : undefined;
}

export async function findSite(db: Queryable, id: string): Promise<SiteRow | undefined> {
  const { rows } = await db.query(`${SITE_SELECT} WHERE s.id = $1::uuid`, [id]);
  return rows[0] ? toSite(rows[0]) : undefined;
}

/** Whether the site belongs to the client (a release plan's ring may name only its client's sites). */
export async function isSiteOfClient(db: Queryable, siteId: string, clientId: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM sites WHERE id = $1::uuid AND client_id = $2::uuid', [siteId, clientId]);
  return rows.length > 0;
}

export async function listSites(db: Queryable, clientId?: string): Promise<SiteRow[]> {
  const { rows } = clientId
    ? await db.query(`${SITE_SELECT} WHERE s.client_id = $1::uuid ORDER BY c.name, s.name`, [clientId])
    : await db.query(`${SITE_SELECT} ORDER BY c.name, s.name`);
  return rows.map(toSite);
}

const DEVICE_SELECT = `
  SELECT d.id, d.name, d.device_type, d.os, d.site_id, s.name AS site_name, s.client_id, c.name AS client_name,
         d.credential_hash IS NOT NULL AS enrolled, d.enrolled_at, d.last_check_in_at, d.boot_id,
         d.working_folder, d.install_folder, d.created_at, d.retired_at, d.needs_attention, d.needs_attention_at,
         s.file_source, s.file_source_fallback,
         pt.passed AS patch_test_passed, pt.checks AS patch_test_checks, pt.tested_at AS patch_test_at
  FROM devices d JOIN sites s ON s.id = d.site_id JOIN clients c ON c.id = s.client_id
  LEFT JOIN device_patch_tests pt ON pt.device_id = d.id`;

const toDevice = (r: Record<string, any>): DeviceRow => ({
  id: r.id,
  name: r.name,
  deviceType: r.device_type,
  os: r.os,
  siteId: r.site_id,
  siteName: r.site_name,
  clientId: r.client_id,
  clientName: r.client_name,
  enrolled: r.enrolled,
  enrolledAt: iso(r.enrolled_at),
  lastCheckInAt: iso(r.last_check_in_at),
  bootId: r.boot_id,
  workingFolder: r.working_folder,
  installFolder: r.install_folder,
  createdAt: r.created_at.toISOString(),
  retiredAt: iso(r.retired_at),
  needsAttention: r.needs_attention ?? null,
  needsAttentionAt: iso(r.needs_attention_at ?? null),
  fileSource: fileSourceOf(r),
  automaticUpdateBlocked: r.patch_test_at
    ? automaticUpdateBlock({ passed: r.patch_test_passed, checks: r.patch_test_checks, testedAt: r.patch_test_at.toISOString() })
    : null,
});

export async function insertDevice(
  db: Queryable,
  d: { siteId: string; name: string; deviceType: string; os?: string; enrollmentTokenHash: string; workingFolder: string; installFolder: string },
): Promise<DeviceRow> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO devices (id, site_id, name, device_type, os, enrollment_token_hash, working_folder, install_folder)
     VALUES ($1::uuid, $2::uuid, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text)`,
    [id, d.siteId, d.name, d.deviceType, d.os ?? null, d.enrollmentTokenHash, d.workingFolder, d.installFolder],
  );
  return (await findDevice(db, id))!;
}

export async function findDevice(db: Queryable, id: string): Promise<DeviceRow | undefined> {
  const { rows } = await db.query(`${DEVICE_SELECT} WHERE d.id = $1::uuid`, [id]);
  return rows[0] ? toDevice(rows[0]) : undefined;
}

/** The devices of `ids` that exist, in the order asked (unknown ids are left out). */
export async function findDevicesByIds(db: Queryable, ids: readonly string[]): Promise<DeviceRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await db.query(`${DEVICE_SELECT} WHERE d.id = ANY($1::uuid[])`, [[...ids]]);
  const byId = new Map(rows.map((r) => [r.id as string, toDevice(r)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** Devices, by client and site; `clientIds` (a key's clients; default 'all') bounds what is seen. */
export async function listDevices(
  db: Queryable,
  filter: { clientId?: string; siteId?: string; clientIds?: 'all' | readonly string[]; needsAttention?: boolean } = {},
): Promise<DeviceRow[]> {
  const visible = filter.clientIds === undefined || filter.clientIds === 'all' ? null : [...filter.clientIds];
  const { rows } = await db.query(
    `${DEVICE_SELECT}
     WHERE ($1::uuid IS NULL OR s.client_id = $1::uuid) AND ($2::uuid IS NULL OR d.site_id = $2::uuid)
       AND ($3::uuid[] IS NULL OR s.client_id = ANY($3::uuid[]))
       AND ($4::boolean IS NULL OR (d.needs_attention IS NOT NULL) = $4::boolean)
     ORDER BY c.name, s.name, d.name`,
    [filter.clientId ?? null, filter.siteId ?? null, visible, filter.needsAttention ?? null],
  );
  return rows.map(toDevice);
}

/**
 * Clears a device's "needs attention" (an operator fixed what an automatic rollback could not);
 * what it said and since when, or undefined when the device did not need attention. Locks the row
 * so two operators clearing at once get one success and one refusal.
 */
export async function clearNeedsAttention(db: Queryable, deviceId: string): Promise<{ reason: string; since: string | null } | undefined> {
  const { rows } = await db.query(
    `WITH old AS (SELECT id, needs_attention, needs_attention_at FROM devices WHERE id = $1::uuid AND needs_attention IS NOT NULL FOR UPDATE)
     UPDATE devices d SET needs_attention = NULL, needs_attention_at = NULL FROM old WHERE d.id = old.id
     RETURNING old.needs_attention AS reason, old.needs_attention_at AS since`,
    [deviceId],
  );
  return rows[0] ? { reason: rows[0].reason, since: iso(rows[0].since ?? null) } : undefined;
}

/** Sets a device's working and/or install folder (already checked and canonical); undefined keeps one. */
export async function updateDeviceFolders(
  db: Queryable,
  id: string,
  folders: { workingFolder?: string; installFolder?: string },
): Promise<DeviceRow | undefined> {
  const { rowCount } = await db.query(
    `UPDATE devices SET working_folder = COALESCE($2::text, working_folder), install_folder = COALESCE($3::text, install_folder)
     WHERE id = $1::uuid`,
    [id, folders.workingFolder ?? null, folders.installFolder ?? null],
  );
  return rowCount ? findDevice(db, id) : undefined;
}

/**
 * Exchanges a one-time enrollment token for a credential: sets the credential hash and clears the
 * token in one UPDATE, so a token can be used once even when two enrollments race.
 */
export async function enrollDevice(
  db: Queryable,
  enrollmentTokenHash: string,
  credentialHash: string,
  bootId: string,
  options: { nonceHash?: string; attempt?: number; tokenTtlSeconds?: number; retryWindowSeconds?: number } = {},
): Promise<string | undefined> {
  const { rows } = await db.query(
    `UPDATE devices SET credential_hash = $2::text, enrollment_token_hash = NULL, enrolled_at = now(),
            boot_id = $3::text, last_check_in_at = now(),
            spent_enrollment_token_hash = CASE WHEN $4::text IS NULL THEN NULL ELSE $1::text END,
            enrollment_nonce_hash = $4::text, enrollment_attempt = $7::int,
            enrollment_retry_until = now() + make_interval(secs => $6::float8)
     WHERE enrollment_token_hash = $1::text
       AND coalesce(enrollment_token_issued_at, now()) > now() - make_interval(secs => $5::float8)
     RETURNING id`,
    [enrollmentTokenHash, credentialHash, bootId, options.nonceHash ?? null, options.tokenTtlSeconds ?? 1e9, options.retryWindowSeconds ?? 0, options.attempt ?? null],
  );
  return rows[0]?.id;
}

/**
 * An enrollment retried by the agent whose answer was lost: the spent token and the agent's own nonce,
 * within the retry window, on a device whose credential was not revoked or replaced since. The server
 * keeps only hashes, so it cannot answer the lost credential again: it replaces it with `credentialHash`
 * (the lost one, never received, stops working). Returns the device id; 'superseded' for a try older
 * than the one last answered (`attempt`: it reached the server late, and the agent holds the later
 * try's credential, which stays); undefined when the token and nonce do not match a retryable enrollment.
 */
export async function retryEnrollment(
  db: Queryable,
  enrollmentTokenHash: string,
  nonceHash: string,
  credentialHash: string,
  bootId: string,
  attempt?: number,
): Promise<string | 'superseded' | undefined> {
  const { rows } = await db.query(
    `WITH device AS (
       SELECT id, enrollment_attempt FROM devices
        WHERE spent_enrollment_token_hash = $1::text AND enrollment_nonce_hash = $2::text
          AND enrollment_retry_until > now() AND credential_hash IS NOT NULL AND retired_at IS NULL
        FOR UPDATE
     ), up AS (
       UPDATE devices d SET credential_hash = $3::text, boot_id = $4::text, last_check_in_at = now(),
              enrollment_attempt = coalesce($5::int, d.enrollment_attempt)
         FROM device
        WHERE d.id = device.id AND ($5::int IS NULL OR device.enrollment_attempt IS NULL OR $5::int > device.enrollment_attempt)
        RETURNING d.id
     )
     SELECT device.id, (SELECT id FROM up) IS NOT NULL AS replaced FROM device`,
    [enrollmentTokenHash, nonceHash, credentialHash, bootId, attempt ?? null],
  );
  const row = rows[0] as { id: string; replaced: boolean } | undefined;
  if (!row) return undefined;
  return row.replaced ? row.id : 'superseded';
}

/** What one authenticated check-in learned, from one round trip (`checkIn`). */
export interface CheckIn {
  /** the device's stored credential hash (undefined: unknown, retired or revoked device) */
  credentialHash?: string;
  /**
   * whether the check-in counts: only when the presented secret's hash is the stored one. Its row
   * (last seen, boot id) is then rewritten, unless it was written less than
   * `CHECK_IN_WRITE_INTERVAL_SECONDS` ago with the same boot id
   */
  recorded: boolean;
  /** the device has Automatic Update runs it missed while offline (missed_runs rows) */
  hasMissedRuns: boolean;
  /** the device has a reboot it acknowledged and has not yet been seen back from */
  hasAcknowledgedReboot: boolean;
  /**
   * for a poll: whether the device has a command its poll would claim now (the same condition as
   * `claimPendingCommands`), so an idle poll costs this one statement instead of two
   */
  hasClaimable?: boolean;
}

/** What a poll would claim: pending commands, and claimed ones whose lease ran out (or all claimed, after a restart). */
export interface ClaimableQuery { claimLeaseSeconds: number; restarted: boolean }

/** One device request's check-in, as the gateway asks for it. */
export interface CheckInRequest {
  deviceId: string;
  /** the SHA-256 of the presented secret ('' never matches: a request refused as bad input) */
  secretHash: string;
  bootId?: string;
  /** a poll: also say whether it has anything to claim */
  poll?: ClaimableQuery;
}

/**
 * A check-in with the same boot id as the stored one rewrites `last_check_in_at` only when it is older
 * than this. What reads last seen: the dashboard's and fleet summary's offline mark (300 s), the
 * Initial Update's online flag (60 s), and a rollout's `lastSeenAt` (the deferral deadlines of the
 * pre-scan, minutes); an agent's long poll (AGENT_POLL_WAIT_SECONDS, 25 s by default) already leaves
 * last seen that old while it waits. A few seconds changes none of them, and a device that posts
 * results, progress and polls in a burst (or a fleet polling with wait=0) writes its row once per
 * interval instead of on every request. A new boot id is always written at once.
 */
export const CHECK_IN_WRITE_INTERVAL_SECONDS = 5;

/**
 * Device requests' check-ins, as one statement for any number of them (group commit: the gateway's
 * `CheckInWriter` sends the requests of one event-loop turn together). For each: finds the device's
 * credential hash, records the check-in (last seen, boot id) only when its `secretHash` matches it
 * (see `CHECK_IN_WRITE_INTERVAL_SECONDS`), and says whether the device owes anything a check-in
 * settles (missed runs, an acknowledged reboot) and, for a poll, whether it has anything to claim, so
 * the gateway's hot path is one round trip and the rare work costs queries only when there is some.
 * The caller still compares the hashes in constant time before trusting a request; the comparison
 * here only keeps a wrong secret from writing. One answer per request, in order. A device may appear
 * only once (one UPDATE cannot write a row twice): the writer puts a device's later request in a later
 * statement.
 */
export async function checkInMany(db: Queryable, requests: readonly CheckInRequest[]): Promise<CheckIn[]> {
  if (requests.length === 0) return [];
  // A named statement: each pool connection parses and plans it once, not once per group of check-ins
  // (the plan was a measurable share of PostgreSQL's CPU per statement at thousands of check-ins a second).
  const { rows } = await db.query({
    name: 'check-in-many',
    text: `WITH req AS (
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::boolean[], $5::float8[], $6::boolean[])
         WITH ORDINALITY AS r(device_id, secret_hash, boot_id, is_poll, lease_seconds, restarted, ord)),
     dev AS (
       SELECT req.*, d.credential_hash FROM req JOIN devices d ON d.id = req.device_id AND d.credential_hash IS NOT NULL),
     up AS (
       UPDATE devices d SET last_check_in_at = now(), boot_id = COALESCE(dev.boot_id, d.boot_id)
       FROM dev WHERE d.id = dev.device_id AND d.credential_hash = dev.secret_hash
         AND (d.last_check_in_at IS NULL OR d.last_check_in_at < now() - make_interval(secs => $7::float8)
              OR d.boot_id IS DISTINCT FROM COALESCE(dev.boot_id, d.boot_id))
       RETURNING d.id)
     SELECT dev.ord, dev.credential_hash, dev.credential_hash = dev.secret_hash AS recorded,
            EXISTS (SELECT 1 FROM missed_runs m WHERE m.device_id = dev.device_id) AS has_missed_runs,
            EXISTS (SELECT 1 FROM agent_commands c
                    WHERE c.device_id = dev.device_id AND c.type = 'reboot' AND c.status = '${CommandStatus.Acknowledged}') AS has_acked_reboot,
            CASE WHEN dev.is_poll THEN EXISTS (
              SELECT 1 FROM agent_commands c WHERE c.device_id = dev.device_id AND ${claimableWhere('c', 'dev.lease_seconds', 'dev.restarted')})
            END AS has_claimable
     FROM dev`,
    values: [
      requests.map((r) => r.deviceId), requests.map((r) => r.secretHash), requests.map((r) => r.bootId ?? null),
      requests.map((r) => r.poll !== undefined), requests.map((r) => r.poll?.claimLeaseSeconds ?? 0), requests.map((r) => r.poll?.restarted ?? false),
      CHECK_IN_WRITE_INTERVAL_SECONDS,
    ],
  });
  const byOrd = new Map(rows.map((r) => [Number(r.ord), r]));
  return requests.map((q, i): CheckIn => {
    const r = byOrd.get(i + 1);
    if (!r) return { recorded: false, hasMissedRuns: false, hasAcknowledgedReboot: false };
    return {
      credentialHash: r.credential_hash, recorded: r.recorded, hasMissedRuns: r.has_missed_runs, hasAcknowledgedReboot: r.has_acked_reboot,
      ...(q.poll ? { hasClaimable: r.has_claimable } : {}),
    };
  });
}

/** One device request's check-in (`checkInMany` of one). */
export async function checkIn(
  db: Queryable, deviceId: string, secretHash: string, bootId: string | undefined, poll?: ClaimableQuery,
): Promise<CheckIn> {
  const [seen] = await checkInMany(db, [{ deviceId, secretHash, bootId, ...(poll ? { poll } : {}) }]);
  return seen!;
}

/**
 * Clears a device's credential, so its next request is refused (the gateway looks the hash up on every
 * request). Returns whether it had one; undefined for an unknown or retired device.
 */
export async function revokeCredential(db: Queryable, deviceId: string): Promise<{ hadCredential: boolean } | undefined> {
  const { rows } = await db.query(
    `UPDATE devices d SET credential_hash = NULL
     FROM (SELECT id, credential_hash IS NOT NULL AS had FROM devices WHERE id = $1::uuid AND retired_at IS NULL FOR UPDATE) prev
     WHERE d.id = prev.id RETURNING prev.had`,
    [deviceId],
  );
  return rows[0] ? { hadCredential: rows[0].had } : undefined;
}

/**
 * Gives a device a new one-time enrollment token (its hash): any earlier unused token and the current
 * credential stop working in the same UPDATE. False for an unknown or retired device.
 */
export async function reissueEnrollmentToken(db: Queryable, deviceId: string, enrollmentTokenHash: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE devices SET enrollment_token_hash = $2::text, enrollment_token_issued_at = now(), credential_hash = NULL,
            spent_enrollment_token_hash = NULL, enrollment_nonce_hash = NULL, enrollment_retry_until = NULL
     WHERE id = $1::uuid AND retired_at IS NULL`,
    [deviceId, enrollmentTokenHash],
  );
  return (rowCount ?? 0) === 1;
}

/** Retires a device: no credential, no enrollment token, `retired_at` set. False if unknown or already retired. */
export async function retireDevice(db: Queryable, deviceId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE devices SET retired_at = now(), credential_hash = NULL, enrollment_token_hash = NULL
     WHERE id = $1::uuid AND retired_at IS NULL`,
    [deviceId],
  );
  return (rowCount ?? 0) === 1;
}

