import { randomUUID } from 'node:crypto';
import type { FleetHaltState } from '../workflows/automatic-update.contract';
import type { Queryable } from './database';

/** One fleet halt (kill switch): of every patch (kb null) or of one KB; active while resumedAt is null. */
export interface FleetHaltRow {
  id: string;
  kb: string | null;
  reason: string;
  haltedBy: string;
  haltedAt: string;
  resumedBy: string | null;
  resumedAt: string | null;
}

const toRow = (r: Record<string, any>): FleetHaltRow => ({
  id: r.id, kb: r.kb, reason: r.reason, haltedBy: r.halted_by, haltedAt: r.halted_at.toISOString(),
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

/** What a rollout needs: the active halt of all patches, and of single KBs. */
export async function readFleetHaltState(db: Queryable): Promise<FleetHaltState> {
  const { active } = await listFleetHalts(db);
  const all = active.find((h) => h.kb === null);
  return {
    ...(all ? { all: { reason: all.reason, by: all.haltedBy, at: all.haltedAt } } : {}),
    kbs: active.filter((h) => h.kb !== null).map((h) => ({ kb: h.kb!, reason: h.reason, by: h.haltedBy, at: h.haltedAt })),
  };
}
