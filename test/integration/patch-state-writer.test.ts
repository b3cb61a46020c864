/**
 * Group commit of install bookkeeping (db/patch-state-writer.ts) against real PostgreSQL: concurrent
 * installs' writes share one transaction, end in the same rows as one write at a time, stay exact
 * under retry, keep one device's writes in order, and a bad write fails only itself.
 */
import { randomUUID } from 'node:crypto';
import { feedEntryOf } from '../../agent/catalog-feed';
import { signCatalogFeed } from '../../domain/catalog-feed';
import { applyPatchStates, type PatchStateChange } from '../../db/patch-repository';
import { PatchStateWriter } from '../../db/patch-state-writer';
import { PatchStatus } from '../../domain/patch-status';
import { missingUpdates } from './fake-activities';
import { startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

let h: Harness;
const updates = missingUpdates(false);

beforeAll(async () => {
  h = await startHarness();
  const feedId = `writer-${randomUUID().slice(0, 8)}`;
  h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, { id: feedId, sequence: 1, publishedAt: new Date().toISOString() }, updates.map(feedEntryOf)));
  expect((await h.syncCatalog(feedId)).outcome).not.toBe('refused');
});
afterAll(async () => { await h.stop(); });

const devices = async (n: number) => Promise.all(Array.from({ length: n }, () => h.createDevice().then((d) => d.deviceId)));

/** An install's outcome on a device: the first patch failed, the others installed. */
const outcome = (): PatchStateChange[] => updates.map((u, i) => (i === 0
  ? { updateId: u.updateId, status: PatchStatus.Failed, exitCode: 2147944003, error: 'download failed', countFailure: true }
  : { updateId: u.updateId, status: PatchStatus.Installed, exitCode: 0, installedAt: '2026-12-02T10:00:00Z' }));

async function rowsOf(deviceIds: string[]) {
  const { rows } = await h.db.query(
    `SELECT device_id, update_id, status, installed_at, last_exit_code, last_error, failed_attempts, last_operation_id
     FROM device_patches WHERE device_id = ANY($1::uuid[]) ORDER BY device_id, update_id`, [deviceIds]);
  return rows;
}
const withoutDevice = (rows: Record<string, unknown>[], ids: string[]) =>
  rows.map((r): Record<string, unknown> & { device_id: number } => ({ ...r, device_id: ids.indexOf(r.device_id as string), last_operation_id: 'op' }))
    .sort((a, b) => a.device_id - b.device_id || String(a.update_id).localeCompare(String(b.update_id)));

test('concurrent installs share one transaction and end as one write at a time would', async () => {
  const batched = await devices(20);
  const single = await devices(20);
  const writer = new PatchStateWriter(h.db);
  await Promise.all(batched.map((d) => writer.write({
    deviceId: d, operationId: `install/${d}`, changes: outcome(), changeKey: `install/${d}/run/4`,
    audit: [{ actor: `workflow:install/${d}`, action: 'patch.failed', deviceId: d, subject: updates[0]!.kb, idempotencyKey: `install/${d}/run/4/${updates[0]!.updateId}` }],
  })));
  for (const d of single) await applyPatchStates(h.db, d, `install/${d}`, outcome(), `install/${d}/run/4`);

  expect(writer.stats).toMatchObject({ batches: 1, writes: 20, rows: 20 * updates.length, fallbacks: 0 });
  expect(withoutDevice(await rowsOf(batched), batched)).toEqual(withoutDevice(await rowsOf(single), single));
  const audit = await h.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'patch.failed' AND device_id = ANY($1::uuid[])`, [batched]);
  expect(audit.rows[0].n).toBe(20);
});

test('a retried write (same activity key) counts its failure once; another attempt of the step counts again', async () => {
  const [d] = await devices(1);
  const writer = new PatchStateWriter(h.db);
  const write = (changeKey: string) => writer.write({ deviceId: d!, operationId: 'install/x', changes: outcome(), changeKey, audit: [] });
  await Promise.all([write('wf/run/7'), write('wf/run/7')]);
  await write('wf/run/7');
  const first = (await rowsOf([d!])).find((r) => r.update_id === updates[0]!.updateId)!;
  expect(first.failed_attempts).toBe(1);
  await write('wf/run/9');
  expect((await rowsOf([d!])).find((r) => r.update_id === updates[0]!.updateId)!.failed_attempts).toBe(2);
});

test("one device's writes asked for together land in order, the later one last", async () => {
  const [d] = await devices(1);
  const writer = new PatchStateWriter(h.db);
  const u = updates[1]!.updateId;
  await Promise.all([
    writer.write({ deviceId: d!, operationId: 'install/y', changes: [{ updateId: u, status: PatchStatus.Installing }], changeKey: 'y/1', audit: [] }),
    writer.write({ deviceId: d!, operationId: 'install/y', changes: [{ updateId: u, status: PatchStatus.RebootRequired, exitCode: 3010 }], changeKey: 'y/2', audit: [] }),
  ]);
  const row = (await rowsOf([d!])).find((r) => r.update_id === u)!;
  expect(row).toMatchObject({ status: 'reboot_required', last_exit_code: '3010' });
  // Two statements (one row cannot be updated twice in one), still without any fallback.
  expect(writer.stats).toMatchObject({ batches: 2, writes: 2, fallbacks: 0 });
});

test('a bad write fails only its own caller; the rest of its batch is written', async () => {
  const good = await devices(3);
  const writer = new PatchStateWriter(h.db);
  const results = await Promise.allSettled([
    ...good.map((d) => writer.write({ deviceId: d, operationId: 'install/z', changes: outcome(), changeKey: `z/${d}`, audit: [] })),
    // A patch the catalog does not have: the foreign key refuses it.
    writer.write({ deviceId: good[0]!, operationId: 'install/z', changes: [{ updateId: randomUUID(), status: PatchStatus.Installed }], changeKey: 'z/bad', audit: [] }),
  ]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
  expect(String((results[3] as PromiseRejectedResult).reason)).toMatch(/foreign key/);
  expect(await rowsOf(good)).toHaveLength(3 * updates.length);
  expect(writer.stats.fallbacks).toBe(1);
});
