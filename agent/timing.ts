/** Waits `ms`, or less when `signal` aborts: stopping a fleet never waits out a reboot or a backoff. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Exponential backoff for retries of network calls: 250 ms, 500 ms, 1 s … capped. */
export function backoffMs(attempt: number, capMs = 5000): number {
  return Math.min(capMs, 250 * 2 ** Math.max(0, attempt - 1));
}

/**
 * Backoff with jitter for a real agent's reconnects: a random wait between half and all of the
 * exponential step (capped at `capMs`, default a minute), so a fleet that lost its server together
 * does not come back in one synchronised wave.
 */
export function jitteredBackoffMs(attempt: number, capMs = 60_000, random: () => number = Math.random): number {
  const step = backoffMs(attempt, capMs);
  return Math.round(step / 2 + random() * (step / 2));
}
