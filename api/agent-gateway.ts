import { ActivityNotFoundError, type Client } from '@temporalio/client';
import express, { type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import {
  acknowledgeReboot,
  claimPendingCommands,
  findCommandForDevice,
  acknowledgedReboots,
  markResultDelivered,
  reofferReboot,
  recordPinnedCommandKeys,
  recordProgress,
  releaseClaimedCommands,
  storeOutcome,
  type CommandRow,
} from '../db/command-repository';
import type { CommandKeyring } from '../config/command-keys';
import { pinnableKeys } from '../config/command-keys';
import { withTransaction, type Db } from '../db/database';
import { refusalReasonOf } from '../domain/command-envelope';
import { CommandStatus, isWaitingOnDevice, rebootVerdict } from '../domain/command-lifecycle';
import { checkIn as recordCheckIn, enrollDevice, retryEnrollment, type CheckIn } from '../db/fleet-repository';
import { CommandErrorCode, type AgentCommand, type CommandError, type RebootPayload, type RebootResult } from '../domain/device-protocol';
import { deferredReplyProblem } from '../domain/reboot-deferral';
import { bootIdHeader, commandIdParam, enrollSchema, fileHashParam, outcomeSchema, pollQuerySchema, progressSchema, resultSchemas } from './agent-schemas';
import type { CommandNotifier } from './command-notifier';
import { formatCredential, hashSecret, newSecret, parseCredential, secretMatches } from './credentials';
import { describeZodError, HttpError } from './errors';
import { FileHashMismatchError, type PatchFileCache } from './file-cache';
import { findCatalogFile } from '../db/catalog-repository';
import type { Metrics } from './metrics';
import { runMissedRunsOnCheckIn } from './missed-run-service';
import { scanResultFromReport } from './scan-report';
import type { InstallTimingInput } from '../workflows/install.contract';
import { AGENT_BODY_LIMIT, closeUnreadBody, ENROLL_BODY_LIMIT, jsonBody } from './request-body';
import { parse } from './validation';
import { deliverOutcome, storedOutcomeOf, type ResultCompleter } from './result-delivery';

export const BOOT_ID_HEADER = 'x-patchflow-boot-id';

interface DeviceLocals {
  deviceId: string;
  bootId?: string;
  /** a poll's first round: its subscription (made before the check-in) and whether the check-in found nothing to claim */
  pollStart?: { wake: { promise: Promise<void>; cancel: () => void }; nothingToClaim: boolean };
}

export interface GatewayDeps {
  db: Db;
  client: Client;
  notifier: CommandNotifier;
  log: Logger;
  metrics: Metrics;
  pollWaitSeconds: number;
  taskQueue: string;
  installTiming?: InstallTimingInput;
  /** the command keys agents pin at enrollment (public halves only are used here: the gateway never signs) */
  commandKeys: CommandKeyring;
  /** enrollment tokens' lifetime (default: none) and the window in which an agent may retry its enrollment (default 600 s) */
  enrollment?: { tokenTtlSeconds?: number; retryWindowSeconds?: number };
  /**
   * a reboot acknowledged this long ago whose device checks in with the same boot id is offered again
   * (default 1,800 s), at most `maxOffers` times (default 3) before the step fails
   */
  stalledReboot?: { rebootTimeoutSeconds?: number; maxOffers?: number };
  /** a claimed, unanswered command is offered again after this long (default: the poll wait + 30 s) */
  claimLeaseSeconds?: number;
  /** delivers the answers this gateway could not hand to Temporal itself (api/result-delivery.ts) */
  completer?: ResultCompleter;
  /** the Patchflow cache file source (GET /files/:sha256); absent: that route answers 503 */
  fileCache?: PatchFileCache;
}

/**
 * The agent gateway (/agent/v1): the only door an endpoint has. Agents enroll, long-poll for
 * commands and post results; results complete the waiting activities (asynchronous completion).
 * Agents never talk to Temporal.
 */
export function createAgentGateway(deps: GatewayDeps): Router {
  const { db, client, notifier, log, metrics } = deps;
  const router = express.Router();

  // The enrollment token is in the body: the body is read first, but only a small one.
  router.post('/enroll', ...jsonBody(ENROLL_BODY_LIMIT), async (req, res) => {
    const body = parse(enrollSchema, req.body, 'body');
    const secret = newSecret();
    // One transaction: the token is spent, the credential stored and the audit row written together,
    // or none of them (a failure leaves the token usable).
    // The agent pins these beside its credential and refuses commands signed by any other key.
    const commandKeys = pinnableKeys(deps.commandKeys);
    const tokenHash = hashSecret(body.enrollmentToken);
    const nonceHash = body.enrollmentNonce === undefined ? undefined : hashSecret(body.enrollmentNonce);
    const enrollment = deps.enrollment ?? {};
    const deviceId = await withTransaction(db, async (tx) => {
      const id = await enrollDevice(tx, tokenHash, hashSecret(secret), body.bootId, {
        nonceHash, tokenTtlSeconds: enrollment.tokenTtlSeconds, retryWindowSeconds: enrollment.retryWindowSeconds ?? 600,
      });
      if (id) {
        await recordPinnedCommandKeys(tx, id, commandKeys.map((k) => k.keyId));
        await appendAudit(tx, [{ actor: `device:${id}`, action: 'device.enrolled', deviceId: id, details: { hostname: body.hostname ?? null, commandKeyIds: commandKeys.map((k) => k.keyId) } }]);
        return id;
      }
      // The same agent again (same spent token, same nonce, in the window): its first answer was lost.
      // The server holds only hashes, so the credential is replaced: the lost one never reached anyone.
      const retried = nonceHash ? await retryEnrollment(tx, tokenHash, nonceHash, hashSecret(secret), body.bootId) : undefined;
      if (retried) {
        await recordPinnedCommandKeys(tx, retried, commandKeys.map((k) => k.keyId));
        await appendAudit(tx, [{ actor: `device:${retried}`, action: 'device.enrollment_retried', deviceId: retried, details: { hostname: body.hostname ?? null, commandKeyIds: commandKeys.map((k) => k.keyId) } }]);
      }
      return retried;
    });
    if (!deviceId) throw new HttpError(401, 'enrollment token is unknown, expired or already used');
    log.info({ deviceId, hostname: body.hostname }, 'device enrolled');
    res.status(201).json({ deviceId, credential: formatCredential(deviceId, secret), commandKeys });
  });

  /** Every other route: the device's own credential, and the request counts as a check-in. */
  const authenticate = async (req: Request, res: Response): Promise<void> => {
    const header = req.get('authorization') ?? '';
    const parsed = parseCredential(header.replace(/^Bearer\s+/i, ''));
    if (!parsed) throw new HttpError(401, 'missing or malformed device credential (Authorization: Bearer <credential>)');
    const rawBoot = req.get(BOOT_ID_HEADER);
    const boot = rawBoot === undefined ? undefined : bootIdHeader.safeParse(rawBoot);
    // One round trip: the lookup, the check-in (written only for the right secret, and never for a
    // request about to be refused as bad input) and what it settles.
    const wellFormed = !boot || boot.success;
    // A poll also learns, in the same statement, whether it has anything to claim. It subscribes to
    // its device's announcements first, so a command written after that statement still wakes it.
    const poll = req.method === 'GET' && req.path === '/commands' ? pollQuerySchema.safeParse(req.query) : undefined;
    const wake = poll?.success ? notifier.subscribe(parsed.deviceId, (poll.data.wait ?? deps.pollWaitSeconds) * 1000) : undefined;
    let seen: CheckIn;
    try {
      seen = await recordCheckIn(db, parsed.deviceId, wellFormed ? hashSecret(parsed.secret) : '', boot?.success ? boot.data : undefined,
        poll?.success ? { claimLeaseSeconds: claimLeaseSeconds(), restarted: poll.data.restarted } : undefined);
      if (!seen.credentialHash || !secretMatches(parsed.secret, seen.credentialHash)) throw new HttpError(401, 'device credential is not valid');
      if (boot && !boot.success) throw new HttpError(400, `header ${BOOT_ID_HEADER}: ${describeZodError(boot.error, 'value')}`);
    } catch (err) {
      wake?.cancel();
      throw err;
    }
    if (wake) res.on('close', wake.cancel);
    const locals: DeviceLocals = {
      deviceId: parsed.deviceId, bootId: boot?.data,
      // An acknowledged reboot may be offered again while the check-in settles: then claim as usual.
      ...(wake ? { pollStart: { wake, nothingToClaim: seen.hasClaimable === false && !seen.hasAcknowledgedReboot } } : {}),
    };
    res.locals.device = locals;
    await settleCheckIn(locals, seen);
  };
  const claimLeaseSeconds = () => deps.claimLeaseSeconds ?? deps.pollWaitSeconds + 30;
  router.use((req, res, next) => {
    authenticate(req, res).then(() => next(), (err) => {
      if (err instanceof HttpError && err.status === 401) closeUnreadBody(req, res);
      next(err);
    });
  });
  // Bodies are read only for an authenticated device.
  router.use(...jsonBody(AGENT_BODY_LIMIT));

  /**
   * What a recorded check-in settles: the Automatic Updates a device back from an offline spell missed,
   * and its acknowledged reboot (a new boot id proves it finished: complete it; the same boot id long
   * after says it never happened).
   */
  async function settleCheckIn(device: DeviceLocals, seen: CheckIn): Promise<void> {
    if (seen.hasMissedRuns) {
      await runMissedRunsOnCheckIn(deps, device.deviceId).catch((err) => log.warn({ err, deviceId: device.deviceId }, 'missed run not started'));
    }
    if (!device.bootId || !seen.hasAcknowledgedReboot) return;
    const rebootTimeoutSeconds = deps.stalledReboot?.rebootTimeoutSeconds ?? 1_800;
    for (const row of await acknowledgedReboots(db, device.deviceId)) {
      const verdict = rebootVerdict(row, device.bootId, rebootTimeoutSeconds);
      if (verdict === 'finished') await finishReboot(row, device.bootId);
      else if (verdict === 'never-happened') await offerRebootAgain(row, device.bootId);
    }
  }

  /** A new boot id proves the acknowledged reboot done: store that and complete its step. */
  async function finishReboot(row: CommandRow, bootId: string): Promise<void> {
    const result: RebootResult = { previousBootId: row.ackedBootId!, bootId };
    if (await storeOutcome(db, row.id, { status: 'succeeded', result })) {
      await completeActivity(row, { status: 'succeeded', result });
      log.info({ deviceId: row.deviceId, commandId: row.id, bootId }, 'reboot finished');
    }
  }

  /**
   * The agent acknowledged a reboot and died before restarting: the device is back with the same boot
   * id, so the reboot never happened. Offered again (a few times), then the step fails saying why.
   */
  async function offerRebootAgain(row: CommandRow, bootId: string): Promise<void> {
    const maxOffers = deps.stalledReboot?.maxOffers ?? 3;
    const offer = await reofferReboot(db, row.id, bootId, maxOffers);
    if (offer.outcome === 'reoffered') {
      log.warn({ deviceId: row.deviceId, commandId: row.id, bootId, offers: offer.row.rebootOffers }, 'acknowledged reboot never happened; offered again');
    } else if (offer.outcome === 'given-up') {
      const error: CommandError = {
        code: CommandErrorCode.RebootNotCompleted,
        message: `the device acknowledged the reboot ${maxOffers + 1} times but never restarted (boot id still ${bootId})`,
        retryable: false,
      };
      const stored = await storeOutcome(db, row.id, { status: 'failed', error });
      if (stored) await completeActivity(stored, { status: 'failed', error });
      log.warn({ deviceId: row.deviceId, commandId: row.id, bootId }, 'reboot given up: the device never restarted');
    }
  }

  /**
   * Completes or fails the activity waiting on a command, whose answer is already stored. When that
   * attempt is gone (timed out while the device was away), the stored outcome is what the next attempt
   * returns, so nothing is lost. When Temporal cannot be reached, the answer stays owed in the store
   * and the result completer delivers it: the device's request still succeeds (its answer is safe).
   */
  async function completeActivity(row: CommandRow, outcome: { status: 'succeeded'; result: unknown } | { status: 'failed'; error: CommandError }): Promise<boolean> {
    try {
      const delivered = await deliverOutcome(client, row.taskToken, outcome);
      await markResultDelivered(db, [row.id], { late: delivered === 'late' });
      if (delivered === 'late') log.info({ commandId: row.id }, 'activity attempt no longer waiting; outcome kept for the next attempt');
      return delivered === 'delivered';
    } catch (err) {
      if (err instanceof ActivityNotFoundError) return false;
      log.warn({ err, commandId: row.id }, 'result stored but not delivered; the result completer will deliver it');
      deps.completer?.kick();
      return false;
    }
  }

  router.get('/commands', async (req, res) => {
    const device = res.locals.device as DeviceLocals;
    const query = parse(pollQuerySchema, req.query, 'query');
    const waitMs = (query.wait ?? deps.pollWaitSeconds) * 1000;
    const hungUp = new AbortController();
    res.on('close', () => hungUp.abort());
    // One poll per device credential: a newer poll ends this one (it answers at once, empty).
    const poll = notifier.openPoll(device.deviceId);
    const ended = AbortSignal.any([hungUp.signal, poll.signal]);
    const deadline = Date.now() + waitMs;
    let rows: CommandRow[] = [];
    // The first round uses what the check-in already read (and its subscription, made before it).
    let first = device.pollStart;
    if (first) ended.addEventListener('abort', first.wake.cancel, { once: true });
    try {
      for (;;) {
        if (ended.aborted) break;
        const announced = first?.wake ?? notifier.subscribe(device.deviceId, deadline - Date.now(), ended);
        if (!first?.nothingToClaim) {
          rows = await claimPendingCommands(db, device.deviceId, { claimLeaseSeconds: claimLeaseSeconds(), restarted: query.restarted });
        }
        first = undefined;
        if (rows.length > 0 || Date.now() >= deadline || ended.aborted) {
          announced.cancel();
          break;
        }
        await announced.promise;
      }
    } finally {
      poll.close();
    }
    if (ended.aborted && rows.length > 0) {
      // The agent hung up, or polls again already: give the commands back (the newer poll gets them).
      await releaseClaimedCommands(db, device.deviceId, rows.map((r) => r.id));
      rows = [];
    }
    if (hungUp.signal.aborted) return;
    // Handed out as stored: the worker signed it, the gateway only relays (and cannot re-sign).
    const commands: AgentCommand[] = rows.map((r) => ({
      id: r.id, type: r.type, payload: r.payload as never, attempt: r.attempt, ...(r.signature ? { signature: r.signature } : {}),
    }));
    metrics.commandsDelivered.inc(commands.length);
    res.json({ commands });
  });

  router.post('/commands/:id/result', async (req, res) => {
    const device = res.locals.device as DeviceLocals;
    const { id } = parse(commandIdParam, req.params, 'params');
    const outcome = parse(outcomeSchema, req.body, 'body');
    const row = await findCommandForDevice(db, id, device.deviceId);
    if (!row) throw new HttpError(404, `command ${id} not found for this device`);
    if (outcome.status === 'failed' && outcome.error.code === CommandErrorCode.CommandRefused) {
      // The device's own credential, about a command addressed to it: the refusal is believable, and
      // it can fail only that device's own step. Audited whatever happens next (who, what, why), even
      // for a command that is already finished (a replay of it).
      await appendAudit(db, [{
        actor: `device:${device.deviceId}`, action: 'command.refused', deviceId: device.deviceId, subject: id,
        details: { type: row.type, workflowId: row.workflowId, attempt: row.attempt, reason: refusalReasonOf(outcome.error.message) ?? 'unstated', message: outcome.error.message, retryable: outcome.error.retryable },
      }]);
      log.warn({ deviceId: device.deviceId, commandId: id, type: row.type, reason: outcome.error.message }, 'command refused by the device');
    }
    if (row.status === CommandStatus.Withdrawn) throw new HttpError(409, `command ${id} was withdrawn; its result is not needed`);
    if (row.status === CommandStatus.Succeeded) {
      // A re-post after an answer that never reached the device (a 500, a dropped reply): the stored
      // answer may be owed to Temporal still, so deliver it now rather than leave it to a timeout.
      const delivered = row.deliveredAt ? undefined : await completeActivity(row, storedOutcomeOf(row));
      res.json({ accepted: true, status: row.status, duplicate: true, ...(delivered === undefined ? {} : { delivered }) });
      return;
    }

    if (outcome.status === 'acknowledged') {
      if (row.type !== 'reboot') throw new HttpError(400, `body.status: "acknowledged" is only for reboot commands, not ${row.type}`);
      if (!device.bootId) throw new HttpError(400, `header ${BOOT_ID_HEADER} is required to acknowledge a reboot`);
      const acked = await acknowledgeReboot(db, id, device.bootId);
      if (acked) await client.activity.heartbeat(row.taskToken, { stage: 'rebooting' }).catch(() => undefined);
      metrics.commandResults.inc({ type: row.type, status: 'acknowledged' });
      res.json({ accepted: true, status: acked?.status ?? row.status });
      return;
    }

    let stored: Parameters<typeof storeOutcome>[2];
    if (outcome.status === 'succeeded' && row.type === 'scan') {
      // A scan answers with catalog facts, never with the device's: see api/scan-report.ts.
      stored = { status: 'succeeded', result: await scanResultFromReport(db, device.deviceId, id, outcome.result) };
    } else if (outcome.status === 'succeeded') {
      const result = resultSchemas[row.type].safeParse(outcome.result);
      if (!result.success) throw new HttpError(400, describeZodError(result.error, 'body.result'));
      if (row.type === 'reboot') {
        // A postponement must answer a question that offered one, for no longer than offered.
        const problem = deferredReplyProblem(row.payload as RebootPayload, result.data as RebootResult);
        if (problem) throw new HttpError(400, `body.result: ${problem}`);
      }
      stored = { status: 'succeeded', result: result.data };
    } else {
      stored = { status: 'failed', error: outcome.error };
    }
    const updated = await storeOutcome(db, id, stored);
    if (!updated) throw new HttpError(409, `command ${id} is already finished (${row.status})`);
    const delivered = await completeActivity(updated, stored);
    metrics.commandResults.inc({ type: row.type, status: outcome.status });
    log.info({ deviceId: device.deviceId, commandId: id, type: row.type, status: outcome.status, delivered }, 'command result');
    res.json({ accepted: true, status: updated.status, delivered });
  });

  router.post('/commands/:id/progress', async (req, res) => {
    const device = res.locals.device as DeviceLocals;
    const { id } = parse(commandIdParam, req.params, 'params');
    const progress = parse(progressSchema, req.body, 'body');
    const row = await findCommandForDevice(db, id, device.deviceId);
    if (!row) throw new HttpError(404, `command ${id} not found for this device`);
    if (!isWaitingOnDevice(row.status)) throw new HttpError(409, `command ${id} is already finished (${row.status})`);
    await recordProgress(db, id, progress);
    // Heartbeat details show in the Web UI's pending activity: the operator sees "download 50%".
    await client.activity.heartbeat(row.taskToken, progress).catch((err) => {
      if (!(err instanceof ActivityNotFoundError)) throw err;
    });
    res.status(202).json({ accepted: true });
  });

  /**
   * The Patchflow cache file source: a device fetches a patch file by the catalog's SHA-256 with its own
   * credential. Only files the signed catalog names (404 for any other hash); the URL fetched is the
   * catalog's, never anything the device sent. The cache fetches from the origin once per hash, refuses
   * bytes that do not hash right (502, nothing kept), and re-hashes a stored file before serving it.
   */
  router.get('/files/:sha256', async (req, res) => {
    const device = res.locals.device as DeviceLocals;
    const { sha256 } = parse(fileHashParam, req.params, 'params');
    const file = await findCatalogFile(db, sha256);
    if (!file) throw new HttpError(404, `no file with SHA-256 ${sha256} in the catalog`);
    if (!deps.fileCache) throw new HttpError(503, 'this server has no Patchflow cache (FILE_CACHE_DIR); use another file source');
    let got: Awaited<ReturnType<PatchFileCache['get']>>;
    try {
      got = await deps.fileCache.get(sha256, file.downloadUrl);
    } catch (err) {
      // The origin is not the device's fault: 502, and the agent falls back to its next source.
      const why = err instanceof FileHashMismatchError ? `the origin served bytes that do not match the catalog (${err.message}); nothing was cached` : `the origin could not be fetched: ${(err as Error).message}`;
      log.warn({ deviceId: device.deviceId, sha256, kb: file.kb, err: (err as Error).message }, 'cache fill failed');
      throw new HttpError(502, `${file.kb} (${sha256}): ${why}`);
    }
    metrics.fileCacheBytesServed.inc(got.bytes.length);
    if (got.served === 'origin') metrics.fileCacheOriginBytes.inc(got.bytes.length);
    log.info({ deviceId: device.deviceId, sha256, kb: file.kb, served: got.served, bytes: got.bytes.length }, 'patch file served from the cache');
    res.set('x-patchflow-sha256', sha256).set('x-patchflow-cache', got.served === 'origin' ? 'miss' : 'hit').type('application/octet-stream').send(got.bytes);
  });

  return router;
}
