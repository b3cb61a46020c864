import { spawn, spawnSync } from 'node:child_process';
import { keyringFromPem } from '../config/command-keys';
import { generateSigningKeyPair } from '../domain/signatures';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import QueryStream from 'pg-query-stream';
import { startServer } from '../api/app';
import { createPool } from '../db/database';
import { startEmbeddedPostgres } from '../db/embedded-postgres';
import { runMigrations } from '../db/migrate';
import { patchOverviewQuery } from '../db/report-repository';
import { seedSyntheticFleet } from '../db/synthetic-fleet';
import { ALL_PATCH_STATUSES } from '../domain/patch-status';
import { BENCH_API_KEY } from './bench-stack';

const log = (msg: string) => process.stderr.write(`[report-bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The query with its parameters written in as SQL literals, for COPY (which takes none). */
function inlineParameters(text: string, values: unknown[]): string {
  const literal = (v: unknown): string => {
    if (v === null) return 'NULL';
    if (Array.isArray(v)) return `ARRAY[${v.map(literal).join(', ')}]`;
    return `'${String(v).replace(/'/g, "''")}'`;
  };
  return text.replace(/\$(\d+)/g, (_, i: string) => literal(values[Number(i) - 1]));
}

/** Bytes and lines of a stream, read as fast as it comes. */
async function drain(body: AsyncIterable<Uint8Array>): Promise<{ bytes: number; lines: number }> {
  let bytes = 0;
  let lines = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines += 1;
  }
  return { bytes, lines };
}

/**
 * `npm run bench -- report`: seeds devices × patches (device, patch) rows with SQL, then times the
 * Patch Overview Report as CSV over HTTP (the API runs in this process: its peak RSS is sampled)
 * against the same PostgreSQL's `COPY (<the report's query>) TO STDOUT` through psql, with the
 * same work_mem. Best of two runs each. Prints figures; asserts nothing.
 */
export async function reportBench(devices: number, patches: number): Promise<void> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-report-bench-'));
  const external = process.env.DATABASE_URL;
  const pg = external ? undefined : await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), persistent: false });
  const databaseUrl = external ?? pg!.databaseUrl;
  const db = createPool(databaseUrl);
  // The report route never calls Temporal: a lazy connection that is never opened.
  const temporal = new Client({ connection: Connection.lazy({ address: '127.0.0.1:7233' }) });
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await runMigrations(databaseUrl);
    const { rows: existing } = await db.query('SELECT count(*)::int AS n FROM device_patches');
    if (existing[0].n > 0) throw new Error('the bench seeds its own fleet: point DATABASE_URL at an empty database (or unset it)');
    log(`seeding ${fmt(devices)} devices × ${fmt(patches)} patches`);
    const seedStart = performance.now();
    const { rows } = await seedSyntheticFleet(db, { devices, patches });
    const seedSeconds = (performance.now() - seedStart) / 1000;
    log(`seeded ${fmt(rows)} rows in ${seedSeconds.toFixed(1)} s`);

    server = await startServer({
      db, databaseUrl, client: temporal, log: pino({ level: 'warn' }), taskQueue: 'bench', apiKey: BENCH_API_KEY,
      pollWaitSeconds: 25, reportsDir: path.join(scratch, 'reports'),
      // No agent runs here, but the gateway needs command keys to offer at enrollment.
      commandKeys: keyringFromPem(generateSigningKeyPair().privateKeyPem),
    }, { port: 0 });
    const version = (await db.query('SHOW server_version')).rows[0].server_version as string;
    const filter = { groupBy: 'patch' as const, statuses: [...ALL_PATCH_STATUSES] };
    const copySql = `COPY (${inlineParameters(patchOverviewQuery(filter).text, patchOverviewQuery(filter).values)}) TO STDOUT WITH (FORMAT csv, HEADER)`;
    const psql = spawnSync('psql', ['--version'], { encoding: 'utf8' });
    const havePsql = psql.status === 0;

    const baselineRss = process.memoryUsage().rss;
    let peakRss = baselineRss;
    let peakHeap = 0;
    let peakExternal = 0;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
    }, 20);

    const viaHttp = async () => {
      const t = performance.now();
      const res = await fetch(`${server!.url}/api/v1/reports/patch-overview?format=csv&groupBy=patch`, { headers: { authorization: `Bearer ${BENCH_API_KEY}` } });
      if (res.status !== 200) throw new Error(`report answered ${res.status}: ${await res.text()}`);
      const out = await drain(res.body as unknown as AsyncIterable<Uint8Array>);
      return { seconds: (performance.now() - t) / 1000, ...out, rows: out.lines - 1 };
    };
    const viaCopy = async () => {
      const t = performance.now();
      if (havePsql) {
        const child = spawn('psql', [databaseUrl, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', copySql], {
          stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PGOPTIONS: '-c work_mem=64MB' },
        });
        const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
        const out = await drain(child.stdout);
        if ((await exited) !== 0) throw new Error('psql COPY failed');
        return { seconds: (performance.now() - t) / 1000, ...out, rows: out.lines - 1 };
      }
      // No psql: the same SELECT through a cursor (pg-query-stream), rows only, no CSV.
      const client = await db.connect();
      try {
        await client.query('BEGIN');
        await client.query("SET LOCAL work_mem = '64MB'");
        const q = patchOverviewQuery(filter);
        let n = 0;
        for await (const _row of client.query(new QueryStream(q.text, q.values, { batchSize: 1000 }))) n += 1;
        await client.query('COMMIT');
        return { seconds: (performance.now() - t) / 1000, bytes: 0, lines: n + 1, rows: n };
      } finally {
        client.release();
      }
    };

    const runsHttp = [];
    const runsCopy = [];
    for (let i = 1; i <= 2; i++) {
      log(`run ${i}/2: COPY`);
      runsCopy.push(await viaCopy());
      log(`run ${i}/2: CSV over HTTP`);
      runsHttp.push(await viaHttp());
    }
    clearInterval(sampler);
    const best = <T extends { seconds: number }>(runs: T[]) => runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const http = best(runsHttp);
    const copy = best(runsCopy);
    const httpRate = http.rows / http.seconds;
    const copyRate = copy.rows / copy.seconds;
    const mb = (b: number) => (b / 1024 / 1024).toFixed(0);
    console.log([
      `Patch Overview Report bench — ${fmt(rows)} (device, patch) rows (${fmt(devices)} devices × ${fmt(patches)} patches), grouped by patch, every status`,
      `  server: PostgreSQL ${version} (${external ? 'DATABASE_URL' : 'embedded, this machine'}), work_mem 64MB; ${os.cpus().length} cores; Node ${process.version}`,
      `  seed (generate_series):        ${seedSeconds.toFixed(1)} s`,
      `  CSV over HTTP (API, cursor):   ${fmt(http.rows)} rows, ${mb(http.bytes)} MB in ${http.seconds.toFixed(2)} s = ${fmt(httpRate)} rows/s  (runs: ${runsHttp.map((r) => r.seconds.toFixed(2)).join(', ')} s)`,
      havePsql
        ? `  COPY (same query) TO STDOUT:   ${fmt(copy.rows)} rows, ${mb(copy.bytes)} MB in ${copy.seconds.toFixed(2)} s = ${fmt(copyRate)} rows/s  (psql ${psql.stdout.trim().split(' ').pop()}; runs: ${runsCopy.map((r) => r.seconds.toFixed(2)).join(', ')} s)`
        : `  SELECT (same query), cursor:   ${fmt(copy.rows)} rows in ${copy.seconds.toFixed(2)} s = ${fmt(copyRate)} rows/s  (no psql on this machine: pg-query-stream fallback, not COPY)`,
      `  ratio HTTP / ${havePsql ? 'COPY' : 'SELECT'}:           ${(httpRate / copyRate).toFixed(2)}  (goal ≥ 0.3)`,
      `  API process RSS:               peak ${mb(peakRss)} MB (before the runs ${mb(baselineRss)} MB; goal < 300 MB); peak JS heap ${mb(peakHeap)} MB, buffers ${mb(peakExternal)} MB`,
    ].join('\n'));
  } finally {
    await server?.stop();
    await db.end();
    await pg?.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
