import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { freePort } from '../db/embedded-postgres';
import { PATCHFLOW_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

const ROOT = path.resolve(__dirname, '..');

/** Where the Temporal CLI is: TEMPORAL_CLI_PATH, the project's .tools/venv, then `temporal` on PATH. */
export function findTemporalCli(explicit?: string): string | undefined {
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`TEMPORAL_CLI_PATH=${explicit}: no such file`);
    return explicit;
  }
  const local = path.join(ROOT, '.tools', 'venv', process.platform === 'win32' ? 'Scripts' : 'bin', 'temporal');
  if (fs.existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, process.platform === 'win32' ? 'temporal.exe' : 'temporal');
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

export interface DevServerHandle {
  address: string;
  uiUrl?: string;
  /** its Prometheus endpoint, when started with `metricsPort` */
  metricsUrl?: string;
  /** the CLI's process, when this module started it (not the SDK's download) */
  pid?: number;
  stop(): Promise<void>;
}

function typeName(t: string): string {
  return { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList', TEXT: 'Text', INT: 'Int', DOUBLE: 'Double', BOOL: 'Bool', DATETIME: 'Datetime' }[t] ?? t;
}

/**
 * Starts `temporal server start-dev` with Patchflow's search attributes registered.
 * - `dbFile`: persist to this SQLite file (npm start); absent: in memory (tests).
 * - `uiPort`: serve the Web UI there; absent: headless.
 * The SQLite pragmas are the ones Temporal's own SDK stress tests use; without them the dev server
 * slows down badly under many concurrent workflows.
 */
export async function startTemporalDevServer(options: {
  /** the CLI binary; absent: the SDK downloads one (needs internet; the last fallback) */
  cliPath?: string;
  port?: number;
  uiPort?: number;
  dbFile?: string;
  namespace?: string;
  logFile?: string;
  /** serve the server's Prometheus metrics on this port (absent: the CLI picks a random one and does not say which) */
  metricsPort?: number;
  extraArgs?: string[];
}): Promise<DevServerHandle> {
  const port = options.port ?? (await freePort());
  if (!options.cliPath) return startViaSdkDownload({ ...options, port });
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn',
    '--namespace', options.namespace ?? 'default',
    '--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF'];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort), '--ui-disable-news-fetch');
  else args.push('--headless');
  if (options.dbFile) {
    fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  if (options.metricsPort) args.push('--metrics-port', String(options.metricsPort));
  for (const key of PATCHFLOW_SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${typeName(key.type)}`);
  args.push(...(options.extraArgs ?? []));

  const out = options.logFile ? fs.openSync(options.logFile, 'a') : 'ignore';
  const child: ChildProcess = spawn(options.cliPath, args, { stdio: ['ignore', out, out], detached: false });
  let exited: string | undefined;
  child.once('exit', (code, signal) => { exited = `exited with ${signal ?? code}`; });
  // However this process ends, the dev server ends with it (it stops cleanly on SIGTERM).
  const killOnExit = () => { if (!exited) child.kill('SIGTERM'); };
  process.once('exit', killOnExit);

  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`temporal dev server ${exited} (${options.cliPath} ${args.join(' ')})${options.logFile ? `; see ${options.logFile}` : ''}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      await conn.workflowService.getSystemInfo({});
      await conn.close();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`temporal dev server did not answer on ${address} within 60 s: ${(err as Error).message}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    metricsUrl: options.metricsPort ? `http://127.0.0.1:${options.metricsPort}/metrics` : undefined,
    pid: child.pid,
    stop: () => new Promise<void>((resolve) => {
      if (exited) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 10_000).unref();
    }),
  };
}

/**
 * The last fallback, for a machine with internet and no CLI: the SDK downloads the Temporal CLI into
 * its cache and starts the same dev server. (It cannot work offline, which is why the pinned CLI in
 * .tools/venv comes first.)
 */
async function startViaSdkDownload(options: { port: number; uiPort?: number; dbFile?: string; namespace?: string; extraArgs?: string[] }): Promise<DevServerHandle> {
  if (options.dbFile) fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'cached-download' },
      ip: '127.0.0.1',
      port: options.port,
      ui: Boolean(options.uiPort),
      uiPort: options.uiPort,
      dbFilename: options.dbFile,
      namespace: options.namespace ?? 'default',
      searchAttributes: PATCHFLOW_SEARCH_ATTRIBUTES,
      extraArgs: ['--sqlite-pragma', 'journal_mode=WAL', '--sqlite-pragma', 'synchronous=OFF', ...(options.extraArgs ?? [])],
    },
  });
  return {
    address: env.address,
    uiUrl: options.uiPort ? `http://127.0.0.1:${options.uiPort}` : undefined,
    stop: () => env.teardown(),
  };
}
