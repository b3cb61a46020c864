import fs from 'node:fs';
import path from 'node:path';
import { SIMULATOR_FEED_ID, simulatorCatalogFeed, writeCatalogFeed } from '../agent/catalog-feed';
import type { Config } from '../config/config';
import { generateSigningKeyPair } from '../domain/signatures';

/**
 * Development's catalog feed: the simulated Microsoft catalog (agent/catalog.ts), signed with a dev feed
 * key that lives under DATA_DIR (private key mode 0600, generated on the first start), written to
 * DATA_DIR/catalog-feed.json. Returns the configuration that pins its public key, so the server trusts
 * this feed exactly as it would trust a real one. A configured CATALOG_FEED_URL is left alone.
 */
export function publishDevCatalogFeed(config: Config): Config {
  if (config.CATALOG_FEED_URL) return config;
  const dir = path.resolve(config.DATA_DIR);
  fs.mkdirSync(dir, { recursive: true });
  const privateFile = path.join(dir, 'catalog-feed-key.pem');
  const publicFile = path.join(dir, 'catalog-feed-key.pub.pem');
  if (!fs.existsSync(privateFile) || !fs.existsSync(publicFile)) {
    const pair = generateSigningKeyPair();
    fs.writeFileSync(privateFile, pair.privateKeyPem, { mode: 0o600 });
    fs.writeFileSync(publicFile, pair.publicKeyPem);
  }
  const url = writeCatalogFeed(path.join(dir, 'catalog-feed.json'), simulatorCatalogFeed(fs.readFileSync(privateFile, 'utf8')));
  return { ...config, CATALOG_FEED_URL: url, CATALOG_FEED_PUBLIC_KEY_PATH: publicFile, CATALOG_FEED_ID: SIMULATOR_FEED_ID };
}
