import {
  problemWithKeyList,
  refusalError,
  SequenceWindow,
  verifyCommand,
  type PinnedCommandKey,
  type RefusalReason,
} from '../domain/command-envelope';
import type { AgentCommand, CommandOutcome, TrustKeysPayload } from '../domain/device-protocol';
import { CommandErrorCode } from '../domain/device-protocol';

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
  admit(command: AgentCommand): { ok: true } | { ok: false; reason: RefusalReason; outcome: CommandOutcome } {
    const verdict = verifyCommand(command, { deviceId: this.deviceId, keys: this.pinned, sequences: this.sequences, now: this.now() });
    if (!verdict.ok) return { ok: false, reason: verdict.reason, outcome: { status: 'failed', error: refusalError(verdict.reason, verdict.detail) } };
    this.sequences.accept(command.signature!.sequence);
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
