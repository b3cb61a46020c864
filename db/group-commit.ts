/** Devices with an item in a commit still in flight (a `Set` or a `Map` keyed by device id will do). */
export interface BusyDevices {
  has(deviceId: string): boolean;
}

/**
 * Chooses the next commit's items: takes up to `max` of them out of `queue` (in place), none of a
 * device in `busy`, and leaves the rest in `queue` in their order. The rule decides what may share one
 * commit (e.g. one statement cannot update one row twice).
 */
export type BatchRule<Item> = (queue: Item[], max: number, busy: BusyDevices) => Item[];

export interface GroupCommitOptions<Item, Result> {
  /** which queued items go in the next commit */
  take: BatchRule<Item>;
  /** the device an item is about: a device's items land in the order they were queued */
  deviceOf: (item: Item) => string;
  /** writes the items together; answers one result per item, in their order */
  commit: (items: Item[]) => Promise<Result[]>;
  /** most items in one commit */
  maxBatch: number;
  /** commits in flight at once */
  maxInFlight: number;
  /**
   * Told of each commit that succeeded, with its items; `resend` when it is one item sent again
   * after its batch failed. Called before the items' promises settle; must not throw.
   */
  onCommitted?: (items: readonly Item[], resend: boolean) => void;
  /** told of each batch that failed and is being sent again one item at a time; must not throw */
  onFallback?: (items: readonly Item[]) => void;
}

interface Settle<Result> { resolve: (result: Result) => void; reject: (err: unknown) => void }

/**
 * Group commit: the items queued in the same turn of the event loop (and while earlier commits are in
 * flight, at most `maxInFlight`) are written by one `commit` call instead of one each, and each
 * caller's promise settles with its own item's result once that commit is done.
 *
 * A batch whose commit fails is sent again one item at a time, so one bad item fails only its own
 * caller and never its neighbours. A device with an item in a commit in flight gets nothing in the
 * next commit until that one settles (the batch rule is told which devices are busy), so a device's
 * items land in the order they were queued.
 *
 * Each item must be its own object (the queue tells callers apart by identity).
 */
export class GroupCommitQueue<Item, Result> {
  private queue: Item[] = [];
  private readonly waiting = new Map<Item, Settle<Result>>();
  private inFlight = 0;
  /** devices with an item in a commit in flight, and how many such commits: their next items wait */
  private readonly busyDevices = new Map<string, number>();
  private scheduled = false;

  constructor(private readonly options: GroupCommitOptions<Item, Result>) {}

  /** Queues `item` for the next commit; settles with its result once that commit is done. */
  add(item: Item): Promise<Result> {
    if (this.waiting.has(item)) return Promise.reject(new Error('group commit: this item is already queued'));
    return new Promise<Result>((resolve, reject) => {
      this.waiting.set(item, { resolve, reject });
      this.queue.push(item);
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current I/O callbacks: every item queued in this turn joins the commit.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.maxInFlight) {
      const batch = this.options.take(this.queue, this.options.maxBatch, this.busyDevices);
      if (batch.length === 0) return;
      const devices = batch.map(this.options.deviceOf);
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

  private async flush(batch: Item[]): Promise<void> {
    let results: Result[];
    try {
      results = await this.commit(batch);
    } catch (err) {
      if (batch.length === 1) {
        this.settle(batch[0]!).reject(err);
        return;
      }
      this.options.onFallback?.(batch);
      // One at a time, in order: a device's items still land in the order they were queued.
      for (const item of batch) {
        await this.commit([item]).then(
          ([result]) => { this.options.onCommitted?.([item], true); this.settle(item).resolve(result!); },
          (e: unknown) => this.settle(item).reject(e),
        );
      }
      return;
    }
    this.options.onCommitted?.(batch, false);
    batch.forEach((item, i) => this.settle(item).resolve(results[i]!));
  }

  private async commit(items: Item[]): Promise<Result[]> {
    const results = await this.options.commit(items);
    if (results.length !== items.length) throw new Error(`group commit: ${results.length} results for ${items.length} items`);
    return results;
  }

  private settle(item: Item): Settle<Result> {
    const settle = this.waiting.get(item)!;
    this.waiting.delete(item);
    return settle;
  }
}
