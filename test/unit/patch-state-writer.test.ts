import { takeBatch } from '../../db/patch-state-writer';
import { PatchStatus } from '../../domain/patch-status';

const w = (deviceId: string, ...updateIds: string[]) => ({
  write: { deviceId, operationId: 'op', changeKey: 'k', changes: updateIds.map((updateId) => ({ updateId, status: PatchStatus.Installed })) },
});

describe('takeBatch', () => {
  test('takes writes in order up to the batch size, leaving the rest queued in order', () => {
    const queue = [w('a', 'u1'), w('b', 'u1'), w('c', 'u1')];
    const batch = takeBatch(queue, 2);
    expect(batch.map((q) => q.write.deviceId)).toEqual(['a', 'b']);
    expect(queue.map((q) => q.write.deviceId)).toEqual(['c']);
  });

  test("a second write of a (device, update) pair waits, and so does every later write of that device", () => {
    const queue = [w('a', 'u1'), w('b', 'u1'), w('a', 'U1'), w('a', 'u2'), w('c', 'u9')];
    const batch = takeBatch(queue, 10);
    expect(batch.map((q) => `${q.write.deviceId}:${q.write.changes[0]!.updateId}`)).toEqual(['a:u1', 'b:u1', 'c:u9']);
    expect(queue.map((q) => `${q.write.deviceId}:${q.write.changes[0]!.updateId}`)).toEqual(['a:U1', 'a:u2']);
  });

  test('a device with a write still in flight gets nothing in this batch', () => {
    const queue = [w('a', 'u1'), w('b', 'u1')];
    expect(takeBatch(queue, 10, new Set(['a'])).map((q) => q.write.deviceId)).toEqual(['b']);
    expect(queue.map((q) => q.write.deviceId)).toEqual(['a']);
  });
});
