import { Pool, type PoolClient } from 'pg';

export type Db = Pool;

/** A pg pool for one database URL. The caller ends it (`pool.end()`) on shutdown. */
export function createPool(databaseUrl: string, options: { max?: number } = {}): Db {
  const pool = new Pool({ connectionString: databaseUrl, max: options.max ?? 10 });
  // An idle client that loses its connection emits 'error'; without a listener that crashes the process.
  pool.on('error', () => undefined);
  return pool;
}

/** Runs `fn` in one transaction; always releases the client, rolls back on any error. */
export async function withTransaction<T>(db: Db, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Anything that can run a query: the pool or a transaction's client. */
export type Queryable = Pick<Db, 'query'> | PoolClient;
