import { ActivityCancelledError, ActivityNotFoundError, ActivityPausedError, ActivityResetError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { releaseAdvisoryLock, tryAdvisoryLock, waitingCommands } from '../db/command-repository';
import { CommandStatus } from '../domain/command-lifecycle';
import type { PoolClient } from 'pg';
import type { Db } from '../db/database';
import type { Metrics } from './metrics';

/** advisory lock key of the keep-alive lease (any constant unique to this job) */
const LEASE_KEY = 0x70666b61; // 'pfka'
const PAGE = 500;
const CONCURRENCY = 32;

export interface CommandKeepAliveOptions {
  /** how often waiting commands are heartbeated (default 30 s: well inside the 2-minute heartbeat timeout) */
  intervalMs?: number;
}

/**
 * Heartbeats the activity attempt of every command that waits in PostgreSQL (pending, claimed or
 * acknowledged), on a timer, in one replica at a time (a PostgreSQL advisory lock as the lease). A device step's
 * activity has a heartbeat timeout (`heartbeatTimeoutSeconds`, 2 minutes by default), so:
 * - an attempt whose command is recorded keeps waiting as long as the device takes, offline for days
 *   included (its start-to-close timeout stays the upper bound);
 * - an attempt whose worker died before it recorded its command has no row and no heartbeat: Temporal
 *   times it out after the heartbeat timeout and retries it on a live worker, instead of after an hour.
 * Temporal has no batch heartbeat call: each page of rows is heartbeated with bounded concurrency.
 */
export class CommandKeepAlive {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** the session that holds the lease while this replica has it */
  private session: PoolClient | undefined;
  private holding = false;
  private readonly intervalMs: number;
  /** attempts Temporal said are gone (command id → attempt): not heartbeated again until a new attempt records its token */
  private readonly gone = new Map<string, number>();

  constructor(private readonly deps: { db: Db; client: Client; log: Logger; metrics: Metrics }, options: CommandKeepAliveOptions = {}) {
    this.intervalMs = options.intervalMs ?? 30_000;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.session) {
      if (this.holding) await releaseAdvisoryLock(this.session, LEASE_KEY).catch(() => undefined);
      this.session.release();
      this.session = undefined;
      this.holding = false;
    }
  }

  /** Takes the lease, or keeps it; false while another replica holds it. */
  private async holdLease(): Promise<boolean> {
    if (this.holding) return true;
    if (!this.session) {
      const session = await this.deps.db.connect();
      // A session that breaks (PostgreSQL restarted) loses the lock: take it again on a new one.
      session.on('error', () => { if (this.session === session) { this.session = undefined; this.holding = false; session.release(true); } });
      this.session = session;
    }
    this.holding = await tryAdvisoryLock(this.session, LEASE_KEY);
    return this.holding;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => { this.running = undefined; this.schedule(this.intervalMs); });
    }, delayMs);
    this.timer.unref();
  }

  /** One round: take (or renew) the lease, then heartbeat every waiting command. */
  async tick(): Promise<void> {
    const { db, log, metrics } = this.deps;
    try {
      if (!(await this.holdLease())) return;
      let after = '';
      for (;;) {
        const page = await waitingCommands(db, after, PAGE);
        if (page.length === 0) break;
        after = page[page.length - 1].id;
        let unreachable = false;
        for (let i = 0; i < page.length && !unreachable && !this.stopped; i += CONCURRENCY) {
          const live = page.slice(i, i + CONCURRENCY).filter((row) => this.gone.get(row.id) !== row.attempt);
          const results = await Promise.all(live.map(async (row) => {
            const r = await this.heartbeat(row);
            if (r === 'gone') this.gone.set(row.id, row.attempt);
            return r;
          }));
          unreachable = results.includes('unreachable');
          metrics.keepAliveHeartbeats.inc(results.filter((r) => r === 'sent').length);
        }
        // Temporal is down: the next round tries again (the heartbeat timeout has room for several).
        if (unreachable || this.stopped || page.length < PAGE) break;
      }
      // Bounded memory: a forgotten entry only costs one more heartbeat that answers "not found".
      if (this.gone.size > 100_000) this.gone.clear();
    } catch (err) {
      log.warn({ err }, 'command keep-alive round failed');
    }
  }

  private async heartbeat(row: { id: string; taskToken: Buffer; status: string; lastProgress: unknown }): Promise<'sent' | 'gone' | 'unreachable'> {
    const { client, log } = this.deps;
    // The device's own last progress, so the Web UI keeps showing it between its reports.
    const details = row.lastProgress ?? { stage: row.status === CommandStatus.Acknowledged ? 'rebooting' : `waiting for the device (${row.status})` };
    try {
      await client.connection.withDeadline(Date.now() + 5_000, () => client.activity.heartbeat(row.taskToken, details));
      return 'sent';
    } catch (err) {
      // The attempt timed out or finished, or the workflow is cancelling it: nothing to keep alive.
      if (err instanceof ActivityNotFoundError || err instanceof ActivityCancelledError || err instanceof ActivityPausedError || err instanceof ActivityResetError) return 'gone';
      log.warn({ err, commandId: row.id }, 'keep-alive heartbeat failed');
      return 'unreachable';
    }
  }
}
