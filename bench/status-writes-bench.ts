import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { appendAudit, type AuditEntry } from '../db/audit-repository';
import { createPool, withTransaction, type Db } from '../db/database';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { runMigrations } from '../db/migrate';
import { applyPatchStates, type PatchStateChange } from '../db/patch-repository';
import { PatchStateWriter } from '../db/patch-state-writer';
import { seedSyntheticFleet } from '../db/synthetic-fleet';
import { PatchStatus } from '../domain/patch-status';
import { mapLimit } from './map-limit';

export interface StatusWritesBenchOptions {
  devices: number;
  patches: number;
  /** device installs writing at once (open device workflows) */
  concurrency: number;
}

type Write = { deviceId: string; operationId: string; changes: PatchStateChange[]; changeKey: string; audit: AuditEntry[] };

/**
 * An install's status writes on one device, as the install workflow's bookkeeping makes them:
 * Installing before execute, the execute results (with an audit row each), and the post-scan's
 * verified statuses.
 */
function installWrites(deviceId: string, updateIds: string[], run: string): Write[] {
  const operationId = `install/${deviceId}/${run}`;
  const audit = (kb: string, updateId: string): AuditEntry => ({
    actor: `workflow:${operationId}`, action: 'patch.installed', deviceId, subject: kb, idempotencyKey: `${operationId}/run/12/${updateId}`,
  });
  return [
    { deviceId, operationId, changeKey: `${operationId}/run/10`, audit: [], changes: updateIds.map((updateId) => ({ updateId, status: PatchStatus.Installing })) },
    {
      deviceId, operationId, changeKey: `${operationId}/run/12`, audit: updateIds.map((u) => audit(u.slice(0, 8), u)),
      changes: updateIds.map((updateId) => ({ updateId, status: PatchStatus.RebootRequired, exitCode: 3010, installedAt: new Date().toISOString() })),
    },
    { deviceId, operationId, changeKey: `${operationId}/run/15`, audit: [], changes: updateIds.map((updateId) => ({ updateId, status: PatchStatus.Installed, exitCode: 0 })) },
  ];
}

/** One write as the bookkeeping made it before group commit: a transaction of its own. */
async function writeAlone(db: Db, w: Write): Promise<void> {
  await withTransaction(db, async (tx) => {
    await applyPatchStates(tx, w.deviceId, w.operationId, w.changes, w.changeKey);
    await appendAudit(tx, w.audit);
  });
}

/**
 * `npm run bench -- status-writes`: the install bookkeeping's status writes (device_patches rows and
 * their audit rows) of `devices` installs, `concurrency` at a time, each install writing its three
 * batches in order, as under a rollout. Once with a transaction per write (as before group commit),
 * once through the worker's PatchStateWriter, on the same seeded database. Prints rows/s; asserts
 * nothing.
 */
export async function statusWritesBench(o: StatusWritesBenchOptions): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-status-writes-'));
  const external = process.env.DATABASE_URL;
  const pg = external ? undefined : await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), persistent: false });
  const databaseUrl = external ?? pg!.databaseUrl;
  // The worker's pool size.
  const db = createPool(databaseUrl);
  const lines: string[] = [];
  try {
    await runMigrations(databaseUrl);
    const { rows: existing } = await db.query('SELECT count(*)::int AS n FROM devices');
    if (existing[0].n > 0) throw new Error('the bench seeds its own fleet: point DATABASE_URL at an empty database (or unset it)');
    await seedSyntheticFleet(db, { devices: o.devices, patches: o.patches, applicablePercent: 0 });
    const deviceIds = (await db.query('SELECT id FROM devices ORDER BY id')).rows.map((r) => r.id as string);
    const updateIds = (await db.query('SELECT update_id FROM patches ORDER BY update_id')).rows.map((r) => r.update_id as string);
    const version = (await db.query('SHOW server_version')).rows[0].server_version as string;
    lines.push(`server: PostgreSQL ${version} (${external ? 'external' : 'embedded'}), ${os.cpus().length} cores; ${o.devices} installs × ${o.patches} patches, ${o.concurrency} at a time, 3 writes each`);

    const run = async (label: string, write: (w: Write) => Promise<void>, runId: string, stats?: () => string) => {
      const start = performance.now();
      await mapLimit(deviceIds, o.concurrency, async (d) => {
        for (const w of installWrites(d, updateIds, runId)) await write(w);
      });
      const seconds = (performance.now() - start) / 1000;
      const rows = deviceIds.length * updateIds.length * 3;
      lines.push(`  ${label.padEnd(36)} ${rows} rows (+${deviceIds.length * updateIds.length} audit) in ${seconds.toFixed(2)} s = ${Math.round(rows / seconds)} rows/s${stats ? `; ${stats()}` : ''}`);
      return rows / seconds;
    };
    const alone = await run('a transaction per write:', (w) => writeAlone(db, w), 'a');
    const writer = new PatchStateWriter(db);
    const grouped = await run('group commit (PatchStateWriter):', (w) => writer.write(w), 'b',
      () => `${writer.stats.batches} transactions, ${(writer.stats.writes / Math.max(1, writer.stats.batches)).toFixed(1)} writes each`);
    lines.push(`status-writes: ${Math.round(grouped)} rows/s with group commit, ${Math.round(alone)} rows/s without (${(grouped / alone).toFixed(1)}×)`);
  } finally {
    await db.end();
    await pg?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  for (const line of lines) console.log(line);
}
