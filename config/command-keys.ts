/**
 * The command signing keys, read once at startup from the PEM files the configuration names. The worker
 * signs with `current`; `next` (during a rotation) is only announced to agents. The API/gateway process
 * only announces keys, so it may be given public key files and never hold a private key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import type { PinnedCommandKey } from '../domain/command-envelope';
import { generateSigningKeyPair, keyIdOf } from '../domain/signatures';

export interface CommandKey {
  keyId: string;
  publicKey: string;
  /** absent when the file held only the public key (a gateway that announces but never signs) */
  privateKey?: KeyObject;
}

export interface CommandKeyring {
  /** signs every command */
  current: CommandKey;
  /** announced to agents so that they pin it before it signs anything */
  next?: CommandKey;
}

/** Reads one PEM file: a PKCS#8 Ed25519 private key, or an SPKI public key. Fails naming the variable. */
export function readCommandKey(file: string, variable: string): CommandKey {
  let pem: string;
  try {
    pem = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${variable}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const isPrivate = pem.includes('PRIVATE KEY');
    const privateKey = isPrivate ? createPrivateKey(pem) : undefined;
    const publicKeyObject = privateKey ? createPublicKey(privateKey) : createPublicKey(pem);
    if (publicKeyObject.asymmetricKeyType !== 'ed25519') throw new Error(`is ${publicKeyObject.asymmetricKeyType}, not Ed25519`);
    const publicKey = publicKeyObject.export({ type: 'spki', format: 'pem' }).toString();
    return { keyId: keyIdOf(publicKey), publicKey, privateKey };
  } catch (err) {
    // The message never includes the file's content: it is a secret.
    throw new Error(`${variable}: ${file} is not an Ed25519 key in PEM (${(err as Error).message})`, { cause: err });
  }
}

/** The keyring the configuration names; `requirePrivate` for the worker, which signs. */
export function loadCommandKeys(
  config: { COMMAND_SIGNING_KEY_PATH?: string; COMMAND_SIGNING_NEXT_KEY_PATH?: string },
  options: { requirePrivate: boolean },
): CommandKeyring {
  if (!config.COMMAND_SIGNING_KEY_PATH) throw new Error('COMMAND_SIGNING_KEY_PATH is required (PEM file of the Ed25519 command signing key)');
  const current = readCommandKey(config.COMMAND_SIGNING_KEY_PATH, 'COMMAND_SIGNING_KEY_PATH');
  if (options.requirePrivate && !current.privateKey) throw new Error('COMMAND_SIGNING_KEY_PATH: the worker signs commands and needs the private key, not the public one');
  const next = config.COMMAND_SIGNING_NEXT_KEY_PATH ? readCommandKey(config.COMMAND_SIGNING_NEXT_KEY_PATH, 'COMMAND_SIGNING_NEXT_KEY_PATH') : undefined;
  if (next && next.keyId === current.keyId) throw new Error('COMMAND_SIGNING_NEXT_KEY_PATH names the same key as COMMAND_SIGNING_KEY_PATH');
  return { current, next };
}

/** Every key an agent should pin: the current one, then the next. */
export function pinnableKeys(ring: CommandKeyring): PinnedCommandKey[] {
  return [ring.current, ...(ring.next ? [ring.next] : [])].map((k) => ({ keyId: k.keyId, publicKey: k.publicKey }));
}

/** A keyring from PEM text held in memory (tests). */
export function keyringFromPem(currentPem: string, nextPem?: string): CommandKeyring {
  const toKey = (pem: string): CommandKey => {
    const privateKey = createPrivateKey(pem);
    const publicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
    return { keyId: keyIdOf(publicKey), publicKey, privateKey };
  };
  return { current: toKey(currentPem), next: nextPem ? toKey(nextPem) : undefined };
}

/**
 * A dev key at `file`, generated when missing (mode 0600: only this user may read it). Returns the
 * path. `npm start` uses it; production keys are made and kept by the operator.
 */
export function ensureDevSigningKey(file: string): string {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, generateSigningKeyPair().privateKeyPem, { mode: 0o600, flag: 'wx' });
  }
  return file;
}
