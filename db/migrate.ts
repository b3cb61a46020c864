import path from 'node:path';
import { runner } from 'node-pg-migrate';

/** Applies every pending migration in db/migrations (numbered SQL files) to the database. */
export async function runMigrations(databaseUrl: string, log?: (msg: string) => void): Promise<void> {
  await runner({
    databaseUrl,
    dir: path.join(__dirname, 'migrations'),
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    // node-pg-migrate takes a lock so that two processes starting together do not both migrate.
    noLock: false,
    log: (msg: string) => log?.(msg),
    verbose: false,
  });
}
