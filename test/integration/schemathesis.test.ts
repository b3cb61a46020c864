import fs from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { buildOpenApiDocument } from '../../api/openapi';
import { runMigrations } from '../../db/migrate';
import { API_KEY, startHarness, type Harness } from './harness';
import { runSchemathesis, schemathesisBinary, type FuzzFigures, type FuzzRun } from './schemathesis-runner';

/**
 * The contract fuzzed against a real stack (API + gateway + worker + Temporal + PostgreSQL):
 * schemathesis generates requests from the OpenAPI document, follows its links (create a device,
 * then read, change, scan, install and retire it), and the gate is: no 5xx, every answer matches
 * its schema and status list, and no operation that needs a credential answers without one.
 * It runs on a database of its own: fuzzed policies, KB overrides and actions by scope would
 * otherwise change what every other test's devices may install.
 */

const binary = schemathesisBinary();
const BUDGET = {
  maxExamples: Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 5),
  statefulExamples: Number(process.env.SCHEMATHESIS_STATEFUL_EXAMPLES ?? 100),
  seed: Number(process.env.SCHEMATHESIS_SEED ?? 1205),
  maxSeconds: 240,
};
const CHECKS = ['not_a_server_error', 'response_schema_conformance', 'status_code_conformance', 'content_type_conformance', 'ignored_auth'];

let h: Harness;
let specPath: string;
let reportDir: string;
let deviceCredential: string;
const figures: FuzzFigures[] = [];

// On a developer's machine without the venv the fuzz is skipped, saying so; in CI it must run.
const describeIf = binary ? describe : describe.skip;
if (!binary) console.warn('[schemathesis] not installed (.tools/venv/bin/schemathesis; node tools/setup.js installs it): the contract fuzz is skipped');
if (!binary && process.env.CI) test('schemathesis is installed in CI', () => { expect(schemathesisBinary()).toBeDefined(); });

describeIf('schemathesis over the OpenAPI document', () => {
  beforeAll(async () => {
    const url = new URL(process.env.PATCHFLOW_TEST_DATABASE_URL!);
    const name = `patchflow_fuzz_${Date.now()}`;
    const admin = new PgClient({ connectionString: url.toString() });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    url.pathname = `/${name}`;
    await runMigrations(url.toString());
    // Hundreds of requests without a key come from one address: the lockout would answer 429 to all
    // that follow (its own test is auth-throttle.test.ts).
    h = await startHarness({ databaseUrl: url.toString(), app: { authFailureLimits: { maxFailures: 1_000_000 } } });
    reportDir = path.join(h.scratch, 'schemathesis');
    fs.mkdirSync(reportDir, { recursive: true });
    // An enrolled device, whose credential the gateway run carries.
    const device = await h.createDevice();
    const enrolled = await h.api('POST', '/agent/v1/enroll', { enrollmentToken: device.enrollmentToken, bootId: 'boot-1', hostname: 'fuzz' });
    deviceCredential = enrolled.body.credential;
    specPath = path.join(reportDir, 'openapi.json');
    fs.writeFileSync(specPath, JSON.stringify(buildOpenApiDocument()));
  }, 120_000);

  afterAll(async () => {
    // Fuzzed schedules live in Temporal too: remove them with their rows.
    try {
      const { rows } = await h.db.query<{ id: string }>('SELECT id FROM update_schedules');
      for (const r of rows) await h.api('DELETE', `/api/v1/schedules/${r.id}`);
    } finally {
      await h.stop();
    }
    if (figures.length > 0) {
      console.log([`[schemathesis] figures (seed ${BUDGET.seed}, ${BUDGET.maxExamples} fuzzing examples per operation, ${BUDGET.statefulExamples} stateful scenarios):`,
        ...figures.map((f) => `  ${f.name}: ${f.operations} operations, ${f.cases ?? '?'} test cases${f.links ? `, links ${f.links}` : ''}, ${f.failures} failures, ${f.errors} errors, ${f.seconds.toFixed(1)} s`)].join('\n'));
    }
  }, 120_000);

  // Who calls. A key of another tenant joins this list when tenants exist.
  const runs: FuzzRun[] = [
    { name: 'valid-key', headers: { 'X-API-Key': API_KEY } },
    { name: 'no-key', headers: {} },
    // The long poll waits up to 120 s by contract: the fuzz asks for no wait, or each case would hold
    // the run that long (the waiting itself is tested in api-limits.test.ts and slow-clients.test.ts).
    {
      name: 'device-credential', headers: () => ({ Authorization: `Bearer ${deviceCredential}` }), tags: ['agent gateway'], phases: ['examples', 'coverage', 'fuzzing'],
      parameters: { pollCommands: { wait: 0 } },
    },
  ];

  test.each(runs)('$name: no server error, every answer as specified, no route ignores its credential', async (run) => {
    const f = await runSchemathesis(binary!, run, {
      specPath, baseUrl: h.server.url, reportDir, checks: CHECKS, phases: ['examples', 'coverage', 'fuzzing', 'stateful'],
      maxExamples: BUDGET.maxExamples, statefulExamples: BUDGET.statefulExamples, seed: BUDGET.seed, maxSeconds: BUDGET.maxSeconds,
    });
    figures.push(f);
    if (f.exitCode !== 0 || f.failures > 0 || f.errors > 0 || process.env.SCHEMATHESIS_VERBOSE) console.log(f.output.slice(-20_000));
    expect({ exitCode: f.exitCode, problems: f.problems }).toEqual({ exitCode: 0, problems: [] });
    expect(f.operations).toBeGreaterThan(run.tags ? 2 : 60);
  }, 400_000);
});
