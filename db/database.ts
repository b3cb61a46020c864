import { Pool, type PoolClient } from 'pg';

export type Db = Pool;

/** A pg pool for one database URL. The caller ends it (`pool.end()`) on shutdown. */
export function createPool(databaseUrl: string, options: { max?: number } = {}): Db {
  const pool = new Pool({ connectionString: databaseUrl, max: options.max ?? 10 });
  // An idle client that loses its connection emits 'error'; without a listener that crashes the process.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * Runs `fn` in one transaction; always releases the client, rolls back on any error.
 * A checked-out client that loses its connection (PostgreSQL restarted) emits 'error' outside any
 * query; with no listener that kills the process. The listener keeps the error, the transaction then
 * fails with it, and the broken client is destroyed on release instead of going back to the pool.
 */
export async function withTransaction<T>(db: Db, fn: (tx: PoolClient) => Promise<T>): Promise<T> {
  const client = await db.connect();
  let connectionError: Error | undefined;
  const onError = (err: Error) => { connectionError = err; };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A client whose ROLLBACK fails is broken too: destroy it rather than pool it.
    if (!connectionError) await client.query('ROLLBACK').catch((e: Error) => { connectionError = e; });
    throw err;
  } finally {
    client.off('error', onError);
    client.release(connectionError ?? undefined);
  }
}

/** Anything that can run a query: the pool or a transaction's client. */
export type Queryable = Pick<Db, 'query'> | PoolClient;
