import { randomBytes } from 'node:crypto';
import { refusalError, RefusalReason, type PinnedCommandKey } from '../domain/command-envelope';
import { NotStartedReason, type AgentCommand, type CommandOutcome, type GoAhead, type PatchStart, type TrustKeysPayload } from '../domain/device-protocol';
import { CommandTrust } from './command-trust';
import { GatewayClient, GatewayError, isTransient, type EnrollResponse, type Progress } from './gateway-client';
import type { DeviceExecutor } from './executor';
import { MemoryResultOutbox, type ResultOutbox } from './result-outbox';
import type { TransportOptions } from './transport';
import type { SimulatedWindowsDevice } from './simulated-device';
import { backoffMs, sleep } from './timing';

/** Optional structured log line, pino-shaped: `log({ deviceId }, 'message')`. */
export type AgentLog = (obj: Record<string, unknown>, msg: string) => void;

export interface AgentOptions extends TransportOptions {
  /** the gateway's base URL, e.g. "https://127.0.0.1:3000" (with `caCert`, the certificate it must present) */
  baseUrl: string;
  /** the machine the commands run on: the simulator, the apt executor or the Windows Update executor */
  executor: DeviceExecutor;
  /**
   * results finished but not yet delivered, posted first at the next start (a real agent gives a
   * FileResultOutbox in its state directory); default: one in memory per executor object
   */
  outbox?: ResultOutbox;
  /** an existing device credential; else `enrollmentToken` is exchanged for one */
  credential?: string;
  /** the command keys pinned with `credential` (from its enrollment answer or a trust_keys since) */
  commandKeys?: PinnedCommandKey[];
  enrollmentToken?: string;
  /** how long each long poll waits for a command; default 25 s */
  pollWaitSeconds?: number;
  log?: AgentLog;
  /** aborting stops the agent promptly, including an open long poll, a backoff or a reboot */
  signal: AbortSignal;
  /** called once the device has its credential and keys (after enrollment, or at once when given them) */
  onEnrolled?: (enrollment: { deviceId?: string; credential: string; commandKeys: PinnedCommandKey[] }) => void;
  /** called when a trust_keys command changed the pinned keys: save them beside the credential */
  onCommandKeys?: (commandKeys: PinnedCommandKey[]) => void;
  /** how long to wait before retry `attempt` of a failed call (default: `backoffMs`; a real agent adds jitter) */
  backoff?: (attempt: number) => number;
  /** the device's clock (default Date.now); a skewed one shows how expiry is judged */
  clock?: () => number;
  fetch?: typeof fetch;
}

export interface SimulatedAgentOptions extends Omit<AgentOptions, 'executor'> {
  device: SimulatedWindowsDevice;
}

/** An executor that can drop off the network after a step (the simulator's offline spells). */
interface PausingExecutor extends DeviceExecutor {
  pauseAfter(command: AgentCommand, signal: AbortSignal): Promise<void>;
}
const pauses = (e: DeviceExecutor): e is PausingExecutor => typeof (e as Partial<PausingExecutor>).pauseAfter === 'function';

/** The default outbox: per executor object, so a runner restarted on the same simulated device sees it. */
const memoryOutboxes = new WeakMap<DeviceExecutor, ResultOutbox>();
function defaultOutbox(executor: DeviceExecutor): ResultOutbox {
  let outbox = memoryOutboxes.get(executor);
  if (!outbox) memoryOutboxes.set(executor, (outbox = new MemoryResultOutbox()));
  return outbox;
}

/** How long a stopping agent still tries to deliver a result it has finished before it keeps it for the next start. */
const FINAL_POST_MS = 3000;

/** Runs one simulated endpoint (the simulator as the executor); see `runAgent`. */
export function runSimulatedAgent(options: SimulatedAgentOptions): Promise<void> {
  const { device, ...rest } = options;
  return runAgent({ ...rest, executor: device });
}

/**
 * Runs one endpoint against the agent gateway until `signal` aborts: enroll if needed, post results
 * kept from before a stop, then poll → run each command on the executor → post its outcome. Offline
 * spells and reboots are honoured by not polling for a while, exactly as an unreachable machine would behave. Resolves when stopped;
 * rejects only when the gateway refuses the device for good (bad enrollment token or credential).
 */
export async function runAgent(options: AgentOptions): Promise<void> {
  const device = options.executor;
  // Throws (InsecureTransportError) before any request when the URL would expose the credential.
  const client = new GatewayClient({
    baseUrl: options.baseUrl, caCert: options.caCert, allowInsecureHttp: options.allowInsecureHttp, bootId: () => device.bootId, fetch: options.fetch,
  });
  try {
    await runAgentLoop(options, client);
  } finally {
    await client.close();
  }
}

async function runAgentLoop(options: AgentOptions, client: GatewayClient): Promise<void> {
  const { executor: device, signal } = options;
  const log: AgentLog = options.log ?? (() => undefined);
  const pollWaitSeconds = options.pollWaitSeconds ?? 25;
  const logFor: AgentLog = (obj, msg) => log({ device: device.name, ...obj }, msg);
  const enrollment = await obtainCredential(options, { client, device, signal, log: logFor });
  if (!enrollment) return; // stopped while enrolling
  client.setCredential(enrollment.credential);
  options.onEnrolled?.(enrollment);
  const trust = new CommandTrust(enrollment.deviceId, enrollment.commandKeys, options.clock);
  const outbox = options.outbox ?? defaultOutbox(device);
  const backoff = options.backoff ?? backoffMs;
  const ctx: Ctx = { client, device, signal, log: logFor, trust, startedEnvelopes: new Set(), onCommandKeys: options.onCommandKeys, outbox, backoff };
  // Results finished before the last stop (or crash) go first: the server is waiting for them.
  for (const pending of outbox.pending()) {
    if (signal.aborted) return;
    ctx.log({ commandId: pending.commandId, type: pending.type }, 'posting a result kept from before the restart');
    await postOutcome(ctx, { id: pending.commandId, type: pending.type as AgentCommand['type'] }, pending.outcome);
  }

  let failures = 0;
  // Until a poll answers: commands claimed for this device before it started, or carried by a poll
  // reply that never arrived, are not here. The loop runs one command at a time and polls only
  // between them, so at a poll this agent holds none of the commands claimed for it: the gateway can
  // hand them out again at once instead of after their claim lease.
  let restarted = true;
  while (!signal.aborted) {
    let commands: AgentCommand[];
    try {
      commands = await client.pollCommands(pollWaitSeconds, signal, { restarted });
      restarted = false;
      failures = 0;
    } catch (err) {
      if (signal.aborted) break;
      if (!isTransient(err)) {
        ctx.log({ err: describe(err) }, 'gateway refused the device; agent stops');
        throw err;
      }
      failures++;
      // The reply may have carried commands (claimed, never received): say so at the next poll.
      restarted = true;
      ctx.log({ err: describe(err), retryInMs: ctx.backoff(failures) }, 'poll failed; retrying');
      await sleep(ctx.backoff(failures), signal);
      continue;
    }
    // A key rotation first: commands of the same poll may already be signed by the key it brings.
    const ordered = [...commands.filter((c) => c.type === 'trust_keys'), ...commands.filter((c) => c.type !== 'trust_keys')];
    for (const command of ordered) {
      if (signal.aborted) break; // unanswered commands time out on the server and come back later
      await runCommand(ctx, command);
    }
  }
}

interface Ctx {
  client: GatewayClient;
  device: DeviceExecutor;
  signal: AbortSignal;
  log: AgentLog;
  trust: CommandTrust;
  /** envelopes (command id # sequence) that started running on this agent */
  startedEnvelopes: Set<string>;
  onCommandKeys?: (keys: PinnedCommandKey[]) => void;
  outbox: ResultOutbox;
  backoff: (attempt: number) => number;
}

/** A device credential is "<deviceId>.<secret>" (api/credentials.ts): the agent's own id is its first part. */
const deviceIdOfCredential = (credential: string) => credential.slice(0, Math.max(0, credential.lastIndexOf('.')));

async function obtainCredential(
  options: AgentOptions,
  ctx: Pick<Ctx, 'client' | 'device' | 'signal' | 'log'>,
): Promise<{ deviceId: string; credential: string; commandKeys: PinnedCommandKey[] } | undefined> {
  if (options.credential) {
    // No keys, no commands: a credential saved without them (before commands were signed) must be re-enrolled.
    if (!options.commandKeys?.length) throw new Error(`device ${ctx.device.name}: a credential needs the command keys pinned with it`);
    return { deviceId: deviceIdOfCredential(options.credential), credential: options.credential, commandKeys: options.commandKeys };
  }
  if (!options.enrollmentToken) throw new Error(`device ${ctx.device.name}: give either a credential or an enrollment token`);
  // One nonce for every try: a retry after a lost answer proves it is the same agent (issue 16.3).
  const enrollmentNonce = randomBytes(24).toString('base64url');
  for (let attempt = 1; !ctx.signal.aborted; attempt++) {
    try {
      const enrolled: EnrollResponse = await ctx.client.enroll(
        // Numbered: a try that timed out here may still reach the server after this one was answered.
        { enrollmentToken: options.enrollmentToken, hostname: ctx.device.name, bootId: ctx.device.bootId, enrollmentNonce, enrollmentAttempt: attempt },
        ctx.signal,
      );
      ctx.log({ deviceId: enrolled.deviceId }, 'enrolled');
      return enrolled;
    } catch (err) {
      if (ctx.signal.aborted) return undefined;
      if (!isTransient(err)) throw err;
      ctx.log({ err: describe(err) }, 'enrollment failed; retrying');
      await sleep((options.backoff ?? backoffMs)(attempt), ctx.signal);
    }
  }
  return undefined;
}

async function runCommand(ctx: Ctx, command: AgentCommand): Promise<void> {
  const { device, client, signal } = ctx;
  ctx.log({ commandId: command.id, type: command.type, attempt: command.attempt }, 'command received');
  // Nothing runs, not even a journal answer, before the signature, device, expiry and sequence check out.
  const admitted = ctx.trust.admit(command);
  if (!admitted.ok) {
    ctx.log({ commandId: command.id, type: command.type, reason: admitted.reason }, 'command refused');
    await postOutcome(ctx, command, admitted.outcome);
    return;
  }
  const envelope = `${command.id}#${command.signature?.sequence}`;
  if (admitted.redelivery) {
    // An envelope it already admitted, offered again because the server could not know it arrived:
    // the journal answers it if it ran to a final outcome (device.handle), it runs if it never
    // started. One that started and ended without a final outcome (busy, retryable) is not run again
    // on the old envelope: the server's next attempt brings a new one.
    if (!ctx.device.journalEntry(command.id) && ctx.startedEnvelopes.has(envelope)) {
      ctx.log({ commandId: command.id, type: command.type }, 'redelivered envelope already ran; refused');
      await postOutcome(ctx, command, { status: 'failed', error: refusalError(RefusalReason.Replayed, `sequence ${command.signature!.sequence} already ran without a final outcome`) });
      return;
    }
    ctx.log({ commandId: command.id, type: command.type }, 'command redelivered');
  }
  ctx.startedEnvelopes.add(envelope);
  if (ctx.startedEnvelopes.size > 4096) ctx.startedEnvelopes.delete(ctx.startedEnvelopes.values().next().value!);
  if (command.type === 'trust_keys') {
    const outcome = ctx.trust.trustKeys(command.payload as TrustKeysPayload);
    if (outcome.status === 'succeeded') ctx.onCommandKeys?.(ctx.trust.keys);
    await postOutcome(ctx, command, outcome);
    return;
  }
  // Progress is best effort: it only feeds the activity heartbeat. All of it is sent before the result.
  const progressPosts: Promise<void>[] = [];
  const onProgress = (progress: Progress) => {
    progressPosts.push(client.postProgress(command.id, progress, signal).catch((err) => {
      ctx.log({ commandId: command.id, err: describe(err) }, 'progress not delivered');
    }));
  };
  // The signal ends a reboot warning or prompt in progress when the agent stops (no restart follows).
  const outcome = await device.handle(command, {
    onProgress, signal, cachedFile: (sha256, s) => ctx.client.fetchFile(sha256, s), askToStart: (start) => askToStart(ctx, command, start),
  });
  await Promise.all(progressPosts);

  // The simulator may drop off the network here: the server sees silence, times the attempt out and
  // delivers the command again later (answered from the journal).
  if (pauses(device)) await device.pauseAfter(command, signal);

  const delivery = await postOutcome(ctx, command, outcome);

  // Restart only once the gateway has the acknowledgement: a withdrawn reboot (409) must not happen.
  if (outcome.status === 'acknowledged' && delivery === 'delivered' && !signal.aborted) {
    try {
      await device.restart(signal);
      ctx.log({ commandId: command.id, bootId: device.bootId }, 'rebooted');
    } catch (err) {
      // The OS refused to restart: the boot id stays, so the gateway re-offers the reboot after its
      // timeout and finally fails the step with a clear reason; the agent keeps serving meanwhile.
      ctx.log({ commandId: command.id, err: describe(err) }, 'restart failed');
    }
  }
}

/** How many times a go-ahead question is asked through network failures before the patch is left unstarted. */
const GO_AHEAD_TRIES = 8;

/**
 * The go-ahead for the next patch of an execute_patches command. Never a guess: a gateway that cannot
 * be reached (after GO_AHEAD_TRIES, backing off) or says the command is gone (404, 409) is a "no", and
 * the patch and the rest are answered not started.
 */
async function askToStart(ctx: Ctx, command: AgentCommand, start: PatchStart & { index: number; of: number }): Promise<GoAhead> {
  const progress = { message: `starting ${start.kb} (${start.index} of ${start.of})`, percent: Math.round(((start.index - 1) / start.of) * 100), starting: { updateId: start.updateId, kb: start.kb } };
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.client.askToStart(command.id, progress, ctx.signal);
    } catch (err) {
      if (!isTransient(err)) return { proceed: false, reason: NotStartedReason.Withdrawn, message: `the gateway refused the go-ahead: ${describe(err)}` };
      if (ctx.signal.aborted || attempt >= GO_AHEAD_TRIES) return { proceed: false, reason: NotStartedReason.NoGoAhead, message: `no go-ahead from the gateway: ${describe(err)}` };
      ctx.log({ commandId: command.id, kb: start.kb, err: describe(err) }, 'go-ahead not answered; asking again');
      await sleep(ctx.backoff(attempt), ctx.signal).catch(() => undefined);
    }
  }
}

/**
 * Retries network failures until delivered; a 404/409 means the server no longer wants it. The result
 * sits in the outbox until then: when the agent stops meanwhile it gets one last short try (a result
 * finished just before SIGTERM is not lost), and failing that it is posted at the next start.
 * A reboot's acknowledgement is not kept: a restart it no longer leads to must not be announced later.
 */
async function postOutcome(ctx: Ctx, command: Pick<AgentCommand, 'id' | 'type'>, outcome: CommandOutcome): Promise<'delivered' | 'dropped' | 'stopped'> {
  const keep = outcome.status !== 'acknowledged';
  if (keep) ctx.outbox.save({ commandId: command.id, type: command.type, outcome });
  const settle = (how: 'delivered' | 'dropped') => {
    ctx.outbox.remove(command.id);
    return how;
  };
  let lastTry = false;
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal.aborted) {
      if (!keep || lastTry) return 'stopped';
      lastTry = true; // stopping: one last try on a deadline of its own, not on the stop signal
    }
    try {
      await ctx.client.postResult(command.id, outcome, lastTry ? AbortSignal.timeout(FINAL_POST_MS) : ctx.signal);
      ctx.log({ commandId: command.id, type: command.type, status: outcome.status, ...(lastTry ? { whileStopping: true } : {}) }, 'result posted');
      return settle('delivered');
    } catch (err) {
      if (err instanceof GatewayError && (err.status === 404 || err.status === 409)) {
        ctx.log({ commandId: command.id, status: err.status, err: err.message }, 'result not wanted; dropped');
        return settle('dropped');
      }
      if (!isTransient(err)) {
        ctx.log({ commandId: command.id, err: describe(err) }, 'result refused; dropped');
        return settle('dropped');
      }
      if (lastTry) {
        ctx.log({ commandId: command.id, err: describe(err) }, 'agent stops; result kept for the next start');
        return 'stopped';
      }
      if (ctx.signal.aborted) continue;
      ctx.log({ commandId: command.id, err: describe(err), retryInMs: ctx.backoff(attempt) }, 'result not delivered; retrying');
      await sleep(ctx.backoff(attempt), ctx.signal);
    }
  }
}

/** OpenSSL's and Node's names for "this is not the certificate we trust" (node:tls, undici). */
const CERTIFICATE_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/;

function describe(err: unknown): string {
  if (err instanceof GatewayError) return `${err.status} ${err.message}`;
  const e = err as Error & { cause?: { code?: string; message?: string } };
  // The pinned certificate is not what the server presented: nothing was sent. Retried, since the real
  // server may be back (a captive portal, an interception proxy), but said plainly.
  if (e?.cause?.code && CERTIFICATE_ERROR.test(e.cause.code)) return `the server's TLS certificate is not the pinned one (${e.cause.code}); nothing was sent`;
  return e?.cause?.code ? `${e.message} (${e.cause.code})` : String(e?.message ?? err);
}
