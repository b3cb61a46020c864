import {
  problemWithKeyList,
  refusalError,
  SequenceWindow,
  verifyCommand,
  RefusalReason,
  type PinnedCommandKey,
} from '../domain/command-envelope';
import type { AgentCommand, CommandOutcome, TrustKeysPayload } from '../domain/device-protocol';
import { CommandErrorCode } from '../domain/device-protocol';

/** as many as the sequence window remembers (domain/command-envelope.ts SequenceWindow) */
const ENVELOPES_KEPT = 4096;

/** What makes an envelope this very one: the signature covers everything else (id, type, payload, sequence). */
const envelopeKey = (command: AgentCommand): string => `${command.id}\n${command.signature!.signature}`;

/**
 * What an agent trusts: its own device id, the command keys it pinned at enrollment (or from a
 * trust_keys command since), and the sequence numbers it has accepted. A real agent keeps this beside
 * its credential on disk; the simulated one keeps the keys with its saved credential and the sequence
 * window in memory for as long as it runs (an envelope outlives its attempt by minutes at most, so a
 * restarted agent is exposed only to envelopes that are still unexpired).
 */
export class CommandTrust {
  private pinned: PinnedCommandKey[];
  private readonly sequences = new SequenceWindow();
  /** sequence → the accepted envelope's command id and signature, to tell a redelivery from a replay */
  private readonly acceptedEnvelopes = new Map<number, string>();

  constructor(readonly deviceId: string, keys: readonly PinnedCommandKey[], private readonly now: () => number = Date.now) {
    this.pinned = [...keys];
  }

  get keys(): PinnedCommandKey[] {
    return [...this.pinned];
  }

  /**
   * Decides, before anything runs (before the journal answers), whether `command` may run. Accepted:
   * its sequence is remembered, so the same envelope delivered again is refused as replayed.
   */
  admit(command: AgentCommand): { ok: true; redelivery?: true } | { ok: false; reason: RefusalReason; outcome: CommandOutcome } {
    const verdict = verifyCommand(command, { deviceId: this.deviceId, keys: this.pinned, sequences: this.sequences, now: this.now() });
    if (!verdict.ok) {
      // The gateway offers a claimed command again when the poll reply may have been lost (its claim
      // lease ran out, or the agent restarted). It cannot re-sign, so the envelope is the very one this
      // agent accepted: same id, same sequence, same signature. Admitted again; the journal then answers
      // it if it has run, so nothing runs twice. Any other envelope with a used sequence stays a replay.
      if (verdict.reason === RefusalReason.Replayed && this.acceptedEnvelopes.get(command.signature!.sequence) === envelopeKey(command)) {
        return { ok: true, redelivery: true };
      }
      return { ok: false, reason: verdict.reason, outcome: { status: 'failed', error: refusalError(verdict.reason, verdict.detail) } };
    }
    this.sequences.accept(command.signature!.sequence);
    this.acceptedEnvelopes.set(command.signature!.sequence, envelopeKey(command));
    // As bounded as the sequence window: the oldest envelopes are forgotten first.
    if (this.acceptedEnvelopes.size > ENVELOPES_KEPT) this.acceptedEnvelopes.delete(this.acceptedEnvelopes.keys().next().value!);
    return { ok: true };
  }

  /** Runs an (admitted) trust_keys command: pins exactly the list it carries. */
  trustKeys(payload: TrustKeysPayload): CommandOutcome {
    const problem = problemWithKeyList(payload?.keys);
    if (problem) return { status: 'failed', error: { code: CommandErrorCode.CommandRefused, message: `refused by the device: bad key list (${problem})`, retryable: false } };
    this.pinned = payload.keys.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey }));
    return { status: 'succeeded', result: { keyIds: this.pinned.map((k) => k.keyId) } };
  }
}
