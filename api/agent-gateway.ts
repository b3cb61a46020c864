import type { Client } from '@temporalio/client';
import type { ServerResponse } from 'node:http';
import express, { type Router } from 'express';
import type { z } from 'zod';
import type { Logger } from 'pino';
import { claimPendingCommands, releaseClaimedCommands, type CommandRow } from '../db/command-repository';
import type { CommandKeyring } from '../config/command-keys';
import type { Db } from '../db/database';
import { CheckInWriter } from '../db/check-in-writer';
import type { CheckIn } from '../db/fleet-repository';
import type { AgentCommand } from '../domain/device-protocol';
import { BOOT_ID_HEADER, bootIdHeader, commandIdParam, enrollSchema, fileHashParam, outcomeSchema, pollQuerySchema, progressSchema } from './agent-schemas';
import { settleCheckIn } from './check-in-settlement';
import type { CommandNotifier, WakeReason } from './command-notifier';
import { acceptCommandResult, acceptProgress } from './command-result-service';
import { ProgressHeartbeats } from './progress-heartbeats';
import { hashMatches, hashSecret, parseCredential } from './credentials';
import { enrollAgent } from './enrollment-service';
import { describeZodError, HttpError } from './errors';
import { FileHashMismatchError, type PatchFileCache } from './file-cache';
import { findCatalogFile } from '../db/catalog-repository';
import type { Metrics } from './metrics';
import type { InstallTimingInput } from '../workflows/install.contract';
import { AGENT_BODY_LIMIT, closeUnreadBody, ENROLL_BODY_LIMIT, jsonBody } from './request-body';
import { parse } from './validation';
import type { ResultCompleter } from './result-delivery';

export interface DeviceLocals {
  deviceId: string;
  bootId?: string;
  /** a poll's first round: its subscription (made before the check-in) and whether the check-in found nothing to claim */
  pollStart?: { wake: { promise: Promise<WakeReason>; cancel: () => void }; nothingToClaim: boolean; query: z.infer<typeof pollQuerySchema> };
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
  /** group commit of the check-ins (default: one of this gateway's own on `db`) */
  checkIns?: CheckInWriter;
  /** the devices' progress as activity heartbeats, throttled per command (default: this gateway's own, 2 s: api/progress-heartbeats.ts) */
  progressHeartbeats?: ProgressHeartbeats;
}

/** The gateway's router, and the two halves of a poll for the door that answers it without express (api/poll-fast-path.ts). */
export type AgentGateway = Router & {
  checkInDevice(ask: { authorization?: string; bootIdHeader?: string; pollQuery?: unknown }, res: ServerResponse): Promise<DeviceLocals>;
  longPoll(device: DeviceLocals, query: z.infer<typeof pollQuerySchema>, res: ServerResponse): Promise<{ commands: AgentCommand[] } | undefined>;
};

/**
 * The agent gateway (/agent/v1): the only door an endpoint has. Agents enroll, long-poll for
 * commands and post results; results complete the waiting activities (asynchronous completion).
 * Agents never talk to Temporal.
 */
export function createAgentGateway(deps: GatewayDeps): AgentGateway {
  const { db, notifier, log, metrics } = deps;
  const checkIns = deps.checkIns ?? new CheckInWriter(db, {
    onStatement: (n) => { metrics.checkIns.inc(n); metrics.checkInStatements.inc(); },
  });
  const progressHeartbeats = deps.progressHeartbeats ?? new ProgressHeartbeats(deps);
  const resultDeps = { ...deps, progressHeartbeats };
  const router = express.Router();

  // The enrollment token is in the body: the body is read first, but only a small one.
  router.post('/enroll', ...jsonBody(ENROLL_BODY_LIMIT), async (req, res) => {
    res.status(201).json(await enrollAgent(deps, parse(enrollSchema, req.body, 'body')));
  });

  /**
   * Every other route: the device's own credential, and the request counts as a check-in. `pollQuery`
   * is the raw query of a `GET /commands` (a poll), absent for any other route. Throws HttpError 401 or
   * 400; the answer's close (`res`) cancels what the poll subscribed to.
   */
  const checkInDevice = async (ask: { authorization?: string; bootIdHeader?: string; pollQuery?: unknown }, res: ServerResponse): Promise<DeviceLocals> => {
    const parsed = parseCredential((ask.authorization ?? '').replace(/^Bearer\s+/i, ''));
    if (!parsed) throw new HttpError(401, 'missing or malformed device credential (Authorization: Bearer <credential>)');
    const rawBoot = ask.bootIdHeader;
    const boot = rawBoot === undefined ? undefined : bootIdHeader.safeParse(rawBoot);
    // One round trip: the lookup, the check-in (written only for the right secret, and never for a
    // request about to be refused as bad input) and what it settles.
    const wellFormed = !boot || boot.success;
    // A poll also learns, in the same statement, whether it has anything to claim. It subscribes to
    // its device's announcements first, so a command written after that statement still wakes it.
    const poll = ask.pollQuery === undefined ? undefined : pollQuerySchema.safeParse(ask.pollQuery);
    const wake = poll?.success ? notifier.subscribe(parsed.deviceId, (poll.data.wait ?? deps.pollWaitSeconds) * 1000) : undefined;
    // The check-ins of one event-loop turn go to PostgreSQL as one statement (db/check-in-writer.ts),
    // each request with its own answer.
    const secretHash = hashSecret(parsed.secret);
    let seen: CheckIn;
    try {
      seen = await checkIns.checkIn({
        deviceId: parsed.deviceId, secretHash: wellFormed ? secretHash : '', bootId: boot?.success ? boot.data : undefined,
        ...(poll?.success ? { poll: { claimLeaseSeconds: claimLeaseSeconds(), restarted: poll.data.restarted } } : {}),
      });
      if (!seen.credentialHash || !hashMatches(secretHash, seen.credentialHash)) throw new HttpError(401, 'device credential is not valid');
      if (boot && !boot.success) throw new HttpError(400, `header ${BOOT_ID_HEADER}: ${describeZodError(boot.error, 'value')}`);
    } catch (err) {
      wake?.cancel();
      throw err;
    }
    if (wake) res.on('close', wake.cancel);
    const locals: DeviceLocals = {
      deviceId: parsed.deviceId, bootId: boot?.data,
      // An acknowledged reboot may be offered again while the check-in settles: then claim as usual.
      ...(wake && poll?.success ? { pollStart: { wake, nothingToClaim: seen.hasClaimable === false && !seen.hasAcknowledgedReboot, query: poll.data } } : {}),
    };
    await settleCheckIn(deps, locals, seen);
    return locals;
  };
  const claimLeaseSeconds = () => deps.claimLeaseSeconds ?? deps.pollWaitSeconds + 30;
  router.use((req, res, next) => {
    const ask = { authorization: req.get('authorization'), bootIdHeader: req.get(BOOT_ID_HEADER), pollQuery: req.method === 'GET' && req.path === '/commands' ? req.query : undefined };
    checkInDevice(ask, res).then((device) => {
      res.locals.device = device;
      next();
    }, (err) => {
      if (err instanceof HttpError && err.status === 401) closeUnreadBody(req, res);
      next(err);
    });
  });
  // Bodies are read only for an authenticated device.
  router.use(...jsonBody(AGENT_BODY_LIMIT));

  /**
   * A poll's wait and answer: the device's commands, claimed, once there are any or the wait is over;
   * undefined when the agent hung up (nothing is answered, what was claimed is given back).
   */
  const longPoll = async (device: DeviceLocals, query: z.infer<typeof pollQuerySchema>, res: ServerResponse): Promise<{ commands: AgentCommand[] } | undefined> => {
    const waitMs = (query.wait ?? deps.pollWaitSeconds) * 1000;
    // The poll ends when the agent hangs up or a newer poll of its credential takes over. One
    // controller for both (AbortSignal.any and an abort on every answered request's close were a
    // measurable share of an idle poll's CPU).
    const stop = new AbortController();
    const ended = stop.signal;
    let hungUp = false;
    const onClose = () => { hungUp = true; stop.abort(); };
    res.on('close', onClose);
    // One poll per device credential: a newer poll ends this one (it answers at once, empty).
    const poll = notifier.openPoll(device.deviceId, stop);
    const deadline = Date.now() + waitMs;
    let rows: CommandRow[] = [];
    // The first round uses what the check-in already read (and its subscription, made before it).
    let first = device.pollStart;
    try {
      for (;;) {
        if (ended.aborted) {
          first?.wake.cancel();
          break;
        }
        const announced = first?.wake ?? notifier.subscribe(device.deviceId, deadline - Date.now(), ended);
        const subscribedAtCheckIn = first !== undefined;
        if (!first?.nothingToClaim) {
          rows = await claimPendingCommands(db, device.deviceId, { claimLeaseSeconds: claimLeaseSeconds(), restarted: query.restarted });
        }
        first = undefined;
        if (rows.length > 0 || Date.now() >= deadline || ended.aborted) {
          announced.cancel();
          break;
        }
        // The check-in's subscription was made without the poll's signal: the end of the poll ends its wait too.
        if (subscribedAtCheckIn) ended.addEventListener('abort', announced.cancel, { once: true });
        // The wait ran out with no announcement: answer empty without a claim. The agent polls again at
        // once, and that poll's check-in finds anything a lost announcement or an expired claim left.
        if ((await announced.promise) === 'timeout') break;
      }
    } finally {
      poll.close();
    }
    if (ended.aborted && rows.length > 0) {
      // The agent hung up, or polls again already: give the commands back (the newer poll gets them).
      await releaseClaimedCommands(db, device.deviceId, rows.map((r) => r.id));
      rows = [];
    }
    if (hungUp) return undefined;
    res.off('close', onClose);
    // Handed out as stored: the worker signed it, the gateway only relays (and cannot re-sign).
    const commands: AgentCommand[] = rows.map((r) => ({
      id: r.id, type: r.type, payload: r.payload as never, attempt: r.attempt, ...(r.signature ? { signature: r.signature } : {}),
    }));
    metrics.commandsDelivered.inc(commands.length);
    return { commands };
  };

  router.get('/commands', async (req, res) => {
    const device = res.locals.device as DeviceLocals;
    // Parsed once already by the check-in (a bad query is refused here, as before).
    const query = device.pollStart?.query ?? parse(pollQuerySchema, req.query, 'query');
    const answer = await longPoll(device, query, res);
    if (answer) res.json(answer);
  });

  router.post('/commands/:id/result', async (req, res) => {
    const { id } = parse(commandIdParam, req.params, 'params');
    const outcome = parse(outcomeSchema, req.body, 'body');
    res.json(await acceptCommandResult(resultDeps, res.locals.device as DeviceLocals, id, outcome));
  });

  router.post('/commands/:id/progress', async (req, res) => {
    const device = res.locals.device as DeviceLocals;
    const { id } = parse(commandIdParam, req.params, 'params');
    const answer = await acceptProgress(resultDeps, device.deviceId, id, parse(progressSchema, req.body, 'body'));
    res.status(202).json({ accepted: true, ...answer });
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

  return Object.assign(router, { checkInDevice, longPoll });
}
