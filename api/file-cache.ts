/**
 * The Patchflow cache file source (issue 17.1, Kaseya "File Source"): the server fetches each patch file
 * once from its catalog URL, stores it under `<dir>/<sha256>` and serves it to every device that asks.
 *
 * Decisions worth knowing:
 * - Files are named by the catalog's SHA-256, never by URL: the same bytes behind two URLs are one file,
 *   and a file can only be found under the hash it has.
 * - The hash is checked at every hop: a fill whose bytes differ from the catalog's hash is refused and
 *   nothing is kept; every serve re-hashes the stored file first, so a file corrupted on disk is a hash
 *   mismatch, is deleted and is refetched from the origin (the agent checks a third time before running).
 * - One fetch per hash at a time (single flight): fifty devices asking at once cause one origin request.
 * - Bounded by total size and by age, least recently used first. The index lives in memory and is rebuilt
 *   from the folder at start, so a restart keeps the files (their last use becomes the file's mtime).
 * - Fills are written to a temporary name and renamed, so a half-written file is never served.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Thrown when bytes do not hash to the catalog's SHA-256 (origin or disk). */
export class FileHashMismatchError extends Error {
  constructor(readonly expected: string, readonly actual: string, readonly where: 'origin' | 'cache') {
    super(`hash mismatch from ${where}: expected ${expected}, got ${actual}`);
    this.name = 'FileHashMismatchError';
  }
}

export type CacheResult = 'hit' | 'miss' | 'corrupt' | 'refused';

export interface FileCacheOptions {
  dir: string;
  maxBytes: number;
  maxAgeMs: number;
  now?: () => number;
  /** fetches the origin's bytes; defaults to global fetch */
  fetchOrigin?: (url: string) => Promise<Buffer>;
  /** counts each request by result (the hit rate in metrics) */
  onResult?: (result: CacheResult) => void;
}

interface Entry { size: number; storedAt: number; lastUsed: number }

export const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function defaultFetch(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`origin ${url} answered ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export class PatchFileCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly fetchOrigin: (url: string) => Promise<Buffer>;
  private ready: Promise<void> | undefined;

  constructor(private readonly options: FileCacheOptions) {
    this.now = options.now ?? Date.now;
    this.fetchOrigin = options.fetchOrigin ?? defaultFetch;
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.options.dir, { recursive: true });
      for (const name of await readdir(this.options.dir)) {
        if (!SHA256_HEX.test(name)) continue;
        const s = await stat(join(this.options.dir, name));
        this.entries.set(name, { size: s.size, storedAt: s.mtimeMs, lastUsed: s.mtimeMs });
      }
    })();
    return this.ready;
  }

  /** Bytes in the cache, and how many files. */
  usage(): { bytes: number; files: number } {
    let bytes = 0;
    for (const e of this.entries.values()) bytes += e.size;
    return { bytes, files: this.entries.size };
  }

  pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`sha256 must be 64 lowercase hex characters`);
    return join(this.options.dir, sha256);
  }

  /**
   * The verified bytes of the file with this hash, fetching it from `url` if it is not stored (or is stored
   * but no longer hashes right). Throws FileHashMismatchError when the origin serves other bytes.
   */
  async get(sha256: string, url: string): Promise<{ bytes: Buffer; served: 'cache' | 'origin' }> {
    const path = this.pathOf(sha256);
    await this.init();
    await this.expire();
    let result: CacheResult = 'miss';
    if (this.entries.has(sha256) && !this.inFlight.has(sha256)) {
      const actual = await sha256OfFile(path).catch(() => 'unreadable');
      if (actual === sha256) {
        this.touch(sha256);
        this.options.onResult?.('hit');
        return { bytes: await readFile(path), served: 'cache' };
      }
      result = 'corrupt';
      this.entries.delete(sha256);
      await rm(path, { force: true });
    }
    let fill = this.inFlight.get(sha256);
    const filler = !fill;
    if (!fill) {
      fill = this.fill(sha256, url).finally(() => this.inFlight.delete(sha256));
      this.inFlight.set(sha256, fill);
    } else if (result === 'miss') {
      result = 'hit'; // another request is fetching it: this one costs the origin nothing
    }
    try {
      await fill;
    } catch (err) {
      this.options.onResult?.('refused');
      throw err;
    }
    this.options.onResult?.(result);
    const bytes = await readFile(path);
    this.touch(sha256);
    return { bytes, served: filler ? 'origin' : 'cache' };
  }

  private async fill(sha256: string, url: string): Promise<void> {
    const bytes = await this.fetchOrigin(url);
    const actual = sha256Of(bytes);
    if (actual !== sha256) throw new FileHashMismatchError(sha256, actual, 'origin');
    const tmp = join(this.options.dir, `.tmp-${randomUUID()}`);
    await writeFile(tmp, bytes);
    await rename(tmp, this.pathOf(sha256));
    const t = this.now();
    this.entries.set(sha256, { size: bytes.length, storedAt: t, lastUsed: t });
    await this.evict(sha256);
  }

  private touch(sha256: string) {
    const e = this.entries.get(sha256);
    if (e) e.lastUsed = this.now();
  }

  /** Drops entries older than maxAgeMs (by when they were stored). */
  private async expire() {
    const cutoff = this.now() - this.options.maxAgeMs;
    for (const [hash, e] of this.entries) {
      if (e.storedAt < cutoff && !this.inFlight.has(hash)) {
        this.entries.delete(hash);
        await rm(this.pathOf(hash), { force: true });
      }
    }
  }

  /** Least recently used first until the total fits maxBytes; never the file just stored. */
  private async evict(keep: string) {
    let { bytes } = this.usage();
    const byUse = [...this.entries].filter(([h]) => h !== keep).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [hash, e] of byUse) {
      if (bytes <= this.options.maxBytes) break;
      this.entries.delete(hash);
      bytes -= e.size;
      await rm(this.pathOf(hash), { force: true });
    }
  }
}

/**
 * The agent's check, after any source: the bytes it will run must hash to the catalog's SHA-256.
 * Returns the reason to refuse, or undefined.
 */
export function downloadHashProblem(bytes: Buffer, expectedSha256: string, source: string): string | undefined {
  const actual = sha256Of(bytes);
  return actual === expectedSha256.toLowerCase() ? undefined : `hash mismatch from ${source}: expected ${expectedSha256}, got ${actual}`;
}
