import type { Db } from '../db/database';

/**
 * The server setting pg_stat_statements needs; the bench's PostgreSQL starts with it for `--statements`.
 * It tracks top-level statements only (its default): the round trips clients make, not the
 * foreign-key checks PostgreSQL runs inside them.
 */
export const PG_STATEMENTS_SETTINGS = { shared_preload_libraries: 'pg_stat_statements' };

/*
 * What PostgreSQL ran during a phase, from pg_stat_statements: each statement shape's calls per unit
 * (device). Statements are where PostgreSQL's CPU goes in a rollout (most are one row each), and the
 * count per device says which round trips of the worker and the gateway are worth folding.
 */

/** Starts a phase: the extension in this database, its counts at zero. */
export async function resetStatements(db: Db): Promise<void> {
  await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.query('SELECT pg_stat_statements_reset()');
}

export interface StatementStat { calls: number; ms: number; query: string }

/** Every statement shape since the reset, most frequent first (the extension's own queries left out). */
export async function readStatements(db: Db): Promise<StatementStat[]> {
  const { rows } = await db.query<{ calls: string; ms: number; query: string }>(
    `SELECT calls, total_exec_time AS ms, regexp_replace(query, '\\s+', ' ', 'g') AS query FROM pg_stat_statements
     WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC`,
  );
  return rows.map((r) => ({ calls: Number(r.calls), ms: r.ms, query: r.query }));
}

/** Pure: the statements per unit (device), the most frequent `top` shapes one a line. */
export function statementsPerUnit(stats: StatementStat[], units: number, top = 12): string[] {
  const calls = stats.reduce((a, r) => a + r.calls, 0);
  const ms = stats.reduce((a, r) => a + r.ms, 0);
  return [
    `${(calls / units).toFixed(1)} statements per device (${stats.length} shapes, ${(ms / units).toFixed(2)} ms executing per device); the most frequent:`,
    ...stats.slice(0, top).map((r) => `    ${(r.calls / units).toFixed(1).padStart(5)}  ${r.query.slice(0, 150)}`),
  ];
}
