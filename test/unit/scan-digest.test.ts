import { scanFingerprint } from '../../domain/scan-digest';

describe('scan fingerprint', () => {
  const a = { updateId: 'a', revision: 1, installed: false };
  const b = { updateId: 'b', revision: 7, installed: true };

  test('order does not matter', () => {
    expect(scanFingerprint([a, b])).toBe(scanFingerprint([b, a]));
  });

  test('a change of installed state, revision or membership changes it', () => {
    const base = scanFingerprint([a, b]);
    expect(scanFingerprint([{ ...a, installed: true }, b])).not.toBe(base);
    expect(scanFingerprint([{ ...a, revision: 2 }, b])).not.toBe(base);
    expect(scanFingerprint([a])).not.toBe(base);
  });
});
