import type { AuditEntry } from './audit-repository';
import { appendAudit } from './audit-repository';
import { withTransaction, type Db } from './database';
import { applyPatchStateWrites, type PatchStatesWrite } from './patch-repository';

/** One install's status changes and the audit rows that go with them, written together. */
export interface PatchStatesWithAudit extends PatchStatesWrite {
  audit: AuditEntry[];
}

export interface PatchStateWriterOptions {
  /** most installs' writes in one transaction (default 500) */
  maxBatch?: number;
  /** transactions in flight at once (default 2: the pool is shared with everything else) */
  maxInFlight?: number;
}

interface Queued { write: PatchStatesWithAudit; resolve: () => void; reject: (err: unknown) => void }

/**
 * Group commit for install bookkeeping: the status writes of every install that asks in the same turn
 * of the event loop (and while earlier batches are in flight) go out as one transaction of two
 * multi-row statements, device_patches and audit_log, instead of one transaction each. Each caller's
 * promise settles when its own rows are committed, so an activity still completes only after its
 * write is durable, and retries stay exact (the statement's rules are `applyPatchStates`'s).
 *
 * A batch that fails is written again one install at a time, so one bad write fails only its own
 * activity (which retries) and never its neighbours'.
 */
export class PatchStateWriter {
  private queue: Queued[] = [];
  private inFlight = 0;
  /** devices with a write in a batch in flight: their next writes wait for it, so they land in order */
  private readonly busyDevices = new Map<string, number>();
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  /** batches and installs written, for metrics and the benchmark */
  readonly stats = { batches: 0, writes: 0, rows: 0, fallbacks: 0 };

  constructor(private readonly db: Db, options: PatchStateWriterOptions = {}) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxInFlight = options.maxInFlight ?? 2;
  }

  write(write: PatchStatesWithAudit): Promise<void> {
    if (write.changes.length === 0 && write.audit.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // After the current I/O callbacks: every write asked for in this turn joins the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const batch = takeBatch(this.queue, this.maxBatch, new Set(this.busyDevices.keys()));
      if (batch.length === 0) return;
      const devices = batch.map((q) => q.write.deviceId);
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
      await this.commit(batch.map((q) => q.write));
      this.stats.batches += 1;
      for (const q of batch) q.resolve();
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      this.stats.fallbacks += 1;
      for (const q of batch) {
        await this.commit([q.write]).then(q.resolve, q.reject);
      }
    }
  }

  private async commit(writes: PatchStatesWithAudit[]): Promise<void> {
    await withTransaction(this.db, async (tx) => {
      await applyPatchStateWrites(tx, writes);
      await appendAudit(tx, writes.flatMap((w) => w.audit));
    });
    this.stats.writes += writes.length;
    this.stats.rows += writes.reduce((n, w) => n + w.changes.length, 0);
  }
}

/**
 * The next batch: up to `max` writes, taking a later write of a (device, update) pair already in the
 * batch only in a later batch (one statement cannot update one row twice, and the later write must
 * land after the earlier one), and nothing of a device in `busyDevices` (its earlier write is still in
 * flight). Writes left behind keep their order.
 */
export function takeBatch<T extends { write: PatchStatesWrite }>(queue: T[], max: number, busyDevices: ReadonlySet<string> = new Set()): T[] {
  const taken: T[] = [];
  const kept: T[] = [];
  const pairs = new Set<string>();
  const blockedDevices = new Set<string>(busyDevices);
  for (const q of queue) {
    const keys = q.write.changes.map((c) => `${q.write.deviceId}/${c.updateId.toLowerCase()}`);
    // Once one write of a device waits, its later writes wait too: a device's writes land in order.
    const clash = taken.length >= max || blockedDevices.has(q.write.deviceId) || keys.some((k) => pairs.has(k));
    if (clash) {
      kept.push(q);
      blockedDevices.add(q.write.deviceId);
      continue;
    }
    for (const k of keys) pairs.add(k);
    taken.push(q);
  }
  queue.splice(0, queue.length, ...kept);
  return taken;
}
