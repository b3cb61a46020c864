import { CommandTrust } from '../../agent/command-trust';
import { signCommand, type PinnedCommandKey } from '../../domain/command-envelope';
import type { AgentCommand } from '../../domain/device-protocol';
import { generateSigningKeyPair, keyIdOf } from '../../domain/signatures';

const key = generateSigningKeyPair();
const pinned: PinnedCommandKey = { keyId: keyIdOf(key.publicKeyPem), publicKey: key.publicKeyPem };
const NOW = Date.parse('2024-03-12T18:00:00.000Z');
const DEVICE = '3f1c2d4e-0000-4000-8000-000000000001';

function signed(id: string, sequence: number, issuedAtMs = NOW): AgentCommand {
  const command: AgentCommand<'scan'> = { id, type: 'scan', attempt: 1, payload: { reason: 'test' } };
  return { ...command, signature: signCommand(key.privateKeyPem, pinned.keyId, command, { deviceId: DEVICE, sequence, issuedAtMs, expiresAtMs: NOW + 60_000 }) };
}

/** Redelivery (issue 18.2): the gateway offers a claimed command again, as the very envelope it stored. */
const table: { name: string; first: AgentCommand; second: AgentCommand; expected: string }[] = [
  { name: 'the same envelope again (the poll reply may have been lost): admitted as a redelivery', first: signed('a', 7), second: signed('a', 7), expected: 'redelivery' },
  { name: 'another command id with a used sequence: a replay', first: signed('a', 7), second: signed('b', 7), expected: 'replayed' },
  { name: 'the same id and sequence, signed again with another issued-at: a replay', first: signed('a', 7), second: signed('a', 7, NOW + 1_000), expected: 'replayed' },
  { name: 'the same id with a fresh sequence (the next attempt): admitted', first: signed('a', 7), second: signed('a', 8), expected: 'admitted' },
];

test.each(table)('$name', ({ first, second, expected }) => {
  const trust = new CommandTrust(DEVICE, [pinned], () => NOW);
  expect(trust.admit(first)).toEqual({ ok: true });
  const verdict = trust.admit(second);
  const got = verdict.ok ? (verdict.redelivery ? 'redelivery' : 'admitted') : verdict.reason;
  expect(got).toBe(expected);
});
