/**
 * Where a device gets its patch files (Kaseya "File Source", seed 003), and the order it falls back in.
 * A policy or site names one primary source and whether falling back is allowed; a download that fails
 * from the LAN share tries the Patchflow cache, then the internet, as far as the policy allows, and the
 * result says which source served it, how fast, and every failure on the way.
 */
export const FileSource = {
  /** the catalog's URL */
  Internet: 'internet',
  /** the server fetches once, stores by SHA-256, serves over the gateway (api/file-cache.ts) */
  Cache: 'cache',
  /** one device per site fills a share, the others read it */
  LanShare: 'lan-share',
  /** the internet, saved to the temp folder on the drive with most free space */
  TempMostFreeDrive: 'temp-most-free-drive',
} as const;
export type FileSource = (typeof FileSource)[keyof typeof FileSource];

export interface FileSourcePolicy {
  source: FileSource;
  /** fall back to the cache, then the internet, when the primary source fails */
  fallback: boolean;
}

/** The sources a download tries, in order. */
export function sourceOrder(policy: FileSourcePolicy): FileSource[] {
  const chain: Record<FileSource, FileSource[]> = {
    [FileSource.LanShare]: [FileSource.LanShare, FileSource.Cache, FileSource.Internet],
    [FileSource.Cache]: [FileSource.Cache, FileSource.Internet],
    [FileSource.Internet]: [FileSource.Internet],
    [FileSource.TempMostFreeDrive]: [FileSource.TempMostFreeDrive],
  };
  return policy.fallback ? chain[policy.source] : [policy.source];
}

export interface DownloadReport {
  servedBy: FileSource;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number;
  /** each source that failed before the one that served, with why */
  fellBack: Array<{ source: FileSource; reason: string }>;
}

/** Thrown when every allowed source failed; lists each reason. */
export class AllFileSourcesFailedError extends Error {
  constructor(readonly failures: Array<{ source: FileSource; reason: string }>) {
    super(`every file source failed: ${failures.map((f) => `${f.source}: ${f.reason}`).join('; ')}`);
    this.name = 'AllFileSourcesFailedError';
  }
}

/**
 * Tries each allowed source in order. `fetch` returns the bytes; `hashProblem` is the agent's own check
 * (a mismatch counts as that source failing, so bad bytes are never returned).
 */
export async function downloadWithFallback(
  policy: FileSourcePolicy,
  fetch: (source: FileSource) => Promise<Buffer>,
  hashProblem: (bytes: Buffer, source: FileSource) => string | undefined,
  now: () => number = Date.now,
): Promise<{ bytes: Buffer; report: DownloadReport }> {
  return downloadFromSources(sourceOrder(policy), fetch, hashProblem, now);
}

/**
 * The same, over an explicit list: what an agent does with the sources its signed download command
 * carries (the server computed them with `sourceOrder`; the agent does not second-guess the order).
 */
export async function downloadFromSources(
  sources: readonly FileSource[],
  fetch: (source: FileSource) => Promise<Buffer>,
  hashProblem: (bytes: Buffer, source: FileSource) => string | undefined,
  now: () => number = Date.now,
): Promise<{ bytes: Buffer; report: DownloadReport }> {
  const fellBack: DownloadReport['fellBack'] = [];
  for (const source of sources) {
    const started = now();
    try {
      const bytes = await fetch(source);
      const problem = hashProblem(bytes, source);
      if (problem) { fellBack.push({ source, reason: problem }); continue; }
      const durationMs = Math.max(1, now() - started);
      return { bytes, report: { servedBy: source, bytes: bytes.length, durationMs, bytesPerSecond: Math.round((bytes.length * 1000) / durationMs), fellBack } };
    } catch (err) {
      fellBack.push({ source, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  throw new AllFileSourcesFailedError(fellBack);
}

/** The sources a download command names, or the internet alone (a command signed before file sources existed). */
export function sourcesOf(payload: { sources?: readonly unknown[] }): FileSource[] {
  // As signed, duplicates aside: a source this agent does not know fails in its turn (isFileSource), so a
  // newer server's list is never silently widened to the internet.
  const listed = Array.isArray(payload.sources) ? [...new Set(payload.sources.map(String))] : [];
  return listed.length > 0 ? (listed as FileSource[]) : [FileSource.Internet];
}

export const isFileSource = (v: unknown): v is FileSource => (Object.values(FileSource) as unknown[]).includes(v);

/** One line for the activity summary: "from cache, 3.1 MB/s (lan-share failed: ...)". */
export function downloadSummary(report: DownloadReport): string {
  const speed = report.bytesPerSecond >= 1e6 ? `${(report.bytesPerSecond / 1e6).toFixed(1)} MB/s` : `${Math.round(report.bytesPerSecond / 1e3)} kB/s`;
  const fb = report.fellBack.map((f) => `${f.source} failed: ${f.reason}`).join('; ');
  return `from ${report.servedBy}, ${speed}${fb ? ` (${fb})` : ''}`;
}
