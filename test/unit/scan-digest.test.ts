import { diffAgainstCatalog, scanFingerprint } from '../../domain/scan-digest';

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

describe('diff against the catalog', () => {
  test('new, revised and known updates are told apart', () => {
    const known = new Map([['known', 3], ['revised', 3]]);
    const diff = diffAgainstCatalog(
      [{ updateId: 'known', revision: 3 }, { updateId: 'revised', revision: 4 }, { updateId: 'new', revision: 1 }],
      known,
    );
    expect(diff).toEqual({ newUpdateIds: ['new'], revisedUpdateIds: ['revised'] });
  });

  test('an older revision than the catalog has is not a revision change', () => {
    expect(diffAgainstCatalog([{ updateId: 'x', revision: 2 }], new Map([['x', 5]]))).toEqual({ newUpdateIds: [], revisedUpdateIds: [] });
  });
});
