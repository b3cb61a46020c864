import {
  CLOCK_SKEW_MS,
  commandExpiry,
  MIN_COMMAND_LIFETIME_MS,
  problemWithKeyList,
  refusalError,
  refusalReasonOf,
  SequenceWindow,
  signCommand,
  verifyCommand,
  type PinnedCommandKey,
} from '../../domain/command-envelope';
import type { AgentCommand, DownloadPayload } from '../../domain/device-protocol';
import { generateSigningKeyPair, keyIdOf } from '../../domain/signatures';

const serverKey = generateSigningKeyPair();
const otherKey = generateSigningKeyPair();
const pinned = (k: { publicKeyPem: string }): PinnedCommandKey => ({ keyId: keyIdOf(k.publicKeyPem), publicKey: k.publicKeyPem });
const NOW = Date.parse('2024-03-12T18:00:00.000Z');
const DEVICE = '3f1c2d4e-0000-4000-8000-000000000001';

const download: AgentCommand<'download'> = {
  id: 'install/dev/run/3',
  type: 'download',
  attempt: 1,
  payload: {
    patch: { updateId: 'u-1', kb: 'KB5034441', fileName: 'kb.msu', downloadUrl: 'https://download.windowsupdate.com/kb.msu', sizeBytes: 1234, sha256: 'a'.repeat(64) },
    workingFolder: 'C:\\ProgramData\\Patchflow\\work',
  },
};

function signed(command: AgentCommand, o: { key?: typeof serverKey; deviceId?: string; sequence?: number; issuedAtMs?: number; expiresAtMs?: number } = {}): AgentCommand {
  const key = o.key ?? serverKey;
  return {
    ...command,
    signature: signCommand(key.privateKeyPem, keyIdOf(key.publicKeyPem), command, {
      deviceId: o.deviceId ?? DEVICE, sequence: o.sequence ?? 7, issuedAtMs: o.issuedAtMs ?? NOW, expiresAtMs: o.expiresAtMs ?? NOW + 60_000,
    }),
  };
}

const seenSeven = () => { const w = new SequenceWindow(); w.accept(7); return w; };

/** One row per refusal reason (and the accepted cases), readable against the list. */
const table: { name: string; command: () => AgentCommand; now?: number; sequences?: () => SequenceWindow; keys?: PinnedCommandKey[]; expected: string }[] = [
  { name: 'a command signed by the pinned key, for this device, in time', command: () => signed(download), expected: 'ok' },
  { name: 'within the allowed clock skew after expiry', command: () => signed(download), now: NOW + 60_000 + CLOCK_SKEW_MS, expected: 'ok' },
  { name: 'no signature at all', command: () => download, expected: 'unsigned' },
  { name: 'an empty signature', command: () => ({ ...signed(download), signature: { ...signed(download).signature!, signature: '' } }), expected: 'unsigned' },
  { name: 'the download URL altered', command: () => { const c = signed(download) as AgentCommand<'download'> & { payload: DownloadPayload }; return { ...c, payload: { ...c.payload, patch: { ...c.payload.patch, downloadUrl: 'http://evil.example/kb.msu' } } }; }, expected: 'bad signature' },
  { name: 'URL and hash altered together', command: () => { const c = signed(download) as AgentCommand<'download'> & { payload: DownloadPayload }; return { ...c, payload: { ...c.payload, patch: { ...c.payload.patch, downloadUrl: 'http://evil.example/kb.msu', sha256: 'b'.repeat(64) } } }; }, expected: 'bad signature' },
  { name: 'the type altered', command: () => ({ ...signed(download), type: 'execute' }), expected: 'bad signature' },
  { name: 'the command id altered', command: () => ({ ...signed(download), id: 'install/dev/run/4' }), expected: 'bad signature' },
  { name: 'the expiry pushed out', command: () => { const c = signed(download); return { ...c, signature: { ...c.signature!, expiresAt: '2099-01-01T00:00:00.000Z' } }; }, expected: 'bad signature' },
  { name: 'the sequence changed (to dodge the replay check)', command: () => { const c = signed(download); return { ...c, signature: { ...c.signature!, sequence: 8 } }; }, expected: 'bad signature' },
  { name: 'the device id changed (to move it to another device)', command: () => { const c = signed(download); return { ...c, signature: { ...c.signature!, deviceId: 'another' } }; }, expected: 'bad signature' },
  { name: 'the key id swapped for another pinned key', command: () => { const c = signed(download); return { ...c, signature: { ...c.signature!, keyId: pinned(otherKey).keyId } }; }, keys: [pinned(serverKey), pinned(otherKey)], expected: 'bad signature' },
  { name: 'signed by a key the agent has not pinned', command: () => signed(download, { key: otherKey }), expected: 'unknown key' },
  { name: 'signed for another device', command: () => signed(download, { deviceId: 'another-device' }), expected: 'wrong device' },
  { name: 'expired beyond the skew', command: () => signed(download), now: NOW + 60_000 + CLOCK_SKEW_MS + 1, expected: 'expired' },
  { name: 'a sequence already accepted', command: () => signed(download, { sequence: 7 }), sequences: seenSeven, expected: 'replayed' },
  { name: 'a lower sequence not yet seen (delivered out of order)', command: () => signed(download, { sequence: 5 }), sequences: seenSeven, expected: 'ok' },
  { name: 'at or below the low-water mark', command: () => signed(download, { sequence: 3 }), sequences: () => new SequenceWindow(10, 3), expected: 'replayed' },
];

describe('verifyCommand', () => {
  test.each(table)('$name → $expected', ({ command, now, sequences, keys, expected }) => {
    const verdict = verifyCommand(command(), { deviceId: DEVICE, keys: keys ?? [pinned(serverKey)], sequences: (sequences ?? (() => new SequenceWindow()))(), now: now ?? NOW });
    expect(verdict.ok ? 'ok' : verdict.reason).toBe(expected);
  });

  it('survives the JSON round trip the command makes through Postgres jsonb and HTTP', () => {
    const c = signed(download);
    const roundTripped = JSON.parse(JSON.stringify({ ...c, payload: Object.fromEntries(Object.entries(c.payload).reverse()) }));
    expect(verifyCommand(roundTripped, { deviceId: DEVICE, keys: [pinned(serverKey)], sequences: new SequenceWindow(), now: NOW })).toEqual({ ok: true });
  });
});

describe('refusals', () => {
  test.each([
    ['bad signature', false], ['unsigned', false], ['unknown key', false], ['wrong device', false], ['replayed', false], ['expired', true],
  ] as const)('%s: message and retryability', (reason, retryable) => {
    const error = refusalError(reason, 'detail');
    expect(error).toEqual({ code: 'CommandRefused', message: `refused by the device: ${reason} (detail)`, retryable });
    expect(refusalReasonOf(error.message)).toBe(reason);
  });
});

describe('SequenceWindow', () => {
  it('forgets the oldest beyond its capacity and refuses at or below the low-water mark', () => {
    const w = new SequenceWindow(3);
    [5, 2, 9, 7].forEach((s) => w.accept(s));
    expect(w.lowWaterMark).toBe(2);
    expect([2, 5, 7, 9, 1, 6, 10].map((s) => w.isReplay(s))).toEqual([true, true, true, true, true, false, false]);
  });
});

describe('commandExpiry', () => {
  it('lives as long as the attempt, never shorter than the floor', () => {
    expect(commandExpiry(NOW, 4_000)).toBe(NOW + MIN_COMMAND_LIFETIME_MS);
    expect(commandExpiry(NOW, 1_800_000)).toBe(NOW + 1_800_000);
  });
});

describe('problemWithKeyList', () => {
  it('accepts keys named by their own ids and refuses anything else', () => {
    expect(problemWithKeyList([pinned(serverKey), pinned(otherKey)])).toBeUndefined();
    expect(problemWithKeyList([])).toMatch(/empty/);
    expect(problemWithKeyList([{ keyId: pinned(otherKey).keyId, publicKey: serverKey.publicKeyPem }])).toMatch(/not named by its own id/);
    expect(problemWithKeyList([{ keyId: 'x', publicKey: 'not a key' }])).toMatch(/not an Ed25519 public key/);
  });
});
