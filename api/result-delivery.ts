import { ActivityNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import {
  claimUndeliveredResults,
  makeUndeliveredDue,
  markResultDelivered,
  postponeDelivery,
  type CommandRow,
} from '../db/command-repository';
import { withTransaction, type Db } from '../db/database';
import type { CommandError } from '../domain/device-protocol';
import type { Metrics } from './metrics';

/** What became of one delivery: accepted, or the attempt was gone (its next attempt reads the store). */
export type DeliveryOutcome = 'delivered' | 'late';

type StoredOutcome = { status: 'succeeded'; result: unknown } | { status: 'failed'; error: CommandError };

/** A Temporal call may not hang a request or a sweep: the SDK's own retries run inside this deadline. */
const CALL_DEADLINE_MS = 5_000;

/** The stored outcome of a finished row, as the completer hands it to Temporal. */
export function storedOutcomeOf(row: CommandRow): StoredOutcome {
  return row.status === 'failed' && row.error
    ? { status: 'failed', error: row.error }
    : { status: 'succeeded', result: row.result };
}

/**
 * Completes or fails the activity attempt waiting on a command. ActivityNotFoundError means that
 * attempt is gone (timed out, or already completed by another delivery): 'late'. Any other error
 * (Temporal unreachable) is thrown: the answer stays owed and the completer tries again.
 */
export async function deliverOutcome(client: Client, taskToken: Buffer, outcome: StoredOutcome): Promise<DeliveryOutcome> {
  try {
    await client.connection.withDeadline(Date.now() + CALL_DEADLINE_MS, async () => {
      if (outcome.status === 'succeeded') {
        await client.activity.complete(taskToken, outcome.result);
      } else {
        await client.activity.fail(taskToken, ApplicationFailure.create({
          type: outcome.error.code,
          message: outcome.error.message,
          nonRetryable: !outcome.error.retryable,
        }));
      }
    });
    return 'delivered';
  } catch (err) {
    if (err instanceof ActivityNotFoundError) return 'late';
    throw err;
  }
}

export interface ResultCompleterOptions {
  /** how often it sweeps while Temporal answers (default 15 s; it also sweeps on every kick) */
  intervalMs?: number;
  /** how often it asks whether Temporal is back after a failed delivery (default 1 s) */
  probeIntervalMs?: number;
  /** rows locked per transaction (default 100) */
  batchSize?: number;
}

/** Backoff of one row after failed tries: 1, 2, 4 … s, at most a minute (a reconnect makes it due at once). */
export const deliveryBackoffSeconds = (attempts: number): number => Math.min(60, 2 ** Math.max(0, attempts - 1));

/**
 * Delivers every stored device answer that Temporal has not accepted yet (issues 16 and 18): the
 * gateway stores an answer before it completes the activity, so a Temporal outage or a crash between
 * the two leaves the answer owed, and this delivers it. It sweeps at start-up, on a timer, when the
 * gateway kicks it (a delivery it could not make itself), and as soon as Temporal answers again after
 * an outage. Rows are claimed `FOR UPDATE SKIP LOCKED`, so every replica runs one safely.
 */
export class ResultCompleter {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private again = false;
  private temporalDown = false;
  private stopped = true;
  private readonly intervalMs: number;
  private readonly probeIntervalMs: number;
  private readonly batchSize: number;

  constructor(
    private readonly deps: { db: Db; client: Client; log: Logger; metrics: Metrics },
    options: ResultCompleterOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 15_000;
    this.probeIntervalMs = options.probeIntervalMs ?? 1_000;
    this.batchSize = options.batchSize ?? 100;
  }

  /** Starts sweeping (the first sweep at once: answers stored before a restart). */
  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  /** Sweep now (or right after the sweep under way). */
  kick(): void {
    if (this.stopped) return;
    if (this.sweeping) { this.again = true; return; }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.sweeping = this.run().finally(() => {
      this.sweeping = undefined;
      if (this.stopped) return;
      if (this.again) { this.again = false; this.kick(); return; }
      this.timer = setTimeout(() => this.kick(), this.temporalDown ? this.probeIntervalMs : this.intervalMs);
      this.timer.unref();
    });
  }

  /** A sweep now, awaited (tests, and `kick` underneath). */
  async sweepOnce(): Promise<void> {
    await this.run();
  }

  private async run(): Promise<void> {
    try {
      if (this.temporalDown) {
        if (!(await this.temporalAnswers())) return;
        // Back: every owed answer is due now, whatever its backoff said.
        const due = await makeUndeliveredDue(this.deps.db);
        this.temporalDown = false;
        this.deps.log.info({ due }, 'Temporal answers again: delivering stored results');
      }
      while (!this.stopped && !this.temporalDown && (await this.deliverBatch()) === this.batchSize) { /* next batch */ }
    } catch (err) {
      this.deps.log.warn({ err }, 'result completer sweep failed');
    }
  }

  private async temporalAnswers(): Promise<boolean> {
    try {
      await this.deps.client.connection.withDeadline(Date.now() + 2_000, () => this.deps.client.workflowService.getSystemInfo({}));
      return true;
    } catch {
      return false;
    }
  }

  /** One transaction: lock a batch, deliver each, record what became of it. Returns the batch size. */
  private async deliverBatch(): Promise<number> {
    const { db, client, log, metrics } = this.deps;
    return withTransaction(db, async (tx) => {
      const rows = await claimUndeliveredResults(tx, this.batchSize);
      const done: Record<DeliveryOutcome, string[]> = { delivered: [], late: [] };
      const owed: string[] = [];
      for (const row of rows) {
        // Once Temporal is unreachable, the rest of the batch waits for it to come back.
        if (this.temporalDown) { owed.push(row.id); continue; }
        try {
          const outcome = await deliverOutcome(client, row.taskToken, storedOutcomeOf(row));
          done[outcome].push(row.id);
          metrics.resultDeliveries.inc({ outcome });
          if (row.finishedAt) metrics.resultDeliveryLag.observe((Date.now() - row.finishedAt.getTime()) / 1000);
          log.info({ commandId: row.id, outcome }, 'stored result delivered by the completer');
        } catch (err) {
          owed.push(row.id);
          metrics.resultDeliveries.inc({ outcome: 'retry' });
          this.temporalDown = true;
          log.warn({ err, commandId: row.id }, 'stored result not delivered; Temporal unreachable, retrying');
        }
      }
      await markResultDelivered(tx, done.delivered, { late: false });
      await markResultDelivered(tx, done.late, { late: true });
      await postponeDelivery(tx, owed, deliveryBackoffSeconds);
      return rows.length;
    });
  }
}
