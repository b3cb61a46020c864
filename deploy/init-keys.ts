/**
 * docker-compose's one-shot `patchflow-keys` service: makes the keys the API and worker need, once, on
 * their volumes, and exits 0. Idempotent: an existing key is never replaced (agents pin it).
 *
 * - /keys/private/command-signing-key.pem (0600): the worker signs agent commands with it.
 * - /keys/public/command-signing-key.pub.pem: its public half, all the API/gateway is given.
 * - /keys/public/catalog-feed.pub.pem: the catalog feed key the server pins. With CATALOG_FEED_URL set,
 *   it is CATALOG_FEED_PUBLIC_KEY (the PEM text of the real feed's key); without, a demo feed key is made
 *   (/keys/private/catalog-feed-key.pem) and the simulator's catalog is published, signed with it, as
 *   /keys/public/catalog-feed.json, as `npm start` does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { simulatorCatalogFeed, writeCatalogFeed } from '../agent/catalog-feed';
import { ensureDevSigningKey, readCommandKey } from '../config/command-keys';
import { generateSigningKeyPair, keyIdOf } from '../domain/signatures';

const PRIVATE_DIR = process.env.KEYS_PRIVATE_DIR ?? '/keys/private';
const PUBLIC_DIR = process.env.KEYS_PUBLIC_DIR ?? '/keys/public';

function main(): void {
  fs.mkdirSync(PRIVATE_DIR, { recursive: true, mode: 0o700 });
  fs.mkdirSync(PUBLIC_DIR, { recursive: true });

  const commandKeyFile = ensureDevSigningKey(path.join(PRIVATE_DIR, 'command-signing-key.pem'));
  const commandKey = readCommandKey(commandKeyFile, 'command signing key');
  fs.writeFileSync(path.join(PUBLIC_DIR, 'command-signing-key.pub.pem'), commandKey.publicKey);
  say(`command signing key ${commandKey.keyId}`);

  const feedPublic = path.join(PUBLIC_DIR, 'catalog-feed.pub.pem');
  if (process.env.CATALOG_FEED_URL) {
    const pem = process.env.CATALOG_FEED_PUBLIC_KEY;
    if (!pem) throw new Error('CATALOG_FEED_URL is set: set CATALOG_FEED_PUBLIC_KEY to the PEM text of the feed\'s Ed25519 public key');
    const keys = pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
    if (keys.length === 0) throw new Error('CATALOG_FEED_PUBLIC_KEY holds no PEM public key');
    for (const k of keys) keyIdOf(k); // throws naming the key type when it is not Ed25519
    fs.writeFileSync(feedPublic, `${keys.join('\n')}\n`);
    say(`catalog feed ${process.env.CATALOG_FEED_URL}: pinned ${keys.map(keyIdOf).join(', ')}`);
    return;
  }
  // No real feed configured: the simulator's catalog as a signed demo feed, so the stack has a catalog.
  const feedPrivate = path.join(PRIVATE_DIR, 'catalog-feed-key.pem');
  if (!fs.existsSync(feedPrivate)) fs.writeFileSync(feedPrivate, generateSigningKeyPair().privateKeyPem, { mode: 0o600, flag: 'wx' });
  const privatePem = fs.readFileSync(feedPrivate, 'utf8');
  const publicPem = createPublicKey(createPrivateKey(privatePem)).export({ type: 'spki', format: 'pem' }).toString();
  fs.writeFileSync(feedPublic, publicPem);
  const url = writeCatalogFeed(path.join(PUBLIC_DIR, 'catalog-feed.json'), simulatorCatalogFeed(privatePem));
  say(`no CATALOG_FEED_URL: published the simulator's catalog as a demo feed at ${url}, key ${keyIdOf(publicPem)}`);
}

function say(msg: string): void {
  process.stdout.write(`patchflow-keys: ${msg}\n`);
}

try {
  main();
} catch (err) {
  process.stderr.write(`patchflow-keys failed: ${(err as Error).message}\n`);
  process.exit(1);
}
