import { createPool, withTransaction, type Db } from '../../db/database';

/**
 * A connection lost while a transaction holds it (PostgreSQL restarted, or the backend killed) must fail
 * that transaction, not the process: a pg client emits 'error' outside any query, and an EventEmitter
 * 'error' with no listener throws.
 */
describe('withTransaction when the connection dies', () => {
  let db: Db;
  beforeAll(() => { db = createPool(process.env.PATCHFLOW_TEST_DATABASE_URL!, { max: 3 }); });
  afterAll(async () => { await db.end(); });

  it('rejects the transaction, keeps the process, and the pool serves the next query', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => { uncaught.push(err); };
    process.on('uncaughtException', onUncaught);
    try {
      const outcome = withTransaction(db, async (tx) => {
        const { rows } = await tx.query('SELECT pg_backend_pid() AS pid');
        // Another session kills this transaction's backend, as a server restart would.
        await db.query('SELECT pg_terminate_backend($1::int)', [rows[0].pid]);
        await new Promise((r) => setTimeout(r, 300)); // the client's 'error' arrives while no query runs
        await tx.query('SELECT 1');
        return 'committed';
      });
      await expect(outcome).rejects.toThrow(/terminat|Connection terminated|not queryable/i);
      expect(uncaught).toEqual([]);
      const { rows } = await db.query('SELECT 41 + 1 AS answer');
      expect(rows[0].answer).toBe(42);
      // The broken client was destroyed, not pooled: every pooled client still answers.
      const all = await Promise.all([1, 2, 3].map(() => db.query('SELECT 1 AS ok')));
      expect(all.map((r) => r.rows[0].ok)).toEqual([1, 1, 1]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
