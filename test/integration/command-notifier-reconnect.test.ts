import type { Logger } from 'pino';
import { CommandNotifier } from '../../api/command-notifier';
import { createPool, type Db } from '../../db/database';
import { COMMAND_CHANNEL } from '../../db/command-repository';
import { eventually } from './harness';

/**
 * The gateway's LISTEN connection lost (PostgreSQL restarted, the backend killed): a long poll that
 * starts before it is back has no one to wake it, so a command announced meanwhile must still reach it
 * once the notifier reconnects, not after the poll's whole wait.
 */
describe('CommandNotifier after its connection is lost', () => {
  const appName = `notifier-reconnect-${process.pid}`;
  let db: Db;
  let notifier: CommandNotifier;
  const messages: string[] = [];
  const log = { warn: (_: unknown, msg: string) => { messages.push(msg); }, info: () => undefined } as unknown as Logger;

  beforeAll(() => { db = createPool(process.env.PATCHFLOW_TEST_DATABASE_URL!, { max: 2 }); });
  afterAll(async () => {
    await notifier?.stop();
    await db.end();
  });

  const listenerPids = async () => (await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE application_name = $1', [appName])).rows.map((r) => r.pid);

  it('wakes a poll that subscribed while it was reconnecting', async () => {
    const url = new URL(process.env.PATCHFLOW_TEST_DATABASE_URL!);
    url.searchParams.set('application_name', appName);
    notifier = new CommandNotifier(url.toString(), log);
    await notifier.start();
    const [pid] = await listenerPids();
    expect(pid).toBeDefined();

    await db.query('SELECT pg_terminate_backend($1::int)', [pid]);
    await eventually(async () => messages.includes('command notifier connection lost; reconnecting') || undefined, 10_000, 'the notifier to see its connection lost');

    // A poll parks now (for far longer than this test may run), and its command is announced while
    // nothing listens: that notification is lost.
    let woken = false;
    const sub = notifier.subscribe('device-reconnect', 600_000);
    void sub.promise.then(() => { woken = true; });
    await db.query('SELECT pg_notify($1::text, $2::text)', [COMMAND_CHANNEL, 'device-reconnect']);

    await eventually(async () => woken || undefined, 20_000, 'the parked poll to be woken after the reconnect');
    expect(await listenerPids()).toHaveLength(1);
    expect(messages).not.toContain('command notifier reconnect failed');
  }, 60_000);
});
