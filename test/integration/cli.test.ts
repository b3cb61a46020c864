/**
 * The operators' CLI as operators run it: the esbuild bundle (tools/build-cli.js), as a child process,
 * against the real API, Temporal and PostgreSQL of the harness. Each command's answer is compared with
 * the API's own, in the output modes scripts read (json, jsonl), and errors must be on stderr with exit 1.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stampNewPatches } from '../../db/approval-repository';
import { writeLocalApi } from '../../cli/local-api';
import { runProcess, type ProcessRun as Run } from '../run-process';
import { API_KEY, startHarness, type Harness } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildCli, bundle } = require('../../tools/build-cli.js') as { buildCli(o?: { quiet?: boolean }): Promise<unknown>; bundle: string };

jest.setTimeout(120_000);

let h: Harness;
let device: Awaited<ReturnType<Harness['createDevice']>>;
let kb: string;
const policies: string[] = [];
const rules: string[] = [];
const scans: string[] = [];
let dataDir: string;

beforeAll(async () => {
  await buildCli({ quiet: true }); // a no-op when the bundle is newer than its sources
  // The run's database holds every file's devices: fleet-wide actions must not wait for a second person here.
  h = await startHarness({ startWorker: false, app: { twoPersonRule: { deviceThreshold: 1_000_000 } } });
  device = await h.createDevice();
  // One catalog patch of this file's own (the scan pipeline is not what this file tests), stamped in every policy.
  kb = `KB${9_100_000 + Math.floor(Math.random() * 800_000)}`;
  const updateId = randomUUID();
  await h.db.query(
    `INSERT INTO patches (update_id, revision, kb, title, product, classification, severity, size_bytes, sha256,
                          download_url, file_name, reboot_behavior, install_type, superseded_by, uninstallable)
     VALUES ($1, 1, $2, $2 || ' CLI test patch', 'Windows Server 2022', 'Security Updates', 'Critical', 1000, repeat('a', 64),
             'https://example.test/' || $2, lower($2) || '.msu', 'CanRequestReboot', 'normal', NULL, false)`,
    [updateId, kb],
  );
  await stampNewPatches(h.db, [{ updateId, kb, classification: 'Security Updates', product: 'Windows Server 2022', severity: 'Critical' } as never]);
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-cli-data-'));
});

afterAll(async () => {
  // Leave nothing that other files' counts could see: memberships, rules, running scans, the override.
  await h.db.query('DELETE FROM policy_members WHERE policy_id = ANY($1::uuid[])', [policies]);
  for (const id of rules) await h.api('DELETE', `/api/v1/alert-rules/${id}`);
  for (const id of scans) await h.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
  await h.db.query('DELETE FROM kb_overrides WHERE kb = $1', [kb]);
  fs.rmSync(dataDir, { recursive: true, force: true });
  await h.stop();
});

/** The bundle itself (not bin.js, which could fall back to tsx), with the harness's API in PATCHFLOW_* variables. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATCHFLOW_')));
  return runProcess(process.execPath, [bundle, ...args], {
    cwd: os.tmpdir(),
    env: { ...clean, DATA_DIR: dataDir, PATCHFLOW_API_URL: h.server.url, PATCHFLOW_API_KEY: API_KEY, ...env },
  });
}

const ok = (r: Run) => {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
};
const jsonl = (r: Run) => ok(r).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('clients list -o jsonl prints one client per line, the same as the API lists', async () => {
  const lines = jsonl(await cli(['clients', 'list', '-o', 'jsonl']));
  const viaApi = (await h.api('GET', '/api/v1/clients')).body.clients;
  expect(lines).toEqual(viaApi);
  expect(lines.some((c: any) => c.id === device.clientId)).toBe(true);
  // --json stays the alias of -o json: one document of the same rows.
  expect(JSON.parse(ok(await cli(['--json', 'clients', 'list'])).stdout)).toEqual(viaApi);
});

test('a policy through the CLI: create, add the site as member, show, summary, approvals by policy', async () => {
  const name = `CLI policy ${randomUUID().slice(0, 6)}`;
  const created = JSON.parse(ok(await cli(['policies', 'create', name, '--fallback', 'pending', '--deny-superseded', 'on', '-o', 'json'])).stdout);
  policies.push(created.id);
  expect(created).toMatchObject({ name, fallbackDefault: 'pending_approval', denySuperseded: true });

  const added = JSON.parse(ok(await cli(['policies', 'members', 'add', created.id, `site:${device.siteId}`, '-o', 'json'])).stdout);
  expect(added.members).toEqual([expect.objectContaining({ scopeType: 'site', scopeId: device.siteId, devices: 1 })]);

  const shown = ok(await cli(['policies', 'show', created.id]));
  expect(shown.stdout).toMatch(new RegExp(`Name\\s+${name}`));
  expect(shown.stdout).toMatch(new RegExp(`site\\s+${device.siteId}\\s+.* / HQ\\s+1`));

  const set = JSON.parse(ok(await cli(['policies', 'approvals', 'set', created.id, '--kb', kb, '--status', 'approved', '-o', 'json'])).stdout);
  expect(set.approvals).toEqual([expect.objectContaining({ kb, status: 'approved', source: 'explicit' })]);

  const summary = JSON.parse(ok(await cli(['policies', 'summary', created.id, '--group-by', 'classification', '-o', 'json'])).stdout);
  expect(summary).toEqual((await h.api('GET', `/api/v1/policies/${created.id}/summary?groupBy=classification`)).body);

  // The device's decision names the approval; the text view gives the resolver's reason.
  const decisions = JSON.parse(ok(await cli(['approvals', 'device', device.deviceId, '-o', 'json'])).stdout);
  expect(decisions.policyIds).toEqual([created.id]);

  const listed = jsonl(await cli(['policies', 'list', '-o', 'jsonl']));
  expect(listed.find((p: any) => p.id === created.id)).toMatchObject({ members: 1 });
});

test('Approval by Patch, an action by scope and a KB override, each audited under the key', async () => {
  const catalog = jsonl(await cli(['approvals', 'list', '--kb', kb, '-o', 'jsonl']));
  expect(catalog.map((p: any) => p.kb)).toEqual([kb]);

  const action = JSON.parse(ok(await cli(['patch-actions', 'set', 'ignore', '--scope', `site:${device.siteId}`, '--kb', kb, '-o', 'json'])).stdout);
  expect(action).toMatchObject({ action: 'ignore', patches: 1 });
  const actions = jsonl(await cli(['patch-actions', 'list', '--scope', `site:${device.siteId}`, '-o', 'jsonl']));
  expect(actions).toEqual([expect.objectContaining({ scopeType: 'site', scopeId: device.siteId, kb, action: 'ignore' })]);

  const override = ok(await cli(['kb-overrides', 'set', kb, 'denied']));
  expect(override.stdout.trim()).toBe(`${kb}: no override → denied in all policies`);
  expect(jsonl(await cli(['kb-overrides', 'list', '-o', 'jsonl'])).find((o: any) => o.kb === kb)).toMatchObject({ status: 'denied' });
  expect(ok(await cli(['kb-overrides', 'clear', kb])).stdout.trim()).toBe(`${kb}: override denied cleared`);

  const audit = await h.db.query(
    `SELECT action FROM audit_log WHERE (subject = $1 OR subject = $2) AND action IN ('patch.action_set', 'kb_override.set', 'kb_override.cleared') ORDER BY id`,
    [`site:${device.siteId}`, kb],
  );
  expect(audit.rows.map((r) => r.action)).toEqual(expect.arrayContaining(['patch.action_set', 'kb_override.cleared']));
});

test('a scope scan, an alert rule and a per-patch schedule', async () => {
  const started = JSON.parse(ok(await cli(['scans', 'start', '--scope', `site:${device.siteId}`, '-o', 'json'])).stdout);
  expect(started.scans).toEqual([expect.objectContaining({ deviceId: device.deviceId, workflowId: expect.stringMatching(`^scan/${device.deviceId}/`) })]);
  scans.push(started.scans[0].workflowId);

  const rule = JSON.parse(ok(await cli([
    'alert-rules', 'create', 'CLI failures', '--condition', 'patch_failed', '--webhook', 'https://hooks.example.test/pf', '--client', device.clientId, '-o', 'json',
  ])).stdout);
  rules.push(rule.id);
  expect(rule).toMatchObject({ clientId: device.clientId, condition: 'patch_failed', enabled: true, webhookSecret: expect.any(String) });
  expect(ok(await cli(['alert-rules', 'disable', rule.id])).stdout.trim()).toBe('CLI failures: disabled');
  expect(jsonl(await cli(['alert-rules', 'list', '-o', 'jsonl'])).find((r: any) => r.id === rule.id)).toMatchObject({ enabled: false });

  const schedule = JSON.parse(ok(await cli([
    'schedules', 'create', `CLI per-patch ${randomUUID().slice(0, 6)}`, '--kind', 'automatic_update', '--scope', `site:${device.siteId}`,
    '--timing', '{"kind":"daily","time":"03:00","timezone":"UTC"}', '--kbs', kb.toLowerCase(), '-o', 'json',
  ])).stdout);
  try {
    expect(schedule).toMatchObject({ kbs: [kb], scopeType: 'site', scopeId: device.siteId });
  } finally {
    await h.api('DELETE', `/api/v1/schedules/${schedule.id}`);
  }
});

test('an API error is on stderr with exit 1 and nothing on stdout, in every output mode', async () => {
  const missing = randomUUID();
  for (const mode of ['text', 'json', 'jsonl']) {
    const r = await cli(['policies', 'show', missing, '-o', mode]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error: .*${missing}.* \\(HTTP 404\\)`));
  }
  const refused = await cli(['patch-actions', 'set', 'sometimes', '--scope', `site:${device.siteId}`, '--kb', kb]);
  expect(refused).toMatchObject({ code: 1, stdout: '' });
  expect(refused.stderr).toMatch(/^error: action must be one of inherit, approve, ignore, do_nothing, reprocess_failed, uninstall, got "sometimes"/);
});

test('with no --api-url it finds the API through DATA_DIR/api.json and the key in DATA_DIR/api-key', async () => {
  writeLocalApi(dataDir, { url: h.server.url });
  fs.writeFileSync(path.join(dataDir, 'api-key'), API_KEY, { mode: 0o600 });
  const r = ok(await cli(['whoami', '-o', 'json'], { PATCHFLOW_API_URL: undefined, PATCHFLOW_API_KEY: undefined }));
  expect(JSON.parse(r.stdout)).toMatchObject({ user: 'admin', role: 'admin' });
  // PATCHFLOW_DATA_DIR names the folder as --data-dir does, over DATA_DIR.
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-cli-other-'));
  try {
    writeLocalApi(other, { url: h.server.url });
    fs.writeFileSync(path.join(other, 'api-key'), API_KEY, { mode: 0o600 });
    const viaVariable = ok(await cli(['whoami'], { PATCHFLOW_API_URL: undefined, PATCHFLOW_API_KEY: undefined, DATA_DIR: os.tmpdir(), PATCHFLOW_DATA_DIR: other }));
    expect(viaVariable.stdout).toMatch(/^admin \(admin\) with key /);
  } finally {
    fs.rmSync(other, { recursive: true, force: true });
  }
});

test('`temporal patchflow …` runs it as a Temporal CLI extension (temporal-patchflow on PATH)', async () => {
  const root = path.resolve(__dirname, '../..');
  const temporal = path.join(root, '.tools', 'venv', 'bin', 'temporal');
  const run = (args: string[]) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATCHFLOW_')));
    // bin/ holds temporal-patchflow (a link to cli/bin.js), as node_modules/.bin does after an install of the package.
    return runProcess(temporal, args, {
      cwd: os.tmpdir(),
      env: { ...clean, PATH: `${path.join(root, 'bin')}${path.delimiter}${process.env.PATH}`, PATCHFLOW_API_URL: h.server.url, PATCHFLOW_API_KEY: API_KEY },
    });
  };
  const help = ok(await run(['patchflow', '--help']));
  expect(help.stdout).toMatch(/^Usage: patchflow \[options\] \[command\]/);
  expect(help.stdout).toMatch(/policies\s+approval policies/);
  // The Temporal CLI hands `-o jsonl` on (it moves its own flags to the front): the extension reads it.
  const lines = jsonl(await run(['patchflow', 'clients', 'list', '-o', 'jsonl']));
  expect(lines.some((c: any) => c.id === device.clientId)).toBe(true);
  const failed = await run(['patchflow', 'policies', 'show', randomUUID()]);
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/^error: .*\(HTTP 404\)/);
});
