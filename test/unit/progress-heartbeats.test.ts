import { ActivityNotFoundError, type Client } from '@temporalio/client';
import pino from 'pino';
import { createMetrics } from '../../api/metrics';
import { ProgressHeartbeats } from '../../api/progress-heartbeats';

/** A Temporal client whose heartbeats are recorded (token as text, details) and answered by `answer`. */
function fakeClient(answer: (token: string) => Promise<void> = async () => undefined) {
  const sent: { token: string; details: unknown }[] = [];
  const client = {
    activity: {
      heartbeat: async (taskToken: Uint8Array, details: unknown) => {
        const token = Buffer.from(taskToken).toString();
        sent.push({ token, details });
        await answer(token);
      },
    },
  } as unknown as Client;
  return { client, sent };
}

const token = (s: string) => Buffer.from(s);

async function outcomes(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const { values } = await metrics.progressHeartbeats.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}

describe('progress heartbeats: at most one per command per interval', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const setup = (answer?: (token: string) => Promise<void>) => {
    const { client, sent } = fakeClient(answer);
    const metrics = createMetrics();
    const beats = new ProgressHeartbeats({ client, log: pino({ level: 'silent' }), metrics }, { minIntervalMs: 2_000 });
    return { beats, sent, metrics };
  };

  test('the first report goes at once; a burst after it sends only its newest, at the end of the interval', async () => {
    const { beats, sent, metrics } = setup();
    expect(await beats.report('c1', token('t1'), { message: 'downloading A', percent: 50 })).toBe('sent');
    expect(await beats.report('c1', token('t1'), { message: 'downloaded A', percent: 100 })).toBe('held');
    expect(await beats.report('c1', token('t1'), { message: 'downloading B', percent: 50 })).toBe('held');
    expect(sent.map((s) => s.details)).toEqual([{ message: 'downloading A', percent: 50 }]);
    expect(beats.holding).toBe(1);

    await jest.advanceTimersByTimeAsync(1_999);
    expect(sent).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(sent.map((s) => s.details)).toEqual([{ message: 'downloading A', percent: 50 }, { message: 'downloading B', percent: 50 }]);
    expect(beats.holding).toBe(0);
    // The held report's send started a new interval: a report within it is held again.
    expect(await beats.report('c1', token('t1'), { message: 'downloaded B', percent: 100 })).toBe('held');
    await jest.advanceTimersByTimeAsync(2_000);
    expect(sent).toHaveLength(3);
    // A quiet interval ends the command's entry: the next report goes at once.
    await jest.advanceTimersByTimeAsync(2_000);
    expect(await beats.report('c1', token('t1'), { message: 'later' })).toBe('sent');
    expect(sent).toHaveLength(4);
    expect(await outcomes(metrics)).toEqual({ sent: 4, replaced: 1 });
  });

  test("the command's result drops a held report (the completed activity supersedes it)", async () => {
    const { beats, sent, metrics } = setup();
    await beats.report('c1', token('t1'), { message: 'starting KB1 (1 of 2)' });
    await beats.report('c1', token('t1'), { message: 'starting KB2 (2 of 2)' });
    beats.settle('c1');
    await jest.advanceTimersByTimeAsync(10_000);
    expect(sent.map((s) => s.details)).toEqual([{ message: 'starting KB1 (1 of 2)' }]);
    expect(await outcomes(metrics)).toEqual({ sent: 1, superseded: 1 });
    // Settled: a report of a new command of the same id would go at once.
    expect(await beats.report('c1', token('t2'), { message: 'again' })).toBe('sent');
  });

  test('commands are throttled apart, and a held report keeps the token it came with (a new attempt)', async () => {
    const { beats, sent } = setup();
    await beats.report('c1', token('c1-attempt1'), { n: 1 });
    await beats.report('c2', token('c2-attempt1'), { n: 1 });
    await beats.report('c1', token('c1-attempt2'), { n: 2 });
    expect(sent.map((s) => s.token)).toEqual(['c1-attempt1', 'c2-attempt1']);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(sent.map((s) => s.token)).toEqual(['c1-attempt1', 'c2-attempt1', 'c1-attempt2']);
  });

  test('an attempt that is gone is no error; Temporal unreachable fails the report sent now, and only logs a held one', async () => {
    let failWith: Error | undefined = new ActivityNotFoundError('gone');
    const { beats, sent } = setup(async () => { if (failWith) throw failWith; });
    await expect(beats.report('c1', token('t1'), { n: 1 })).resolves.toBe('sent');
    failWith = new Error('14 UNAVAILABLE');
    await expect(beats.report('c2', token('t2'), { n: 1 })).rejects.toThrow('UNAVAILABLE');
    await beats.report('c2', token('t2'), { n: 2 });
    await jest.advanceTimersByTimeAsync(2_000);
    expect(sent.map((s) => s.details)).toEqual([{ n: 1 }, { n: 1 }, { n: 2 }]);
  });

  test('stop() drops what is held; an interval of 0 sends every report at once', async () => {
    const { beats, sent } = setup();
    await beats.report('c1', token('t1'), { n: 1 });
    await beats.report('c1', token('t1'), { n: 2 });
    beats.stop();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(sent).toHaveLength(1);

    const { client, sent: each } = fakeClient();
    const unthrottled = new ProgressHeartbeats({ client, log: pino({ level: 'silent' }), metrics: createMetrics() }, { minIntervalMs: 0 });
    for (let n = 1; n <= 3; n++) expect(await unthrottled.report('c1', token('t1'), { n })).toBe('sent');
    expect(each.map((s) => s.details)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
});
