import { canonicalJson, generateSigningKeyPair, keyIdOf, NotCanonicalError, publicKeyOf, signValue, verifyValue } from '../../domain/signatures';

describe('canonical JSON', () => {
  it.each([
    ['sorted keys at every depth', { b: 1, a: { d: [1, { z: 0, y: 'x' }], c: null } }, '{"a":{"c":null,"d":[1,{"y":"x","z":0}]},"b":1}'],
    ['undefined members left out', { a: undefined, b: true }, '{"b":true}'],
    ['strings escaped as JSON', { 'k"ey': 'line\nbreak' }, '{"k\\"ey":"line\\nbreak"}'],
    ['empty containers', { a: [], b: {} }, '{"a":[],"b":{}}'],
  ])('%s', (_name, value, text) => {
    expect(canonicalJson(value)).toBe(text);
  });

  it('gives the same text whatever the key order (as jsonb hands it back)', () => {
    expect(canonicalJson({ x: 1, y: [2, 3] })).toBe(canonicalJson(JSON.parse('{"y":[2,3],"x":1}')));
  });

  it.each([
    ['NaN', { a: NaN }, '$.a'],
    ['Infinity', [1, Infinity], '$[1]'],
    ['a Date', { when: new Date(0) }, '$.when'],
    ['a function', { f: () => 1 }, '$.f'],
  ])('refuses %s, naming where', (_name, value, path) => {
    expect(() => canonicalJson(value)).toThrow(NotCanonicalError);
    expect(() => canonicalJson(value)).toThrow(path);
  });
});

describe('Ed25519 over canonical JSON', () => {
  const keys = generateSigningKeyPair();
  const other = generateSigningKeyPair();
  const value = { deviceId: 'd1', seq: 7, payload: { sha256: 'ab'.repeat(32) } };

  it('verifies its own signature, in any key order', () => {
    const sig = signValue(keys.privateKeyPem, value);
    expect(verifyValue(keys.publicKeyPem, value, sig)).toBe(true);
    expect(verifyValue(keys.publicKeyPem, { seq: 7, payload: { sha256: 'ab'.repeat(32) }, deviceId: 'd1' }, sig)).toBe(true);
  });

  it.each([
    ['a changed field', { ...value, seq: 8 }],
    ['an added field', { ...value, extra: 1 }],
    ['a changed nested field', { ...value, payload: { sha256: 'cd'.repeat(32) } }],
  ])('refuses %s', (_name, tampered) => {
    expect(verifyValue(keys.publicKeyPem, tampered, signValue(keys.privateKeyPem, value))).toBe(false);
  });

  it('refuses another key\'s signature, garbage and an empty signature without throwing', () => {
    expect(verifyValue(keys.publicKeyPem, value, signValue(other.privateKeyPem, value))).toBe(false);
    expect(verifyValue(keys.publicKeyPem, value, 'not base64 at all')).toBe(false);
    expect(verifyValue(keys.publicKeyPem, value, '')).toBe(false);
    expect(verifyValue(keys.publicKeyPem, { a: NaN }, signValue(keys.privateKeyPem, value))).toBe(false);
  });

  it('names keys stably and derives the public key from the private one', () => {
    expect(keyIdOf(keys.publicKeyPem)).toMatch(/^[0-9a-f]{16}$/);
    expect(keyIdOf(keys.publicKeyPem)).toBe(keyIdOf(publicKeyOf(keys.privateKeyPem)));
    expect(keyIdOf(keys.publicKeyPem)).not.toBe(keyIdOf(other.publicKeyPem));
  });
});
