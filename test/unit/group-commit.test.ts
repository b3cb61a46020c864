import { takeCheckIns } from '../../db/check-in-writer';
import { GroupCommitQueue, type GroupCommitOptions } from '../../db/group-commit';

/** A queued item: a device and a name; `bad` ones make any commit that carries them fail. */
interface Item { request: { deviceId: string }; name: string; bad?: boolean }
const item = (deviceId: string, name: string, bad = false): Item => ({ request: { deviceId }, name, ...(bad ? { bad } : {}) });

/** Lets the queue's setImmediate run, and the microtasks after it. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A queue whose commits are recorded and settle only when the test says so (`settleNext`), or at
 * once when `auto`. A commit answers `<name>!` per item, and fails if it carries a bad item.
 */
function harness(options: Partial<GroupCommitOptions<Item, string>> & { auto?: boolean } = {}) {
  const commits: string[][] = [];
  const pending: (() => void)[] = [];
  let inFlight = 0;
  let mostInFlight = 0;
  const committed: { names: string[]; resend: boolean }[] = [];
  const fallbacks: string[][] = [];
  const queue = new GroupCommitQueue<Item, string>({
    take: takeCheckIns,
    deviceOf: (i) => i.request.deviceId,
    maxBatch: 100,
    maxInFlight: 2,
    commit: (items) => {
      commits.push(items.map((i) => i.name));
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      return new Promise<string[]>((resolve, reject) => {
        const settle = () => {
          inFlight -= 1;
          if (items.some((i) => i.bad)) reject(new Error(`bad item in ${items.map((i) => i.name).join(',')}`));
          else resolve(items.map((i) => `${i.name}!`));
        };
        if (options.auto) settle();
        else pending.push(settle);
      });
    },
    onCommitted: (items, resend) => committed.push({ names: items.map((i) => i.name), resend }),
    onFallback: (items) => fallbacks.push(items.map((i) => i.name)),
    ...options,
  });
  return {
    queue, commits, committed, fallbacks,
    get inFlight() { return inFlight; },
    get mostInFlight() { return mostInFlight; },
    /** settles the oldest commit still pending, and lets the queue send what that frees */
    settleNext: async () => {
      pending.shift()!();
      // The settled commit frees its slot in a microtask, and the queue drains in the turn after.
      await turn();
      await turn();
    },
  };
}

test('the items queued in one turn go in one commit, each caller answered with its own result', async () => {
  const h = harness({ auto: true });
  const answers = Promise.all(['a', 'b', 'c', 'd'].map((d) => h.queue.add(item(d, d))));
  expect(h.commits).toEqual([]); // nothing is written in the turn the items are queued
  await expect(answers).resolves.toEqual(['a!', 'b!', 'c!', 'd!']);
  expect(h.commits).toEqual([['a', 'b', 'c', 'd']]);
  expect(h.committed).toEqual([{ names: ['a', 'b', 'c', 'd'], resend: false }]);

  // A later turn's items are a later commit.
  await expect(h.queue.add(item('a', 'a2'))).resolves.toBe('a2!');
  expect(h.commits).toEqual([['a', 'b', 'c', 'd'], ['a2']]);
});

test('a failing batch is sent again one item at a time: only the bad item rejects', async () => {
  const h = harness({ auto: true });
  const results = await Promise.allSettled([
    h.queue.add(item('a', 'a')), h.queue.add(item('b', 'b', true)), h.queue.add(item('c', 'c')), h.queue.add(item('d', 'd')),
  ]);
  expect(results.map((r) => (r.status === 'fulfilled' ? r.value : `rejected: ${(r.reason as Error).message}`)))
    .toEqual(['a!', 'rejected: bad item in b', 'c!', 'd!']);
  expect(h.commits).toEqual([['a', 'b', 'c', 'd'], ['a'], ['b'], ['c'], ['d']]);
  expect(h.fallbacks).toEqual([['a', 'b', 'c', 'd']]);
  expect(h.committed).toEqual([{ names: ['a'], resend: true }, { names: ['c'], resend: true }, { names: ['d'], resend: true }]);
});

test('a lone item whose commit fails rejects without a fallback', async () => {
  const h = harness({ auto: true });
  await expect(h.queue.add(item('a', 'a', true))).rejects.toThrow('bad item in a');
  expect(h.commits).toEqual([['a']]);
  expect(h.fallbacks).toEqual([]);
  expect(h.committed).toEqual([]);
});

test("a device's second item waits until the commit carrying its first has settled", async () => {
  const h = harness();
  const settled: string[] = [];
  const track = (i: Item) => h.queue.add(i).then((r) => { settled.push(r); });
  const all = Promise.all([track(item('a', 'a1')), track(item('b', 'b1')), track(item('a', 'a2'))]);
  await turn();
  // A commit slot is free (maxInFlight 2), yet a2 is not sent while a1's commit is in flight.
  expect(h.commits).toEqual([['a1', 'b1']]);
  await turn();
  expect(h.commits).toEqual([['a1', 'b1']]);
  // Another device's item queued meanwhile takes the free slot without waiting.
  const c = track(item('c', 'c1'));
  await turn();
  expect(h.commits).toEqual([['a1', 'b1'], ['c1']]);

  await h.settleNext();
  expect(settled).toEqual(['a1!', 'b1!']);
  expect(h.commits).toEqual([['a1', 'b1'], ['c1'], ['a2']]);
  await h.settleNext();
  await h.settleNext();
  await Promise.all([all, c]);
  expect(settled).toEqual(['a1!', 'b1!', 'c1!', 'a2!']);
});

test('a device stays busy through its batch\'s fallback: its next item waits for every re-send', async () => {
  const h = harness();
  const first = Promise.allSettled([h.queue.add(item('a', 'a1')), h.queue.add(item('b', 'b1', true))]);
  await turn();
  const later = h.queue.add(item('a', 'a2'));
  await h.settleNext(); // the batch fails: a1 is sent again on its own
  expect(h.commits).toEqual([['a1', 'b1'], ['a1']]);
  await h.settleNext(); // a1 written; b1 sent on its own
  expect(h.commits).toEqual([['a1', 'b1'], ['a1'], ['b1']]);
  await h.settleNext(); // b1 fails; the batch is done, so a2 may go
  expect(h.commits).toEqual([['a1', 'b1'], ['a1'], ['b1'], ['a2']]);
  await h.settleNext();
  expect((await first).map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
  await expect(later).resolves.toBe('a2!');
});

test('no more than maxInFlight commits at once; the rest go as commits settle', async () => {
  const h = harness({ maxBatch: 1, maxInFlight: 2 });
  const all = Promise.all(['a', 'b', 'c', 'd', 'e'].map((d) => h.queue.add(item(d, d))));
  await turn();
  expect(h.commits).toEqual([['a'], ['b']]);
  expect(h.inFlight).toBe(2);
  await h.settleNext();
  expect(h.commits).toEqual([['a'], ['b'], ['c']]);
  while (h.inFlight > 0) await h.settleNext();
  await expect(all).resolves.toEqual(['a!', 'b!', 'c!', 'd!', 'e!']);
  expect(h.commits).toEqual([['a'], ['b'], ['c'], ['d'], ['e']]);
  expect(h.mostInFlight).toBe(2);
});

test('maxBatch splits one turn\'s items into several commits, in order', async () => {
  const h = harness({ auto: true, maxBatch: 2, maxInFlight: 10 });
  const answers = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((d) => h.queue.add(item(d, d))));
  expect(answers).toEqual(['a!', 'b!', 'c!', 'd!', 'e!']);
  expect(h.commits).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
});

test('a commit that answers the wrong number of results fails its callers instead of answering undefined', async () => {
  const h = harness({ commit: () => Promise.resolve([]) });
  await expect(h.queue.add(item('a', 'a'))).rejects.toThrow('0 results for 1 items');
});

test('one item object queued twice at once is refused: callers are told apart by identity', async () => {
  const h = harness({ auto: true });
  const i = item('a', 'a');
  const first = h.queue.add(i);
  await expect(h.queue.add(i)).rejects.toThrow(/already queued/);
  await expect(first).resolves.toBe('a!');
  // Once settled it may be queued again.
  await expect(h.queue.add(i)).resolves.toBe('a!');
});
