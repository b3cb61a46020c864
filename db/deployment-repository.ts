import type { Queryable } from './database';

/** This database's deployment id (made by the migration that created the table). */
export async function deploymentId(db: Queryable): Promise<string> {
  const { rows } = await db.query('SELECT id FROM deployment');
  if (!rows[0]) throw new Error('the deployment table is empty: run the migrations');
  return rows[0].id as string;
}
