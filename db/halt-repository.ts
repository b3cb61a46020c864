import { randomUUID } from 'node:crypto';
import type { FleetHaltState } from '../workflows/automatic-update.contract';
import type { Queryable } from './database';

/** One fleet halt (kill switch): of every patch (kb null) or of one KB; active while resumedAt is null. */
export interface FleetHaltRow {
  /** always an operator's (the kill switch); a rollout's own halt is an AutoHaltRow */
  source: 'operator';
  id: string;
  kb: string | null;
  reason: string;
  haltedBy: string;
  haltedAt: string;
  resumedBy: string | null;
  resumedAt: string | null;
}

const toRow = (r: Record<string, any>): FleetHaltRow => ({
  source: 'operator', id: r.id, kb: r.kb, reason: r.reason, haltedBy: r.halted_by, haltedAt: r.halted_at.toISOString(),
  resumedBy: r.resumed_by, resumedAt: r.resumed_at ? r.resumed_at.toISOString() : null,
});

/**
 * Sets a halt; an active halt of the same scope stays as it is (the first reason and actor win) and
 * `created` is false.
 */
export async function insertFleetHalt(db: Queryable, h: { kb: string | null; reason: string; by: string }): Promise<{ halt: FleetHaltRow; created: boolean }> {
  const { rows } = await db.query(
    `INSERT INTO fleet_halts (id, kb, reason, halted_by) VALUES ($1::uuid, $2::text, $3::text, $4::text)
     ON CONFLICT ((coalesce(kb, '*'))) WHERE resumed_at IS NULL DO NOTHING RETURNING *`,
    [randomUUID(), h.kb, h.reason, h.by],
  );
  if (rows[0]) return { halt: toRow(rows[0]), created: true };
  const active = await db.query(`SELECT * FROM fleet_halts WHERE coalesce(kb, '*') = coalesce($1::text, '*') AND resumed_at IS NULL`, [h.kb]);
  return { halt: toRow(active.rows[0]), created: false };
}

/** Resumes the active halt of a scope; undefined when there is none. */
export async function resumeFleetHalt(db: Queryable, r: { kb: string | null; by: string }): Promise<FleetHaltRow | undefined> {
  const { rows } = await db.query(
    `UPDATE fleet_halts SET resumed_by = $2::text, resumed_at = now()
     WHERE coalesce(kb, '*') = coalesce($1::text, '*') AND resumed_at IS NULL RETURNING *`,
    [r.kb, r.by],
  );
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** Active halts first (all before KBs), then the last 20 resumed ones. */
export async function listFleetHalts(db: Queryable): Promise<{ active: FleetHaltRow[]; recent: FleetHaltRow[] }> {
  const active = await db.query('SELECT * FROM fleet_halts WHERE resumed_at IS NULL ORDER BY kb NULLS FIRST, halted_at');
  const recent = await db.query('SELECT * FROM fleet_halts WHERE resumed_at IS NOT NULL ORDER BY resumed_at DESC LIMIT 20');
  return { active: active.rows.map(toRow), recent: recent.rows.map(toRow) };
}

/** A rollout that halted itself at its failure threshold; active while neither resumed nor ended. */
export interface AutoHaltRow {
  source: 'automatic';
  workflowId: string;
  scheduleId: string;
  scheduleName: string;
  reason: string;
  /** "system: rollout <workflow id> auto-halt" */
  haltedBy: string;
  haltedAt: string;
  resumedBy: string | null;
  resumedAt: string | null;
  /** the rollout closed while halted (cancelled) or finished */
  endedAt: string | null;
}

const iso = (v: Date | null): string | null => (v ? v.toISOString() : null);
const toAutoRow = (r: Record<string, any>): AutoHaltRow => ({
  source: 'automatic', workflowId: r.workflow_id, scheduleId: r.schedule_id, scheduleName: r.schedule_name, reason: r.reason,
  haltedBy: r.halted_by, haltedAt: r.halted_at.toISOString(), resumedBy: r.resumed_by, resumedAt: iso(r.resumed_at), endedAt: iso(r.ended_at),
});

/** The actor of a rollout's automatic halt, in the halt list and the audit log. */
export const autoHaltActor = (workflowId: string): string => `system: rollout ${workflowId} auto-halt`;

/** Records a rollout's automatic halt; false when it was already recorded (a retry writes nothing more). */
export async function insertAutoHalt(db: Queryable, h: { workflowId: string; scheduleId: string; scheduleName: string; reason: string }): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO rollout_auto_halts (workflow_id, schedule_id, schedule_name, reason, halted_by) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text)
     ON CONFLICT (workflow_id) DO NOTHING`,
    [h.workflowId, h.scheduleId, h.scheduleName, h.reason, autoHaltActor(h.workflowId)],
  );
  return rowCount === 1;
}

/** The active automatic halt of a rollout, if any. */
export async function activeAutoHalt(db: Queryable, workflowId: string): Promise<AutoHaltRow | undefined> {
  const { rows } = await db.query('SELECT * FROM rollout_auto_halts WHERE workflow_id = $1::text AND resumed_at IS NULL AND ended_at IS NULL', [workflowId]);
  return rows[0] ? toAutoRow(rows[0]) : undefined;
}

/** An operator resumed a rollout's automatic halt; undefined when it was not active. */
export async function resumeAutoHalt(db: Queryable, r: { workflowId: string; by: string }): Promise<AutoHaltRow | undefined> {
  const { rows } = await db.query(
    `UPDATE rollout_auto_halts SET resumed_by = $2::text, resumed_at = now()
     WHERE workflow_id = $1::text AND resumed_at IS NULL AND ended_at IS NULL RETURNING *`,
    [r.workflowId, r.by],
  );
  return rows[0] ? toAutoRow(rows[0]) : undefined;
}

/** The rollout closed: its automatic halt, if still active, no longer holds anything back. */
export async function endAutoHalt(db: Queryable, workflowId: string): Promise<void> {
  await db.query('UPDATE rollout_auto_halts SET ended_at = now() WHERE workflow_id = $1::text AND resumed_at IS NULL AND ended_at IS NULL', [workflowId]);
}

/** Active automatic halts (oldest first), then the last 20 resumed or ended ones. */
export async function listAutoHalts(db: Queryable): Promise<{ active: AutoHaltRow[]; recent: AutoHaltRow[] }> {
  const active = await db.query('SELECT * FROM rollout_auto_halts WHERE resumed_at IS NULL AND ended_at IS NULL ORDER BY halted_at, workflow_id');
  const recent = await db.query(
    `SELECT * FROM rollout_auto_halts WHERE resumed_at IS NOT NULL OR ended_at IS NOT NULL
     ORDER BY coalesce(resumed_at, ended_at) DESC LIMIT 20`,
  );
  return { active: active.rows.map(toAutoRow), recent: recent.rows.map(toAutoRow) };
}

/** What a rollout needs: the active halt of all patches, and of single KBs. */
export async function readFleetHaltState(db: Queryable): Promise<FleetHaltState> {
  const { active } = await listFleetHalts(db);
  const all = active.find((h) => h.kb === null);
  return {
    ...(all ? { all: { reason: all.reason, by: all.haltedBy, at: all.haltedAt } } : {}),
    kbs: active.filter((h) => h.kb !== null).map((h) => ({ kb: h.kb!, reason: h.reason, by: h.haltedBy, at: h.haltedAt })),
  };
}
