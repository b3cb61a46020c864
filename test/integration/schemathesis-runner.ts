import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Runs schemathesis (pinned in tools/requirements.txt, installed into .tools/venv by tools/setup.js)
 * over the OpenAPI document against a running server, once per `FuzzRun`, and reads the figures
 * from its JUnit report. A run is a name and the headers every request carries, with a hooks file
 * of its own checks where it has one (the other tenant's: no other client's ids in any answer).
 */

export interface FuzzRun {
  name: string;
  /** sent with every request (e.g. X-API-Key); none: anonymous. A function: read when the run starts. */
  headers: Record<string, string> | (() => Record<string, string>);
  /** only the operations with these tags (default: all) */
  tags?: string[];
  /** operations left out of this run, by operation id (say why where the run is listed) */
  excludeOperationIds?: string[];
  /** this run's phases (default: the options'); a run filtered to a few operations has no links to follow */
  phases?: string[];
  /** fixed parameter values by operation id (schemathesis.toml `[[operations]] parameters`); a function: read when the run starts */
  parameters?: Parameters | (() => Parameters);
  /** a schemathesis hooks file (Python) whose checks this run adds: the path and the checks' names */
  hooks?: { file: string; checks: string[] };
  /** environment for schemathesis (and its hooks), read when the run starts */
  env?: () => Promise<Record<string, string>>;
}

type Parameters = Record<string, Record<string, string | number | boolean>>;

export interface FuzzOptions {
  specPath: string;
  baseUrl: string;
  /** test cases per operation in the fuzzing phase (the coverage phase makes every case the schema defines) */
  maxExamples: number;
  /** scenarios of the stateful phase, which follows the links */
  statefulExamples: number;
  seed: number;
  reportDir: string;
  /** the gate (schemathesis --checks) */
  checks: string[];
  phases: string[];
  /** the run is killed past this many seconds (the budget itself is maxExamples) */
  maxSeconds: number;
}

export interface FuzzFigures {
  name: string;
  /** operations tested (JUnit test cases) */
  operations: number;
  /** test cases generated, from schemathesis's summary */
  cases: number | undefined;
  /** API links the stateful phase followed, of those selected ("5 covered / 378 selected") */
  links: string | undefined;
  failures: number;
  errors: number;
  seconds: number;
  exitCode: number | null;
  /** the failing operations with what schemathesis said, for the test's message */
  problems: string[];
  output: string;
}

/** .tools/venv's schemathesis, or SCHEMATHESIS_BIN (a venv of one's own while trying a new pin). */
export function schemathesisBinary(root = path.join(__dirname, '..', '..')): string | undefined {
  const candidates = [process.env.SCHEMATHESIS_BIN, path.join(root, '.tools', 'venv', process.platform === 'win32' ? 'Scripts' : 'bin', 'schemathesis')];
  return candidates.find((c): c is string => !!c && fs.existsSync(c));
}

export async function runSchemathesis(binary: string, run: FuzzRun, options: FuzzOptions): Promise<FuzzFigures> {
  const junit = path.join(options.reportDir, `${run.name}.xml`);
  const config = path.join(options.reportDir, `${run.name}.toml`);
  fs.writeFileSync(config, [
    `[phases.fuzzing.generation]\nmax-examples = ${options.maxExamples}\n`,
    `[phases.stateful.generation]\nmax-examples = ${options.statefulExamples}\n`,
    ...Object.entries((typeof run.parameters === 'function' ? run.parameters() : run.parameters) ?? {}).map(([operationId, values]) =>
      `[[operations]]\ninclude-operation-id = ${JSON.stringify(operationId)}\nparameters = { ${Object.entries(values).map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`).join(', ')} }\n`),
  ].join('\n'));
  const args = [
    '--config-file', config, 'run', options.specPath, '--url', options.baseUrl,
    '--checks', [...options.checks, ...(run.hooks?.checks ?? [])].join(','), '--phases', (run.phases ?? options.phases).join(','),
    '--seed', String(options.seed),
    '--workers', '1', '--request-timeout', '10',
    '--report', 'junit', '--report-junit-path', junit, '--no-color', '--output-truncate', 'true',
    ...Object.entries(typeof run.headers === 'function' ? run.headers() : run.headers).flatMap(([name, value]) => ['-H', `${name}: ${value}`]),
    ...(run.tags ?? []).flatMap((tag) => ['--include-tag', tag]),
    ...(run.excludeOperationIds ?? []).flatMap((id) => ['--exclude-operation-id', id]),
  ];
  const env = { ...process.env, ...(await run.env?.()), SCHEMATHESIS_HOOKS: run.hooks?.file ?? '' };
  const started = Date.now();
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    // In the report folder: schemathesis keeps a cache (.schemathesis/) where it runs.
    const child = spawn(binary, args, { cwd: options.reportDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const killer = setTimeout(() => child.kill('SIGKILL'), options.maxSeconds * 1_000);
    child.on('error', reject);
    child.on('close', (c) => { clearTimeout(killer); resolve({ code: c, output: out }); });
  });
  const seconds = (Date.now() - started) / 1000;
  const xml = fs.existsSync(junit) ? fs.readFileSync(junit, 'utf8') : '';
  const attr = (name: string) => Number(new RegExp(`<testsuite[^>]*\\s${name}="(\\d+)"`).exec(xml)?.[1] ?? NaN);
  const problems = [...xml.matchAll(/<testcase[^>]*name="([^"]+)"[^>]*>\s*<(failure|error)[^>]*message="([^"]*)"/g)].map((m) => `${m[1]}: ${m[3]}`);
  // "N passed, M failed ... in Xs" and "Test cases: N generated, ..." (schemathesis 4's summary)
  const generated = /Test cases:\s*\n?\s*(\d+) generated/i.exec(output) ?? /(\d+) generated/.exec(output);
  const links = /API Links:\s+(\d+ covered \/ \d+ selected)/.exec(output)?.[1];
  return {
    name: run.name, operations: attr('tests'), cases: generated ? Number(generated[1]) : undefined, links,
    failures: attr('failures'), errors: attr('errors'), seconds, exitCode: code, problems, output,
  };
}
