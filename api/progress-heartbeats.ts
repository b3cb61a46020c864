import { ActivityNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Metrics } from './metrics';

/**
 * How each progress report ends, exactly one of: heartbeated (at once or at its interval's end),
 * replaced while held by a newer report of its command, or superseded while held by the command's result.
 */
export type ProgressHeartbeatOutcome = 'sent' | 'replaced' | 'superseded';

export interface ProgressHeartbeatsOptions {
  /** at most one heartbeat per command in this long (default 2,000 ms; 0 sends every report at once) */
  minIntervalMs?: number;
}

interface Recent {
  /** the report held for the end of the interval: the newest of its burst */
  held?: { taskToken: Uint8Array; details: unknown };
  timer: NodeJS.Timeout;
}

/**
 * The activity heartbeats that carry a device's progress into Temporal (the Web UI's pending activity:
 * "downloading KB5034439 50%"), at most one per command per `minIntervalMs`.
 *
 * Why: a device reports in bursts (each download's start and end, each patch's "may I start?"), and in
 * Temporal every heartbeat is a write of the workflow's state. The first report of a burst goes at
 * once; later ones within the interval are held, and only the newest is sent when the interval ends.
 * A held report is dropped if the command's result arrives first (`settle`): the completed activity
 * supersedes its progress. The SDK throttles an in-worker activity's heartbeats the same way; these
 * heartbeats come from the gateway through the client, which does not.
 *
 * Nothing is lost by holding: every report is stored on its command first (recordProgress), so the
 * keep-alive (api/command-keepalive.ts) resends the newest, and the heartbeat timeout is minutes, not
 * the interval's seconds. One instance per gateway process; two processes throttle apart, which costs
 * at most one more heartbeat per interval.
 */
export class ProgressHeartbeats {
  private readonly recent = new Map<string, Recent>();
  private readonly minIntervalMs: number;

  constructor(private readonly deps: { client: Client; log: Logger; metrics: Pick<Metrics, 'progressHeartbeats'> }, options: ProgressHeartbeatsOptions = {}) {
    this.minIntervalMs = options.minIntervalMs ?? 2_000;
  }

  /** counts how each report ended (patchflow_progress_heartbeats_total) */
  private ended(outcome: ProgressHeartbeatOutcome): void {
    this.deps.metrics.progressHeartbeats.inc({ outcome });
  }

  /**
   * Heartbeats `details` on the command's attempt now, or holds it for the end of the interval. An
   * attempt that is gone is not an error (its result or timeout already ended it); Temporal unreachable
   * throws, as a direct heartbeat would, but only for a report sent now.
   */
  async report(commandId: string, taskToken: Uint8Array, details: unknown): Promise<'sent' | 'held'> {
    const recent = this.recent.get(commandId);
    if (recent) {
      if (recent.held) this.ended('replaced');
      recent.held = { taskToken, details };
      return 'held';
    }
    if (this.minIntervalMs > 0) this.recent.set(commandId, { timer: this.intervalEnd(commandId) });
    this.ended('sent');
    await this.send(taskToken, details);
    return 'sent';
  }

  /** The command's result arrived: a held report would only repeat what the completed activity says. */
  settle(commandId: string): void {
    const recent = this.recent.get(commandId);
    if (!recent) return;
    clearTimeout(recent.timer);
    this.recent.delete(commandId);
    if (recent.held) this.ended('superseded');
  }

  /** Reports held, for a gateway that is stopping: dropped (the keep-alive of the next gateway resends them). */
  stop(): void {
    for (const id of [...this.recent.keys()]) {
      clearTimeout(this.recent.get(id)!.timer);
      this.recent.delete(id);
    }
  }

  /** held reports, for tests and metrics */
  get holding(): number {
    let n = 0;
    for (const r of this.recent.values()) if (r.held) n++;
    return n;
  }

  /** At the interval's end: send the held report (which starts a new interval), or forget the command. */
  private intervalEnd(commandId: string): NodeJS.Timeout {
    const timer = setTimeout(() => {
      const recent = this.recent.get(commandId);
      if (!recent) return;
      const { held } = recent;
      if (!held) {
        this.recent.delete(commandId);
        return;
      }
      recent.held = undefined;
      recent.timer = this.intervalEnd(commandId);
      this.ended('sent');
      this.send(held.taskToken, held.details).catch((err: unknown) => {
        // Best effort, as the report itself: the stored progress goes with the next keep-alive.
        this.deps.log.warn({ err, commandId }, 'held progress heartbeat not delivered');
      });
    }, this.minIntervalMs);
    timer.unref();
    return timer;
  }

  private async send(taskToken: Uint8Array, details: unknown): Promise<void> {
    await this.deps.client.activity.heartbeat(taskToken, details).catch((err) => {
      if (!(err instanceof ActivityNotFoundError)) throw err;
    });
  }
}
