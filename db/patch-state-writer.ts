import type { AuditEntry } from './audit-repository';
import { appendAudit } from './audit-repository';
import { withTransaction, type Db } from './database';
import { GroupCommitQueue, type BusyDevices } from './group-commit';
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

/** One queued install's write (its own object, so the queue tells two of the same write apart). */
interface Queued { write: PatchStatesWithAudit }

/**
 * Group commit for install bookkeeping: the status writes of every install that asks in the same turn
 * of the event loop (and while earlier batches are in flight) go out as one transaction of two
 * multi-row statements, device_patches and audit_log, instead of one transaction each. Each caller's
 * promise settles when its own rows are committed, so an activity still completes only after its
 * write is durable, and retries stay exact (the statement's rules are `applyPatchStates`'s).
 *
 * A batch that fails is written again one install at a time, so one bad write fails only its own
 * activity (which retries) and never its neighbours'. A device's writes land in order. The mechanism
 * is `GroupCommitQueue`'s (db/group-commit.ts); `takeBatch` is the rule for what shares a transaction.
 */
export class PatchStateWriter {
  private readonly queue: GroupCommitQueue<Queued, void>;
  /** batches and installs written, for metrics and the benchmark */
  readonly stats = { batches: 0, writes: 0, rows: 0, fallbacks: 0 };

  constructor(db: Db, options: PatchStateWriterOptions = {}) {
    this.queue = new GroupCommitQueue<Queued, void>({
      take: takeBatch,
      deviceOf: (q) => q.write.deviceId,
      commit: async (batch) => {
        const writes = batch.map((q) => q.write);
        await withTransaction(db, async (tx) => {
          await applyPatchStateWrites(tx, writes);
          await appendAudit(tx, writes.flatMap((w) => w.audit));
        });
        return writes.map(() => undefined);
      },
      maxBatch: options.maxBatch ?? 500,
      maxInFlight: options.maxInFlight ?? 2,
      // `batches` counts the batches that committed whole; `writes` and `rows` also count the
      // installs written one at a time after their batch failed.
      onCommitted: (batch, resend) => {
        if (!resend) this.stats.batches += 1;
        this.stats.writes += batch.length;
        this.stats.rows += batch.reduce((n, q) => n + q.write.changes.length, 0);
      },
      onFallback: () => { this.stats.fallbacks += 1; },
    });
  }

  write(write: PatchStatesWithAudit): Promise<void> {
    if (write.changes.length === 0 && write.audit.length === 0) return Promise.resolve();
    return this.queue.add({ write });
  }
}

/**
 * The next batch: up to `max` writes, taking a later write of a (device, update) pair already in the
 * batch only in a later batch (one statement cannot update one row twice, and the later write must
 * land after the earlier one), and nothing of a device in `busyDevices` (its earlier write is still in
 * flight). Writes left behind keep their order.
 */
export function takeBatch<T extends { write: PatchStatesWrite }>(queue: T[], max: number, busyDevices: BusyDevices = new Set()): T[] {
  const taken: T[] = [];
  const kept: T[] = [];
  const pairs = new Set<string>();
  /** devices with a write left behind in this pass */
  const blockedDevices = new Set<string>();
  for (const q of queue) {
    const keys = q.write.changes.map((c) => `${q.write.deviceId}/${c.updateId.toLowerCase()}`);
    // Once one write of a device waits, its later writes wait too: a device's writes land in order.
    const clash = taken.length >= max || busyDevices.has(q.write.deviceId) || blockedDevices.has(q.write.deviceId) || keys.some((k) => pairs.has(k));
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
