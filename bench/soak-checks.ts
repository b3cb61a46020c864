import fs from 'node:fs';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import type { Db } from '../db/database';
import type { RolloutResult } from '../workflows/automatic-update.contract';

export interface SoakCheck {
  name: string;
  ok: boolean;
  detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CLOSED_OK = new Set(['COMPLETED', 'CONTINUED_AS_NEW']);

/** Every execution in the namespace, listed until none is running (visibility lags; 120 s at most). */
async function settledExecutions(client: Client): Promise<WorkflowExecutionInfo[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const rows: WorkflowExecutionInfo[] = [];
    for await (const w of client.workflow.list()) rows.push(w);
    if (rows.every((r) => r.status.name !== 'RUNNING') || Date.now() > deadline) return rows;
    await sleep(2000);
  }
}

/**
 * The soak's end checks: visibility (completed = started per type, none failed or terminated), every
 * device terminal, the rollout's counts against the per-device rows in PostgreSQL, and no patch
 * executed twice on any device (the simulators' own on-disk execution counts).
 */
export async function checkSoak(o: { db: Db; client: Client; result: RolloutResult; clientId: string; kbs: string[]; stateFiles: string[]; devices: number }): Promise<SoakCheck[]> {
  const checks: SoakCheck[] = [];
  const rows = await settledExecutions(o.client);
  const byType = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const m = byType.get(r.type) ?? new Map<string, number>();
    m.set(r.status.name, (m.get(r.status.name) ?? 0) + 1);
    byType.set(r.type, m);
  }
  for (const [type, statuses] of [...byType].sort()) {
    const started = [...statuses.values()].reduce((a, b) => a + b, 0);
    const completed = [...statuses].filter(([s]) => CLOSED_OK.has(s)).reduce((a, [, n]) => a + n, 0);
    checks.push({ name: `visibility ${type}: completed = started`, ok: completed === started, detail: `${completed} completed (continue-as-new included) of ${started}; ${[...statuses].map(([s, n]) => `${s} ${n}`).join(', ')}` });
  }
  const bad = rows.filter((r) => ['FAILED', 'TERMINATED', 'TIMED_OUT', 'CANCELLED'].includes(r.status.name));
  checks.push({ name: '0 failed or terminated workflows', ok: bad.length === 0, detail: bad.length === 0 ? 'none' : bad.slice(0, 5).map((r) => `${r.workflowId} ${r.status.name}`).join(', ') });

  const c = o.result.counts;
  const terminal = c.done + c.failed + c.offline + c.busy;
  const { rows: claimed } = await o.db.query<{ n: string }>(
    `SELECT count(*) AS n FROM device_operations op JOIN devices d ON d.id = op.device_id JOIN sites s ON s.id = d.site_id WHERE s.client_id = $1::uuid`, [o.clientId]);
  checks.push({ name: 'every device terminal', ok: terminal === o.devices && Number(claimed[0]!.n) === 0 && c.devices === o.devices,
    detail: `rollout: ${c.devices} devices, ${c.done} done + ${c.failed} failed + ${c.offline} offline + ${c.busy} busy = ${terminal}; ${claimed[0]!.n} devices still claimed by an operation` });

  const { rows: perDevice } = await o.db.query<{ installed: string; all_installed: string }>(
    `SELECT count(*) FILTER (WHERE dp.status = 'installed') AS installed,
            (SELECT count(*) FROM devices d2 JOIN sites s2 ON s2.id = d2.site_id WHERE s2.client_id = $1::uuid AND NOT EXISTS (
               SELECT 1 FROM device_patches x JOIN patches xp ON xp.update_id = x.update_id
                WHERE x.device_id = d2.id AND xp.kb = ANY($2::text[]) AND x.status <> 'installed')) AS all_installed
       FROM device_patches dp JOIN patches p ON p.update_id = dp.update_id
       JOIN devices d ON d.id = dp.device_id JOIN sites s ON s.id = d.site_id
      WHERE s.client_id = $1::uuid AND p.kb = ANY($2::text[])`, [o.clientId, o.kbs]);
  // device_patches is keyed by update id; the soak's patches are named by KB (patches.kb).
  const installed = Number(perDevice[0]!.installed);
  const allInstalled = Number(perDevice[0]!.all_installed);
  checks.push({ name: 'rollout counts = per-device statuses in PostgreSQL', ok: installed === c.patchesInstalled && allInstalled === c.done,
    detail: `patches installed: rollout ${c.patchesInstalled}, device_patches ${installed}; devices done: rollout ${c.done}, devices with every patch installed ${allInstalled}` });

  let twice = 0;
  let executions = 0;
  const examples: string[] = [];
  for (const file of o.stateFiles) {
    const state = JSON.parse(fs.readFileSync(file, 'utf8')) as { executions: [string, number][] };
    for (const [kb, n] of state.executions) {
      executions += n;
      if (n > 1) {
        twice++;
        if (examples.length < 5) examples.push(`${file}: ${kb} × ${n}`);
      }
    }
  }
  checks.push({ name: '0 patches executed twice (agents\' on-disk state)', ok: twice === 0, detail: `${executions} executions on ${o.stateFiles.length} devices; ${twice} (device, update) pairs executed more than once${examples.length ? `: ${examples.join('; ')}` : ''}` });
  return checks;
}
