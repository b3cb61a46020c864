import type { Db } from './database';
import { checkInMany, type CheckIn, type CheckInRequest } from './fleet-repository';
import { GroupCommitQueue, type BusyDevices } from './group-commit';

export interface CheckInWriterOptions {
  /** most check-ins in one statement (default 1,000) */
  maxBatch?: number;
  /** statements in flight at once (default 2: the pool is shared with everything else) */
  maxInFlight?: number;
  /** told of each statement that succeeded and how many check-ins it carried (metrics) */
  onStatement?: (checkIns: number) => void;
}

/** One queued check-in (its own object, so the queue tells two of the same request apart). */
interface Queued { request: CheckInRequest }

/**
 * Group commit for the gateway's check-ins: the device requests that arrive in the same turn of the
 * event loop (and while earlier statements are in flight, at most `maxInFlight`) go to PostgreSQL as
 * one `checkInMany` statement instead of one each. Each request gets its own answer (its device's
 * credential hash, flags and claimable answer), so the gateway authenticates and settles every request
 * exactly as before: a wrong secret among right ones writes nothing and is refused on its own.
 *
 * A statement that fails is sent again one request at a time, so one bad request fails only itself
 * and never its neighbours. A device's second request waits for the next statement (one UPDATE
 * cannot write a row twice), so a device's check-ins land in order. The mechanism is
 * `GroupCommitQueue`'s (db/group-commit.ts); `takeCheckIns` is the rule for what shares a statement.
 */
export class CheckInWriter {
  private readonly queue: GroupCommitQueue<Queued, CheckIn>;
  /** statements and check-ins written, for the benchmark and tests */
  readonly stats = { batches: 0, checkIns: 0, largestBatch: 0, fallbacks: 0 };

  constructor(db: Db, options: CheckInWriterOptions = {}) {
    const { onStatement } = options;
    this.queue = new GroupCommitQueue<Queued, CheckIn>({
      take: takeCheckIns,
      deviceOf: (q) => q.request.deviceId,
      commit: (batch) => checkInMany(db, batch.map((q) => q.request)),
      maxBatch: options.maxBatch ?? 1_000,
      maxInFlight: options.maxInFlight ?? 2,
      // Every statement that succeeded counts, a request sent again on its own included.
      onCommitted: (batch) => {
        this.stats.batches += 1;
        this.stats.checkIns += batch.length;
        this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
        onStatement?.(batch.length);
      },
      onFallback: () => { this.stats.fallbacks += 1; },
    });
  }

  checkIn(request: CheckInRequest): Promise<CheckIn> {
    return this.queue.add({ request });
  }
}

/**
 * The next statement's check-ins: up to `max`, at most one per device, and none of a device in `busy`
 * (its earlier check-in is still in flight): a device's later request waits for a later statement, so
 * its check-ins land in order. What is left keeps its order.
 */
export function takeCheckIns<T extends { request: { deviceId: string } }>(queue: T[], max: number, busy: BusyDevices = new Set()): T[] {
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
