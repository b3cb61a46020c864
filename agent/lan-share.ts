/**
 * The LAN share file source, as the simulator models it: one folder per site (under the simulator's data
 * directory) that every device of the site reads, and that one device per file fills. Files are named by
 * the catalog's SHA-256, like the Patchflow cache, so a file can only be found under the hash it has.
 *
 * Who fills: the first device to claim `<sha256>.filler` (created exclusively) after it has the file from
 * another source writes it to a temporary name and renames it into place, so a reader never sees half a
 * file. The others read it once it is there, and fall back (cache, then internet, as the site allows)
 * while it is not. A reader checks the hash itself: a damaged share file is a hash mismatch from
 * lan-share and the next source is tried.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class LanShare {
  constructor(readonly dir: string) {}

  private pathOf(sha256: string): string {
    // The hash comes from a signed command, but it names a file: never let it be a path.
    if (!SHA256_HEX.test(sha256)) throw new Error('the LAN share names files by lower-case SHA-256 only');
    return path.join(this.dir, sha256);
  }

  /** The share's copy of the file, or an error saying it is not there yet. */
  async read(sha256: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${sha256} is not on the LAN share ${this.dir} yet`, { cause: err });
      throw err;
    }
  }

  /**
   * Puts verified bytes on the share when this device is the one that fills it (it claims the file
   * first); false when another device has claimed it.
   */
  async fill(sha256: string, bytes: Buffer): Promise<boolean> {
    const target = this.pathOf(sha256);
    await mkdir(this.dir, { recursive: true });
    try {
      const claim = await open(`${target}.filler`, 'wx');
      await claim.close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    const tmp = path.join(this.dir, `.tmp-${randomUUID()}`);
    await writeFile(tmp, bytes);
    await rename(tmp, target);
    return true;
  }
}
