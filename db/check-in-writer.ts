import type { Db } from './database';
import { checkInMany, type CheckIn, type CheckInRequest } from './fleet-repository';

export interface CheckInWriterOptions {
  /** most check-ins in one statement (default 1,000) */
  maxBatch?: number;
  /** statements in flight at once (default 2: the pool is shared with everything else) */
  maxInFlight?: number;
  /** told of each statement that succeeded and how many check-ins it carried (metrics) */
  onStatement?: (checkIns: number) => void;
}

interface Queued { request: CheckInRequest; resolve: (seen: CheckIn) => void; reject: (err: unknown) => void }

/**
 * Group commit for the gateway's check-ins: the device requests that arrive in the same turn of the
 * event loop (and while earlier statements are in flight, at most `maxInFlight`) go to PostgreSQL as
 * one `checkInMany` statement instead of one each. Each request gets its own answer (its device's
 * credential hash, flags and claimable answer), so the gateway authenticates and settles every request
 * exactly as before: a wrong secret among right ones writes nothing and is refused on its own.
 *
 * A statement that fails is sent again one request at a time, so one bad request fails only itself
 * and never its neighbours. A device's second request waits for the next statement (one UPDATE
 * cannot write a row twice), so a device's check-ins land in order.
 */
export class CheckInWriter {
  private queue: Queued[] = [];
  private inFlight = 0;
  /** devices with a check-in in a statement in flight: their next one waits for it, so they land in order */
  private readonly busyDevices = new Map<string, number>();
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  /** statements and check-ins written, for the benchmark and tests */
  readonly stats = { batches: 0, checkIns: 0, largestBatch: 0, fallbacks: 0 };

  private readonly onStatement?: (checkIns: number) => void;

  constructor(private readonly db: Db, options: CheckInWriterOptions = {}) {
    this.onStatement = options.onStatement;
    this.maxBatch = options.maxBatch ?? 1_000;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  checkIn(request: CheckInRequest): Promise<CheckIn> {
    return new Promise<CheckIn>((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current I/O callbacks: every request read in this turn joins the statement.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = takeCheckIns(this.queue, this.maxBatch, this.busyDevices);
      if (batch.length === 0) return;
      const devices = batch.map((q) => q.request.deviceId);
      for (const d of devices) this.busyDevices.set(d, (this.busyDevices.get(d) ?? 0) + 1);
      this.inFlight += 1;
      void this.flush(batch).finally(() => {
        this.inFlight -= 1;
        for (const d of devices) {
          const n = (this.busyDevices.get(d) ?? 1) - 1;
          if (n === 0) this.busyDevices.delete(d);
          else this.busyDevices.set(d, n);
        }
        if (this.queue.length > 0) this.schedule();
      });
    }
  }

  private async flush(batch: Queued[]): Promise<void> {
    try {
      const seen = await checkInMany(this.db, batch.map((q) => q.request));
      this.count(batch.length);
      batch.forEach((q, i) => q.resolve(seen[i]!));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      this.stats.fallbacks += 1;
      for (const q of batch) {
        await checkInMany(this.db, [q.request]).then(([seen]) => { this.count(1); q.resolve(seen!); }, q.reject);
      }
    }
  }

  private count(n: number): void {
    this.stats.batches += 1;
    this.stats.checkIns += n;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, n);
    this.onStatement?.(n);
  }
}

/**
 * The next statement's check-ins: up to `max`, at most one per device, and none of a device in `busy`
 * (its earlier check-in is still in flight): a device's later request waits for a later statement, so
 * its check-ins land in order. What is left keeps its order.
 */
export function takeCheckIns<T extends { request: { deviceId: string } }>(queue: T[], max: number, busy: ReadonlyMap<string, unknown> = new Map()): T[] {
  const taken: T[] = [];
  const kept: T[] = [];
  const devices = new Set<string>();
  for (const q of queue) {
    if (taken.length >= max || devices.has(q.request.deviceId) || busy.has(q.request.deviceId)) kept.push(q);
    else {
      devices.add(q.request.deviceId);
      taken.push(q);
    }
  }
  queue.splice(0, queue.length, ...kept);
  return taken;
}
