/**
 * The signed command envelope: what the worker signs when it records an attempt of a device step, and
 * what the agent checks before it lets anything run. One module for both sides, so signer and verifier
 * can never disagree about which fields are covered. Computation only, no I/O.
 *
 * Covered by the signature (Ed25519 over canonical JSON, domain/signatures.ts): device id, command id,
 * type, payload, issued-at, expiry, the per-device sequence and the signing key's id. Not covered: the
 * delivery's `attempt`, which is informational (the journal keys on the id).
 */
import type { AgentCommand, CommandError, CommandSignature } from './device-protocol';
import { CommandErrorCode } from './device-protocol';
import { keyIdOf, signValue, verifyValue, type CanonicalValue } from './signatures';
import type { KeyObject } from 'node:crypto';

/** A public key an agent pins, named by its id (`keyIdOf`). */
export interface PinnedCommandKey {
  keyId: string;
  /** SPKI PEM */
  publicKey: string;
}

/**
 * How far the agent's clock may be ahead of the signer's before an envelope counts as expired. Windows
 * time service keeps domain members within seconds, but a workgroup machine syncing weekly with
 * time.windows.com can drift a minute or more; two minutes refuses nothing legitimate and still bounds a
 * replay of an intercepted envelope to its attempt plus two minutes.
 */
export const CLOCK_SKEW_MS = 2 * 60_000;

/**
 * Shortest life of an envelope. An envelope lives as long as its attempt (the activity's start-to-close
 * timeout): once the attempt times out the server re-offers the step with a fresh envelope, so a longer
 * life buys nothing. The floor covers attempts shorter than a loaded gateway's delivery (tests use 4 s).
 */
export const MIN_COMMAND_LIFETIME_MS = 60_000;

/** When an envelope issued at `issuedAtMs` for an attempt of `attemptTimeoutMs` expires. */
export function commandExpiry(issuedAtMs: number, attemptTimeoutMs: number): number {
  return issuedAtMs + Math.max(attemptTimeoutMs || 0, MIN_COMMAND_LIFETIME_MS);
}

/** Why an agent refused a command; the text follows "refused by the device: ". */
export const RefusalReason = {
  /** no signature at all */
  Unsigned: 'unsigned',
  /** the signature does not match the fields as delivered (altered in the database or in transit) */
  BadSignature: 'bad signature',
  /** signed by a key the agent has not pinned */
  UnknownKey: 'unknown key',
  /** past its expiry (beyond the allowed clock skew): the next attempt is signed afresh */
  Expired: 'expired',
  /** a sequence number this agent has already accepted, or below its low-water mark */
  Replayed: 'replayed',
  /** signed for another device */
  WrongDevice: 'wrong device',
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];

/** The exact value that is signed for a command; `keyId` is part of it, so a key cannot be swapped. */
export function signedValueOf(command: Pick<AgentCommand, 'id' | 'type' | 'payload'>, s: Omit<CommandSignature, 'signature'>): CanonicalValue {
  return {
    commandId: command.id,
    type: command.type,
    payload: command.payload as unknown as CanonicalValue,
    deviceId: s.deviceId,
    sequence: s.sequence,
    issuedAt: s.issuedAt,
    expiresAt: s.expiresAt,
    keyId: s.keyId,
  };
}

/** Signs one attempt of a command with `privateKey`, whose public key has id `keyId`. */
export function signCommand(
  privateKey: string | KeyObject,
  keyId: string,
  command: Pick<AgentCommand, 'id' | 'type' | 'payload'>,
  fields: { deviceId: string; sequence: number; issuedAtMs: number; expiresAtMs: number },
): CommandSignature {
  const unsigned = {
    deviceId: fields.deviceId,
    sequence: fields.sequence,
    issuedAt: new Date(fields.issuedAtMs).toISOString(),
    expiresAt: new Date(fields.expiresAtMs).toISOString(),
    keyId,
  };
  return { ...unsigned, signature: signValue(privateKey, signedValueOf(command, unsigned)) };
}

/**
 * The sequence numbers an agent has accepted. The server's sequence only grows, but one poll can
 * deliver several commands in any order and two steps recorded at once can arrive out of order, so
 * "greater than the last one" would refuse legitimate commands: instead every accepted number is
 * remembered, and only the oldest are forgotten (raising the low-water mark) once `capacity` is reached.
 */
export class SequenceWindow {
  private readonly seen = new Set<number>();
  private low: number;

  constructor(private readonly capacity = 4096, lowWaterMark = 0) {
    this.low = lowWaterMark;
  }

  /** Every sequence at or below this is refused. */
  get lowWaterMark(): number {
    return this.low;
  }

  /** Already accepted, or too old to tell. */
  isReplay(sequence: number): boolean {
    return sequence <= this.low || this.seen.has(sequence);
  }

  accept(sequence: number): void {
    this.seen.add(sequence);
    if (this.seen.size <= this.capacity) return;
    const oldest = Math.min(...this.seen);
    this.seen.delete(oldest);
    this.low = Math.max(this.low, oldest);
  }
}

export type Verdict = { ok: true } | { ok: false; reason: RefusalReason; detail: string };

export interface VerifyContext {
  /** the agent's own device id */
  deviceId: string;
  keys: readonly PinnedCommandKey[];
  sequences: SequenceWindow;
  /** the agent's clock, ms since the epoch */
  now: number;
  skewMs?: number;
}

/**
 * Checks a delivered command, in the order that makes each reason true: nothing but the signature is
 * trusted until the signature verifies, so "wrong device", "expired" and "replayed" are only said of
 * fields the server really signed. Does not record the sequence: call `sequences.accept` once the
 * command is taken.
 */
export function verifyCommand(command: AgentCommand, ctx: VerifyContext): Verdict {
  const s = command.signature;
  const refuse = (reason: RefusalReason, detail: string): Verdict => ({ ok: false, reason, detail });
  if (!s || typeof s !== 'object' || typeof s.signature !== 'string' || !s.signature) return refuse(RefusalReason.Unsigned, 'the command carries no signature');
  const key = ctx.keys.find((k) => k.keyId === s.keyId);
  if (!key) return refuse(RefusalReason.UnknownKey, `signed by key ${String(s.keyId)}, pinned: ${ctx.keys.map((k) => k.keyId).join(', ') || 'none'}`);
  const { signature, ...fields } = s;
  if (typeof fields.sequence !== 'number' || typeof fields.issuedAt !== 'string' || typeof fields.expiresAt !== 'string'
    || !verifyValue(key.publicKey, signedValueOf(command, fields), signature)) {
    return refuse(RefusalReason.BadSignature, `the signature of key ${key.keyId} does not match the command as delivered`);
  }
  if (fields.deviceId !== ctx.deviceId) return refuse(RefusalReason.WrongDevice, `signed for device ${fields.deviceId}, this is ${ctx.deviceId}`);
  const expiresAt = Date.parse(fields.expiresAt);
  if (!Number.isFinite(expiresAt) || ctx.now > expiresAt + (ctx.skewMs ?? CLOCK_SKEW_MS)) {
    return refuse(RefusalReason.Expired, `expired at ${fields.expiresAt}, the device's clock says ${new Date(ctx.now).toISOString()}`);
  }
  if (ctx.sequences.isReplay(fields.sequence)) {
    return refuse(RefusalReason.Replayed, `sequence ${fields.sequence} was already accepted (low-water mark ${ctx.sequences.lowWaterMark})`);
  }
  return { ok: true };
}

/**
 * The failed outcome an agent posts for a refused command. Only "expired" is retryable: the next
 * attempt is signed afresh. The others would be refused again, so the step ends.
 */
export function refusalError(reason: RefusalReason, detail: string): CommandError {
  return { code: CommandErrorCode.CommandRefused, message: `refused by the device: ${reason} (${detail})`, retryable: reason === RefusalReason.Expired };
}

/** The reason of a refusal message built by `refusalError`, if it is one. */
export function refusalReasonOf(message: string): RefusalReason | undefined {
  const m = /^refused by the device: ([a-z ]+?)(?: \(|$)/.exec(message);
  const reason = m?.[1];
  return (Object.values(RefusalReason) as string[]).includes(reason ?? '') ? (reason as RefusalReason) : undefined;
}

/**
 * Checks a key list offered by a trust_keys command: non-empty, each key Ed25519 and named by its own
 * id. Returns the problem, or undefined when the list can be pinned.
 */
export function problemWithKeyList(keys: unknown): string | undefined {
  if (!Array.isArray(keys) || keys.length === 0) return 'the key list is empty';
  for (const k of keys as PinnedCommandKey[]) {
    try {
      if (keyIdOf(k.publicKey) !== k.keyId) return `key ${String(k.keyId)} is not named by its own id`;
    } catch {
      return `key ${String(k?.keyId)} is not an Ed25519 public key`;
    }
  }
  return undefined;
}
