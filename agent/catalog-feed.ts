import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { signCatalogFeed, type CatalogFeed, type CatalogFeedEntry } from '../domain/catalog-feed';
import { CATALOG, type CatalogUpdate } from './catalog';

/** The feed id under which the simulated Microsoft catalog is published (demo and tests). */
export const SIMULATOR_FEED_ID = 'simulated-microsoft-update';
/** Fixed, so that publishing the same catalog again gives the same document (a sync then changes nothing). */
const SIMULATOR_PUBLISHED_AT = '2024-03-12T18:00:00.000Z';

/** A simulated catalog update as a feed entry: what a WSUS-export adapter would produce for it. */
export function feedEntryOf(u: Omit<CatalogUpdate, 'appliesTo'> & { appliesTo?: unknown }): CatalogFeedEntry {
  return {
    updateId: u.updateId, revision: u.revision, kb: u.kb, title: u.title, classification: u.classification,
    product: u.product, severity: u.severity, releaseDate: u.publishedAt, supersededBy: u.supersededBy,
    fileName: u.fileName, sizeBytes: u.sizeBytes, sha256: u.sha256, downloadUrl: u.downloadUrl,
    rebootBehavior: u.rebootBehavior, installType: u.installType, uninstallable: u.uninstallable,
    securityBulletin: u.securityBulletin,
  };
}

/** The simulated Microsoft catalog as a signed feed. */
export function simulatorCatalogFeed(privateKeyPem: string, options: { sequence?: number } = {}): CatalogFeed {
  return signCatalogFeed(
    privateKeyPem,
    { id: SIMULATOR_FEED_ID, sequence: options.sequence ?? 1, publishedAt: SIMULATOR_PUBLISHED_AT, publisher: 'Patchflow simulator (agent/catalog.ts)' },
    CATALOG.map(feedEntryOf),
  );
}

/** Writes a feed document (atomically: a sync never reads half a file) and returns its file:// URL. */
export function writeCatalogFeed(file: string, feed: CatalogFeed): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(feed, null, 2)}\n`);
  fs.renameSync(tmp, file);
  return pathToFileURL(file).toString();
}
