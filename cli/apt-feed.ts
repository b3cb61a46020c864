/**
 * `patchflow catalog build-apt-feed`: the apt feed adapter (domain/catalog-feed.ts' header). Reads a
 * Debian archive's `dists/<suite>/Release` and the `main/binary-<arch>/Packages` files it lists, refuses
 * any Packages file whose SHA-256 or size differs from what Release says, and signs one catalog feed
 * entry per package version (domain/apt.ts `aptFeedEntries`). It runs where the archive is trusted;
 * Patchflow's server verifies the feed's signature with the pinned public key before applying it.
 *
 * Not done here: verifying `InRelease`'s OpenPGP signature with the archive key (run it on a mirror
 * apt has already verified, e.g. after `apt-get update` on the publishing host, or verify with gpgv first).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { aptFeedEntries, releaseSha256s } from '../domain/apt';
import { signCatalogFeed, type CatalogFeed, type CatalogFeedEntry } from '../domain/catalog-feed';

export interface AptFeedBuild {
  /** the archive's top folder (with dists/ and pool/) on this machine */
  repoDir: string;
  suites: string[];
  /** where devices download from: Filename is appended (e.g. http://deb.debian.org/debian) */
  baseUrl: string;
  privateKeyPem: string;
  feedId: string;
  sequence: number;
  /** default: "Debian" + the first suite's Codename */
  product?: string;
  /** default: today */
  publishedAt?: string;
}

export class AptFeedError extends Error {}

export function buildAptFeed(build: AptFeedBuild): { feed: CatalogFeed; refused: string[] } {
  const entries: CatalogFeedEntry[] = [];
  const refused: string[] = [];
  const publishedAt = build.publishedAt ?? new Date().toISOString();
  for (const suite of build.suites) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(suite)) throw new AptFeedError(`"${suite}" is not a suite name`);
    const dists = path.join(build.repoDir, 'dists', suite);
    const releaseFile = path.join(dists, 'Release');
    let releaseText: string;
    try {
      releaseText = fs.readFileSync(releaseFile, 'utf8');
    } catch (err) {
      throw new AptFeedError(`cannot read ${releaseFile}: ${(err as Error).message}`);
    }
    const listed = releaseSha256s(releaseText);
    const packagesFiles = [...listed.keys()].filter((p) => /^[a-z0-9-]+\/binary-[a-z0-9-]+\/Packages$/.test(p));
    if (packagesFiles.length === 0) throw new AptFeedError(`${releaseFile} lists no uncompressed */binary-*/Packages with a SHA256`);
    const codename = /^Codename:\s*(\S+)/m.exec(releaseText)?.[1] ?? suite;
    const product = build.product ?? `Debian (${codename.replace(/-security$|-updates$/, '')})`;
    for (const rel of packagesFiles) {
      const file = path.join(dists, rel);
      const bytes = fs.readFileSync(file);
      const expected = listed.get(rel)!;
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== expected.sha256 || bytes.length !== expected.size) {
        throw new AptFeedError(`${file} does not match ${releaseFile} (SHA-256 ${actual}, ${bytes.length} bytes; Release says ${expected.sha256}, ${expected.size} bytes): refusing to sign it`);
      }
      const r = aptFeedEntries(bytes.toString('utf8'), { suite, baseUrl: build.baseUrl, product, releaseDate: publishedAt.slice(0, 10) });
      entries.push(...r.entries);
      refused.push(...r.refused.map((x) => `${suite}: ${x}`));
    }
  }
  const feed = signCatalogFeed(build.privateKeyPem, { id: build.feedId, sequence: build.sequence, publishedAt, publisher: `build-apt-feed (${build.suites.join(', ')})` }, entries);
  return { feed, refused };
}
