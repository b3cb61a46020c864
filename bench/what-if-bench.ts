import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { whatIf } from '../api/what-if-service';
import { whatIfSchema } from '../api/what-if-schemas';
import { createPool } from '../db/database';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { runMigrations } from '../db/migrate';
import { seedSyntheticFleet } from '../db/synthetic-fleet';
import { DEFAULT_REBOOT_ACTION } from '../domain/reboot-actions';

const log = (msg: string) => process.stderr.write(`[what-if-bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/**
 * `npm run bench -- what-if`: seeds devices × patches (with `applicable`% of the pairs on the devices,
 * as a real fleet has), one approval policy over every device, an "all devices" Automatic Update
 * schedule, and a patch action at one client; then times POST /what-if's work (load + resolve +
 * predict + diff) for a proposal that approves 30 patches in every policy and ignores 10 at a client.
 * Best of three. Prints figures; asserts nothing.
 */
export async function whatIfBench(devices: number, patches: number, applicablePercent: number): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-what-if-bench-'));
  const external = process.env.DATABASE_URL;
  const pg = external ? undefined : await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), persistent: false });
  const databaseUrl = external ?? pg!.databaseUrl;
  const db = createPool(databaseUrl);
  try {
    await runMigrations(databaseUrl);
    let t = performance.now();
    const { rows } = await seedSyntheticFleet(db, { devices, patches, applicablePercent });
    await db.query(`UPDATE devices SET credential_hash = md5(id::text), enrolled_at = now()`);
    const policy = (await db.query(`INSERT INTO approval_policies (id, name) VALUES (gen_random_uuid(), 'Bench policy') RETURNING id`)).rows[0].id;
    await db.query(`INSERT INTO policy_defaults (policy_id, kind, key, status) VALUES ($1, 'classification', 'Security Updates', 'approved'), ($1, 'classification', 'Critical Updates', 'approved')`, [policy]);
    await db.query(`INSERT INTO policy_members (policy_id, scope_type, scope_id) VALUES ($1, 'all', '')`, [policy]);
    const schedule = (await db.query(
      `INSERT INTO update_schedules (id, name, kind, scope_type, scope_id, timing, reboot_action)
       VALUES (gen_random_uuid(), 'Bench AU', 'automatic_update', 'all', '', $1::jsonb, $2::jsonb) RETURNING id`,
      [JSON.stringify({ kind: 'monthly_patch_tuesday', offsetDays: 1, time: '02:00', timezone: 'UTC' }), JSON.stringify(DEFAULT_REBOOT_ACTION)],
    )).rows[0].id;
    const client = (await db.query('SELECT id FROM clients ORDER BY name LIMIT 1')).rows[0].id;
    const kbs = (await db.query(`SELECT kb FROM patches WHERE classification = 'Updates' ORDER BY kb LIMIT 40`)).rows.map((r) => r.kb as string);
    await db.query('ANALYZE');
    log(`seeded ${devices} devices × ${patches} patches, ${rows.toLocaleString('en-US')} device patch rows (${applicablePercent}% applicable) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    const request = whatIfSchema.parse({
      scheduleId: schedule,
      approvals: [{ policyId: 'all', kbs: kbs.slice(0, 30), status: 'approved' }],
      patchActions: [{ scopeType: 'client', scopeId: client, kbs: kbs.slice(30), action: 'ignore' }],
    });
    const runs: number[] = [];
    let answer: Awaited<ReturnType<typeof whatIf>> | undefined;
    for (let i = 0; i < 3; i++) {
      t = performance.now();
      answer = await whatIf(db, request);
      runs.push((performance.now() - t) / 1000);
    }
    const s = answer!.schedules[0]!;
    const best = Math.min(...runs);
    console.log(`what-if: ${devices} devices × ${patches} patches (${rows.toLocaleString('en-US')} device patch rows) in ${best.toFixed(2)} s (best of 3: ${runs.map((r) => r.toFixed(2)).join(', ')} s); `
      + `installs ${s.installs.before.toLocaleString('en-US')} → ${s.installs.after.toLocaleString('en-US')}, ${s.changed.length.toLocaleString('en-US')} devices changed; RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MB`);
  } finally {
    await db.end();
    await pg?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
