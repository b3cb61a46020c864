/**
 * Ed25519 signatures over canonical JSON: the one primitive behind every trust decision in Patchflow
 * (the catalog feed a server accepts, the commands an agent accepts). Computation only, no I/O: key
 * files are read by the callers (config, agent), never here.
 *
 * Why canonical JSON: a signature covers bytes, but the signed things travel as JSON through Postgres
 * jsonb (which reorders keys) and HTTP. Signer and verifier therefore each rebuild the same bytes from
 * the value: object keys sorted by code point, no whitespace, no `undefined`, finite numbers only.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** A JSON value that canonicalises unambiguously. */
export type CanonicalValue = null | boolean | number | string | CanonicalValue[] | { [key: string]: CanonicalValue | undefined };

/** Thrown when a value cannot be signed because it has no single canonical form. */
export class NotCanonicalError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.name = 'NotCanonicalError';
  }
}

/**
 * The canonical JSON text of `value`. Object members whose value is `undefined` are left out (as
 * JSON.stringify does), so an optional field that is absent and one that is `undefined` sign alike.
 */
export function canonicalJson(value: unknown, path = '$'): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new NotCanonicalError(path, 'numbers must be finite');
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v, i) => canonicalJson(v ?? null, `${path}[${i}]`)).join(',')}]`;
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new NotCanonicalError(path, 'only plain objects can be signed');
      const entries = Object.keys(value as object)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], `${path}.${k}`)}`);
      return `{${entries.join(',')}}`;
    }
    default:
      throw new NotCanonicalError(path, `a ${typeof value} cannot be signed`);
  }
}

/** A key pair in PEM (PKCS#8 private, SPKI public), as stored on disk and pinned by agents. */
export interface SigningKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export function generateSigningKeyPair(): SigningKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function asPrivateKey(key: string | KeyObject): KeyObject {
  const k = typeof key === 'string' ? createPrivateKey(key) : key;
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`signing key is ${k.asymmetricKeyType ?? k.type}, not Ed25519`);
  return k;
}

function asPublicKey(key: string | KeyObject): KeyObject {
  const k = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  if (k.asymmetricKeyType !== 'ed25519') throw new Error(`public key is ${k.asymmetricKeyType ?? k.type}, not Ed25519`);
  return k;
}

/** The public key (PEM) of a private key. */
export function publicKeyOf(privateKey: string | KeyObject): string {
  return createPublicKey(asPrivateKey(privateKey)).export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * A short, stable name for a public key: the first 16 hex digits of the SHA-256 of its DER encoding.
 * Signatures name the key they were made with, so a verifier holding two keys (rotation) picks one.
 */
export function keyIdOf(publicKey: string | KeyObject): string {
  const der = asPublicKey(publicKey).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 16);
}

/** Signs the canonical form of `value`; the signature is base64. */
export function signValue(privateKey: string | KeyObject, value: unknown): string {
  return sign(null, Buffer.from(canonicalJson(value), 'utf8'), asPrivateKey(privateKey)).toString('base64');
}

/**
 * True when `signature` (base64) is `publicKey`'s signature over the canonical form of `value`.
 * Never throws for a bad signature or a value that cannot be canonicalised: both are simply false.
 */
export function verifyValue(publicKey: string | KeyObject, value: unknown, signature: string): boolean {
  let message: Buffer;
  try {
    message = Buffer.from(canonicalJson(value), 'utf8');
  } catch {
    return false;
  }
  if (typeof signature !== 'string' || !/^[A-Za-z0-9+/]{86}==$/.test(signature)) return false;
  return verify(null, message, asPublicKey(publicKey), Buffer.from(signature, 'base64'));
}
