import fs from 'node:fs';
import type { CatalogFeedSources } from '../activities/catalog-activities';
import type { CatalogConfig } from '../workflows/catalog-sync.contract';
import type { Config } from '../config/config';
import { keyIdOf } from '../domain/signatures';

/** The configured feed (CATALOG_FEED_*): its source with the pinned key (worker), and its schedule (API). */
export function catalogFeedsOf(config: Pick<Config, 'CATALOG_FEED_URL' | 'CATALOG_FEED_PUBLIC_KEY_PATH' | 'CATALOG_FEED_ID' | 'CATALOG_SYNC_INTERVAL_MINUTES'>): { sources: CatalogFeedSources; catalog: CatalogConfig } {
  if (!config.CATALOG_FEED_URL || !config.CATALOG_FEED_PUBLIC_KEY_PATH) return { sources: new Map(), catalog: { feeds: [] } };
  const pem = fs.readFileSync(config.CATALOG_FEED_PUBLIC_KEY_PATH, 'utf8');
  // Several keys in one file: the feed key is being rotated, both are trusted meanwhile.
  const keys = pem.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (keys.length === 0) throw new Error(`CATALOG_FEED_PUBLIC_KEY_PATH: ${config.CATALOG_FEED_PUBLIC_KEY_PATH} holds no PEM public key`);
  for (const k of keys) keyIdOf(k); // throws naming the key type when it is not Ed25519
  return {
    sources: new Map([[config.CATALOG_FEED_ID, { url: config.CATALOG_FEED_URL, publicKeysPem: keys }]]),
    catalog: { feeds: [{ feedId: config.CATALOG_FEED_ID, syncIntervalMinutes: config.CATALOG_SYNC_INTERVAL_MINUTES }] },
  };
}
