import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { CommandErrorCode, type CommandError } from '../domain/device-protocol';

export interface VerifiedDownload {
  url: string;
  /** local path to write; none: the bytes are only counted and hashed (a Patch Test stages nothing) */
  file?: string;
  /** shown in messages: the Windows path */
  shownAs: string;
  sizeBytes: number;
  sha256: string;
  fetch: typeof fetch;
  /** another way to the same file (the Patchflow cache over the gateway): used instead of fetch(url) */
  open?: (signal?: AbortSignal) => Promise<Response>;
  /** what messages call the place asked, when it is not `url` (e.g. "the Patchflow cache") */
  shownSource?: string;
  signal?: AbortSignal;
  onProgress?: (progress: { message: string; percent?: number }) => void;
}

/**
 * Fetches a catalog file and checks it on the way in: never more bytes than the catalog's size (a
 * larger body is cut off and refused), then exactly that size and the catalog's SHA-256. A file that
 * fails is deleted, so nothing unchecked is left where the copy step could pick it up.
 */
export async function downloadVerified(d: VerifiedDownload): Promise<{ ok: true; sha256: string; bytes: number } | { ok: false; error: CommandError; sha256?: string }> {
  const fail = async (code: string, message: string, retryable: boolean) => {
    if (d.file) await rm(d.file, { force: true });
    return { ok: false as const, error: { code, message, retryable } };
  };
  let url: URL;
  try {
    url = new URL(d.url);
  } catch {
    return fail(CommandErrorCode.DownloadFailed, `"${d.url}" is not a URL`, false);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail(CommandErrorCode.DownloadFailed, `${url.protocol} URLs are not downloaded; only http(s)`, false);

  const where = d.shownSource ?? d.url;
  let response: Response;
  try {
    response = d.open ? await d.open(d.signal) : await d.fetch(url, { signal: d.signal, redirect: 'follow' });
  } catch (err) {
    return fail(CommandErrorCode.DownloadFailed, `GET ${where} failed: ${(err as Error).message}`, true);
  }
  if (!response.ok || !response.body) {
    // 4xx will not change on a retry; 5xx and the like may.
    return fail(CommandErrorCode.DownloadFailed, `GET ${where} answered ${response.status} ${response.statusText}`, response.status >= 500 || response.status === 429);
  }
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > d.sizeBytes) {
    await response.body.cancel();
    return fail(CommandErrorCode.HashMismatch, `GET ${where} announces ${declared} bytes, the catalog says ${d.sizeBytes}; not downloaded`, false);
  }

  if (d.file) await mkdir(path.dirname(d.file), { recursive: true });
  const hash = createHash('sha256');
  const out = d.file ? createWriteStream(d.file, { mode: 0o600 }) : undefined;
  let bytes = 0;
  let tooLong = false;
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > d.sizeBytes) {
        tooLong = true;
        await reader.cancel();
        break;
      }
      hash.update(value);
      if (out && !out.write(value)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    if (out) await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    out?.destroy();
    return fail(CommandErrorCode.DownloadFailed, `GET ${where} broke off after ${bytes} bytes: ${(err as Error).message}`, true);
  }
  const deleted = d.file ? '; deleted' : '';
  if (tooLong) return fail(CommandErrorCode.HashMismatch, `${d.shownAs} grew past the catalog's ${d.sizeBytes} bytes${d.file ? '; deleted, not executed' : ''}`, false);
  if (bytes < d.sizeBytes) return fail(CommandErrorCode.DownloadFailed, `${d.shownAs} ended after ${bytes} of ${d.sizeBytes} bytes${deleted}`, true);
  const actual = hash.digest('hex');
  const expected = d.sha256.toLowerCase();
  // The hash it did have goes with the failure: a Patch Test reports what the source served.
  if (actual !== expected) return { ...(await fail(CommandErrorCode.HashMismatch, `SHA-256 of ${d.shownAs} is ${actual}, catalog says ${expected}${deleted}`, false)), sha256: actual };
  if (d.file) d.onProgress?.({ message: `downloaded ${path.basename(d.file)}, size and SHA-256 verified`, percent: 100 });
  return { ok: true, sha256: actual, bytes };
}
