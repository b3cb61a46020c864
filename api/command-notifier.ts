import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import type { Logger } from 'pino';
import { announcePolls, listenForAgentEvents, POLL_CHANNEL } from '../db/agent-channels';

/** Why a subscription's wait ended (CommandNotifier.subscribe). */
export type WakeReason = 'announced' | 'timeout' | 'ended';

/**
 * Wakes agents' long polls when a command for their device is written. One LISTEN connection per
 * gateway process; the NOTIFY payload is the device id. Any replica learns of any command, so there is
 * no in-memory queue another replica cannot see. If the connection drops, it reconnects, and waiting
 * polls are woken so they re-read the table (nothing is lost, a poll just returns early).
 */
export class CommandNotifier {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** each device's open long polls on this replica, with when each opened */
  private readonly polls = new Map<string, Map<AbortController, number>>();
  private readonly replicaId = randomUUID();
  /** poll take-overs not yet sent to the other replicas (see `announce`) */
  private pendingAnnouncements: string[] = [];
  private client?: PgClient;
  /** the LISTEN connection was lost and is not back yet */
  private lost = false;
  /** a batch of poll take-overs is on its way to PostgreSQL */
  private announcing = false;
  private stopped = false;

  constructor(private readonly databaseUrl: string, private readonly log: Logger) {}

  async start(): Promise<void> {
    const client = new PgClient({ connectionString: this.databaseUrl });
    client.on('notification', (msg) => {
      if (!msg.payload) return;
      if (msg.channel === POLL_CHANNEL) {
        const [deviceId, replicaId, openedAt] = msg.payload.split(' ');
        // This replica's own polls end one another in openPoll, in order; an announcement arriving
        // late must not end a poll opened after it (here or elsewhere).
        if (replicaId !== this.replicaId) this.endPollsOpenedBefore(deviceId, Number(openedAt));
      } else {
        this.wake(msg.payload);
      }
    });
    client.on('error', (err) => {
      // One reconnect per lost connection (a broken client may report more than one error).
      if (this.client !== client) return;
      this.log.warn({ err }, 'command notifier connection lost; reconnecting');
      this.lost = true;
      this.wakeAll();
      this.reconnectSoon();
    });
    await client.connect();
    await listenForAgentEvents(client);
    const reconnected = this.lost;
    this.lost = false;
    this.client = client;
    // Polls that began while the connection was down subscribed to nothing: a command written then
    // (a worker restarted along with PostgreSQL records its step at once) announced itself to no one,
    // and its device would wait out its whole poll (the soak's "command waited for its device" after a
    // PostgreSQL restart). Woken now, they re-read the table.
    if (reconnected) this.wakeAll();
  }

  private reconnectSoon(): void {
    if (this.stopped) return;
    this.client = undefined;
    setTimeout(() => {
      this.start().catch((err) => { this.log.warn({ err }, 'command notifier reconnect failed'); this.reconnectSoon(); });
    }, 1000).unref();
  }

  /**
   * Subscribes to the device's announcements: `promise` resolves when a command for it is announced
   * (or the LISTEN connection came back, which may have missed one: 'announced'), after `ms`
   * ('timeout'), or when `signal` aborts or `cancel` ends the subscription ('ended'). Subscribe
   * *before* reading the table, so a command announced between the read and the wait is not missed.
   */
  subscribe(deviceId: string, ms: number, signal?: AbortSignal): { promise: Promise<WakeReason>; cancel: () => void } {
    let finish!: (reason: WakeReason) => void;
    const promise = new Promise<WakeReason>((resolve) => {
      let set = this.waiters.get(deviceId);
      if (!set) this.waiters.set(deviceId, (set = new Set()));
      let finished = false;
      // Idempotent: a second call must not remove a later subscription's set of the same device.
      finish = (reason) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', ended);
        set!.delete(announced);
        if (set!.size === 0) this.waiters.delete(deviceId);
        resolve(reason);
      };
      const announced = () => finish('announced');
      const ended = () => finish('ended');
      const timer = setTimeout(() => finish('timeout'), Math.max(0, ms));
      signal?.addEventListener('abort', ended, { once: true });
      set.add(announced);
    });
    return { promise, cancel: () => finish('ended') };
  }

  /**
   * At most one long poll per device credential: registers a new poll of `deviceId` and ends every
   * other one, here at once and on other replicas through NOTIFY. The ended polls' `signal` aborts;
   * they answer at once with no commands (250 polls held by one credential were seen before this).
   * Across replicas the order is by clock (the announcement carries when the poll opened): two polls
   * opened on two replicas within the clocks' skew may both stay a while (until the next poll).
   * `controller`: the one to abort when a newer poll takes over (the caller's, so it need not listen).
   */
  openPoll(deviceId: string, controller = new AbortController()): { signal: AbortSignal; close: () => void } {
    const openedAt = Date.now();
    this.endPollsOpenedBefore(deviceId, Infinity);
    let open = this.polls.get(deviceId);
    if (!open) this.polls.set(deviceId, (open = new Map()));
    open.set(controller, openedAt);
    this.announce(`${deviceId} ${this.replicaId} ${openedAt}`);
    return {
      signal: controller.signal,
      close: () => {
        const set = this.polls.get(deviceId);
        set?.delete(controller);
        if (set?.size === 0) this.polls.delete(deviceId);
      },
    };
  }

  /**
   * Queues a poll take-over for the other replicas. Announcements made in the same turn of the event
   * loop go out as one statement (one notification each), after the current I/O: one round trip per
   * burst of polls instead of one per poll, which under load had queued thousands of statements on
   * the one LISTEN connection. A take-over is an optimisation of the one-poll rule, so a lost batch
   * costs nothing but a poll that stays a while (until the device's next poll).
   */
  private announce(payload: string): void {
    this.pendingAnnouncements.push(payload);
    // One statement in flight at a time on the LISTEN connection (pg deprecates overlapping queries on
    // one client): what arrives meanwhile goes out as the next batch, when this one is answered.
    if (this.announcing || this.pendingAnnouncements.length > 1) return;
    setImmediate(() => this.flushAnnouncements());
  }

  private flushAnnouncements(): void {
    const payloads = this.pendingAnnouncements.splice(0);
    if (!this.client || payloads.length === 0) return;
    this.announcing = true;
    announcePolls(this.client, payloads)
      .catch((err) => this.log.warn({ err, polls: payloads.length }, 'poll take-overs not announced to other replicas'))
      .finally(() => {
        this.announcing = false;
        if (this.pendingAnnouncements.length > 0) this.flushAnnouncements();
      });
  }

  /** Ends the device's polls on this replica that opened before `time` (ms; Infinity: all). */
  private endPollsOpenedBefore(deviceId: string, time: number): void {
    for (const [controller, openedAt] of this.polls.get(deviceId) ?? []) if (openedAt < time) controller.abort();
  }

  private wake(deviceId: string): void {
    for (const w of [...(this.waiters.get(deviceId) ?? [])]) w();
  }

  private wakeAll(): void {
    for (const id of [...this.waiters.keys()]) this.wake(id);
  }

  /** Number of agents currently long-polling this replica. */
  get waiting(): number {
    let n = 0;
    for (const s of this.waiters.values()) n += s.size;
    return n;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeAll();
    await this.client?.end().catch(() => undefined);
  }
}
