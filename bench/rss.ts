import fs from 'node:fs';

/** Resident set size of a process in bytes, from /proc (0 when it is gone or there is no /proc). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * Samples the summed RSS of each named group of processes once a second until `stop()`, which returns
 * "name peak N MiB, …": the peak is what a host must provision for.
 */
export function rssSampler(groups: Record<string, () => number[]>, everyMs = 1000): { stop(): string } {
  const peaks = new Map<string, number>(Object.keys(groups).map((k) => [k, 0]));
  const sample = () => {
    for (const [name, pids] of Object.entries(groups)) {
      const sum = pids().reduce((a, pid) => a + rssBytes(pid), 0);
      if (sum > peaks.get(name)!) peaks.set(name, sum);
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return [...peaks].map(([name, b]) => `${name} ${(b / 2 ** 20).toFixed(0)} MiB`).join(', ');
    },
  };
}
