/**
 * The kill switch end to end (issue 14 part 2): the halt API reaching real running rollouts and
 * installs on real Temporal and PostgreSQL with simulated agents over HTTP; automatic halts recorded
 * and audited apart from operators'; and the `patchflow halt` / `resume` commands (the esbuild
 * bundle, as a child process) as operators run them.
 *
 * A fleet-wide halt reaches every running rollout and install in the namespace, so each one here is
 * resumed in a `finally`, and single-patch halts use KBs no other test file installs.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import { createRolloutActivities } from '../../activities/rollout-activities';
import { AUTOMATIC_UPDATE_WORKFLOW_TYPE, rolloutProgressQuery, type RolloutInput, type RolloutProgress, type RolloutResult } from '../../workflows/automatic-update.contract';
import type { InstallResult } from '../../workflows/install.contract';
import { API_KEY, FAST_TIMING, eventually, startHarness, type Harness, type MintedKey } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildCli, bundle } = require('../../tools/build-cli.js') as { buildCli(o?: { quiet?: boolean }): Promise<unknown>; bundle: string };

jest.setTimeout(180_000);

/** Server 2019 .NET update no other test file installs (the slow rollout's patch). */
const ROLLOUT_KB = 'KB5033904';
/** The automatic halt's failing Server 2019 patch (failing on these simulated devices only; never halted by KB). */
const FAILING_KB = 'KB5034232';
/** Halted and resumed through the CLI only (no device has it). */
const CLI_KB = 'KB5005463';

let h: Harness;
let dataDir: string;
let operator: MintedKey;
let approver: MintedKey;
let viewer: MintedKey;
const fleets: SimulatedFleet[] = [];

beforeAll(async () => {
  await buildCli({ quiet: true });
  h = await startHarness();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-halt-cli-'));
  [operator, approver, viewer] = await Promise.all([h.mintKey({ role: 'operator' }), h.mintKey({ role: 'approver' }), h.mintKey({ role: 'viewer' })]);
});

afterAll(async () => {
  // Whatever a failed test left: no halt of this file's may outlive it.
  for (const body of [{ all: true }, { kb: ROLLOUT_KB }, { kb: CLI_KB }]) await h.api('POST', '/api/v1/halt/resume', body);
  for (const f of fleets) await f.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  await h.stop();
});

interface Run { code: number | null; stdout: string; stderr: string }

/** The bundle, with the harness's API in PATCHFLOW_* variables and `key` (default: the bootstrap admin's). */
function cli(args: string[], key = API_KEY): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATCHFLOW_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      cwd: os.tmpdir(),
      env: { ...clean, DATA_DIR: dataDir, PATCHFLOW_API_URL: h.server.url, PATCHFLOW_API_KEY: key },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const ok = (r: Run) => {
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
};
const failed = (r: Run, message: RegExp) => {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(message);
  return r;
};

async function client(prefix: string) {
  const c = await h.api('POST', '/api/v1/clients', { name: `${prefix} ${randomUUID().slice(0, 8)}` });
  const s = await h.api('POST', `/api/v1/clients/${c.body.id}/sites`, { name: 'HQ' });
  return { clientId: c.body.id as string, siteId: s.body.id as string };
}

/** `n` enrolled Server 2019 devices of a new client, each with its simulated agent polling. */
async function fleetOf(prefix: string, n: number, options: Partial<SimulatedDeviceOptions>) {
  const { clientId, siteId } = await client(prefix);
  const devices = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const name = `${prefix}-${i}`;
    const d = await h.api('POST', '/api/v1/devices', { siteId, name, deviceType: 'server', os: 'server2019' });
    if (d.status !== 201) throw new Error(`device not created: ${JSON.stringify(d.body)}`);
    const device = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, os: 'server2019', sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)),
      seed: 7, rebootDurationMs: 300, downloadDurationMs: 1, ...options,
    });
    return { deviceId: d.body.device.id as string, device, enrollmentToken: d.body.enrollmentToken as string };
  }));
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices, pollWaitSeconds: 2 });
  fleets.push(fleet);
  await fleet.ready;
  return { clientId, devices };
}

/** A rollout of one patch over a client, started as a schedule would start it. */
async function startRollout(clientId: string, kb: string, extra: Partial<RolloutInput>) {
  const scheduleId = randomUUID();
  const input: RolloutInput = {
    scheduleId, scheduleName: `halt test ${scheduleId.slice(0, 6)}`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: clientId },
    timezone: 'UTC', distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' }, maxConcurrentDevices: 2, missedRun: 'skip',
    installTiming: FAST_TIMING, kbs: [kb], devicesPerRun: 1000, failureCap: 5, offlineAfterSeconds: 60,
    ...extra,
  };
  const workflowId = `automatic-update/${scheduleId}-halt-test`;
  const handle = await h.client.workflow.start(AUTOMATIC_UPDATE_WORKFLOW_TYPE, { taskQueue: h.taskQueue, workflowId, args: [input] });
  return { handle, workflowId, input };
}

/** The install workflows a rollout started (its children), by device. */
async function installsOf(rolloutId: string): Promise<string[]> {
  const { rows } = await h.db.query(`SELECT DISTINCT workflow_id FROM agent_commands WHERE workflow_id LIKE 'install/%' AND workflow_id LIKE $1`, [`%au-${rolloutId.split('/')[1]!.slice(0, 8)}-%`]);
  return rows.map((r) => r.workflow_id as string);
}

const auditOf = async (subject: string) =>
  (await h.db.query('SELECT actor, action, details, user_name FROM audit_log WHERE subject = $1 ORDER BY id', [subject])).rows;

test('POST /api/v1/halt stops a running rollout within seconds: no new device starts, none is left in execute; resume is explicit', async () => {
  // Six devices whose installer takes 4 s, two at a time.
  const { clientId, devices } = await fleetOf('HALT-SLOW', 6, { missingKbs: [ROLLOUT_KB], executeDurationMs: 4_000 });
  const { handle, workflowId } = await startRollout(clientId, ROLLOUT_KB, { maxConcurrentDevices: 2 });
  await eventually(async () => (devices.filter((d) => d.device.executionCount(ROLLOUT_KB) > 0).length === 2 ? true : undefined), 60_000, 'two devices executing');

  let resumed = false;
  try {
    const t0 = Date.now();
    const halt = await h.apiAs(operator.key, 'POST', '/api/v1/halt', { all: true, reason: 'helpdesk: .NET update breaks the line-of-business app' });
    expect(halt.status).toBe(201);
    expect(halt.body.halt).toMatchObject({ source: 'operator', kb: null, haltedBy: expect.stringContaining(operator.userName) });
    expect(halt.body.signalled.rollouts).toBeGreaterThanOrEqual(1);
    expect(halt.body.signalled.installs).toBeGreaterThanOrEqual(2);
    // The rollout holds the halt at once...
    const p = await eventually(async () => {
      const q = await handle.query(rolloutProgressQuery);
      return q.halted ? q : undefined;
    }, 5_000, 'the rollout to hold the halt');
    expect(p.halted).toMatchObject({ by: 'operator', reason: 'helpdesk: .NET update breaks the line-of-business app' });
    // ...and within seconds the two executing installs finished their patch and stopped.
    const drained = await eventually(async () => {
      const q = await handle.query(rolloutProgressQuery);
      return q.inFlight === 0 ? q : undefined;
    }, 30_000, 'the started installs to close');
    const stoppedWithinMs = Date.now() - t0;
    expect(stoppedWithinMs).toBeLessThan(20_000);
    expect(drained).toMatchObject({ started: 2, inFlight: 0, waiting: 4 });
    const installs = await installsOf(workflowId);
    expect(installs).toHaveLength(2);
    for (const id of installs) {
      const r = (await h.client.workflow.getHandle(id).result()) as InstallResult;
      expect(r.outcome).toBe('halted');
      expect(r.halted).toMatchObject({ step: 'execute', reason: 'helpdesk: .NET update breaks the line-of-business app' });
    }
    // Still halted a while later: nobody else started, nothing else executed.
    await new Promise((r) => setTimeout(r, 3_000));
    const later: RolloutProgress = await handle.query(rolloutProgressQuery);
    expect(later).toMatchObject({ started: 2, inFlight: 0, waiting: 4 });
    expect(devices.filter((d) => d.device.executionCount(ROLLOUT_KB) > 0)).toHaveLength(2);
    expect(await installsOf(workflowId)).toHaveLength(2);
    // GET /halt shows the operator's halt; an operator may halt but not resume (an approver's decision).
    const state = await h.apiAs(viewer.key, 'GET', '/api/v1/halt');
    expect(state.body.active).toEqual([expect.objectContaining({ source: 'operator', kb: null, reason: 'helpdesk: .NET update breaks the line-of-business app' })]);
    expect((await h.apiAs(operator.key, 'POST', '/api/v1/halt/resume', { all: true })).status).toBe(403);

    const resume = await h.apiAs(approver.key, 'POST', '/api/v1/halt/resume', { all: true });
    resumed = resume.status === 200;
    expect(resume.status).toBe(200);
    expect(resume.body.halt).toMatchObject({ source: 'operator', resumedBy: expect.stringContaining(approver.userName) });
    expect(resume.body.signalled.rollouts).toBeGreaterThanOrEqual(1);
    console.log(`halt API: rollout halted and its ${installs.length} executing installs closed ${stoppedWithinMs} ms after POST /api/v1/halt`);
  } finally {
    if (!resumed) await h.api('POST', '/api/v1/halt/resume', { all: true });
  }
  // Resumed: the other four start; the two halted ones stay as they ended (their patch ran once).
  const result = (await handle.result()) as RolloutResult;
  expect(result.outcome).toBe('completed');
  expect(result.halted).toBeUndefined();
  expect(result.counts.devices).toBe(6);
  for (const d of devices) expect(d.device.executionCount(ROLLOUT_KB)).toBe(1);
  // Both audited under the person, with the operator's halt marked as such.
  const audit = (await h.db.query(
    `SELECT action, details, user_name FROM audit_log WHERE action IN ('fleet.halted', 'fleet.resumed') AND subject = 'all' AND user_name = ANY($1::text[]) ORDER BY id`,
    [[operator.userName, approver.userName]],
  )).rows;
  expect(audit.map((a) => [a.action, a.user_name])).toEqual([['fleet.halted', operator.userName], ['fleet.resumed', approver.userName]]);
  expect(audit[0].details).toMatchObject({ by: 'operator', reason: 'helpdesk: .NET update breaks the line-of-business app' });
});

test('an automatic halt is recorded and audited as "system: rollout <id> auto-halt", listed apart from operators\' halts, and resumed only explicitly', async () => {
  // Three devices whose installer fails; one at a time; the rollout halts itself past 50% of 2 finished.
  const { clientId, devices } = await fleetOf('HALT-AUTO', 3, { missingKbs: [FAILING_KB], exitCodes: { [FAILING_KB]: [0x80070643, 0x80070643, 0x80070643] } });
  const { handle, workflowId, input } = await startRollout(clientId, FAILING_KB, { maxConcurrentDevices: 1, autoHalt: { failureRate: 0.5, minFinished: 2 } });
  const auto = await eventually(async () => {
    const s = await h.apiAs(viewer.key, 'GET', '/api/v1/halt');
    return s.body.automatic.active.find((a: any) => a.workflowId === workflowId);
  }, 90_000, 'the automatic halt in GET /halt').catch(async (err) => {
    console.log(`rollout at the timeout: ${JSON.stringify(await handle.query(rolloutProgressQuery))}`);
    throw err;
  });
  expect(auto).toMatchObject({
    source: 'automatic', scheduleId: input.scheduleId, scheduleName: input.scheduleName,
    reason: 'failure rate 100.0% of 2 > 50%', haltedBy: `system: rollout ${workflowId} auto-halt`, resumedAt: null, endedAt: null,
  });
  expect((await handle.query(rolloutProgressQuery)).halted).toMatchObject({ by: 'automatic' });
  expect(devices.filter((d) => d.device.executionCount(FAILING_KB) > 0)).toHaveLength(2);
  // In the audit log as the system's, not a person's.
  const audit = await auditOf(workflowId);
  expect(audit).toEqual([expect.objectContaining({
    actor: `system: rollout ${workflowId} auto-halt`, action: 'rollout.auto_halted', user_name: null,
    details: expect.objectContaining({ by: 'automatic', reason: 'failure rate 100.0% of 2 > 50%', failed: 2, finished: 2, failureRate: 0.5 }),
  })]);
  // The activity again (a retry): nothing more is written.
  await createRolloutActivities({ db: h.db, log: pino({ level: 'silent' }) }).recordAutoHalt({
    workflowId, scheduleId: input.scheduleId, scheduleName: input.scheduleName, reason: 'failure rate 100.0% of 2 > 50%', failed: 2, finished: 2, failureRate: 0.5,
  });
  expect(await auditOf(workflowId)).toHaveLength(1);

  // `halt status` shows it under automatic halts; a fleet resume does not lift it.
  const status = ok(await cli(['halt', 'status'], viewer.key)).stdout;
  expect(status).toMatch(/Automatic halts in force/);
  expect(status).toContain(workflowId);
  expect(status).toMatch(/automatic .* failure rate 100\.0% of 2 > 50%/);
  expect((await h.apiAs(approver.key, 'POST', '/api/v1/halt/resume', { all: true })).status).toBe(404);

  const resumed = ok(await cli(['resume', '--rollout', workflowId], approver.key)).stdout;
  expect(resumed).toMatch(new RegExp(`RESUMED rollout ${workflowId.replace(/[/.]/g, '\\$&')} \\(${input.scheduleName}\\), automatic halt by user:${approver.userName}`));
  const result = (await handle.result()) as RolloutResult;
  expect(result).toMatchObject({ outcome: 'completed', counts: { devices: 3, failed: 3 } });
  expect(result.halted).toBeUndefined();
  const after = (await h.api('GET', '/api/v1/halt')).body;
  expect(after.automatic.active.some((a: any) => a.workflowId === workflowId)).toBe(false);
  expect(after.automatic.recent.find((a: any) => a.workflowId === workflowId)).toMatchObject({ resumedBy: expect.stringContaining(approver.userName) });
  expect((await auditOf(workflowId)).map((a) => [a.action, a.user_name])).toEqual([['rollout.auto_halted', null], ['rollout.auto_halt_resumed', approver.userName]]);
  // Nothing left to resume: the CLI says so, exit 1.
  failed(await cli(['resume', '--rollout', workflowId], approver.key), /no automatic halt of rollout .* is in force/);
});

test('patchflow halt --patch / halt status / resume --patch: one command each, clear output, exit 1 on every refusal', async () => {
  const halted = ok(await cli(['halt', '--patch', CLI_KB.toLowerCase(), '--reason', 'vendor pulled it'], operator.key)).stdout;
  expect(halted).toMatch(new RegExp(`^HALTED ${CLI_KB} fleet-wide by user:${operator.userName}.*: vendor pulled it$`, 'm'));
  expect(halted).toMatch(/^signalled \d+ running rollouts?, \d+ releases?, \d+ installs?/m);
  expect(halted).toContain(`patchflow resume --patch ${CLI_KB}`);
  // Again: the first halt stands (its reason and actor), signalled again, still exit 0.
  expect(ok(await cli(['halt', '--patch', CLI_KB, '--reason', 'again'], operator.key)).stdout).toMatch(new RegExp(`^${CLI_KB} already halted since .* by user:${operator.userName}.*: vendor pulled it$`, 'm'));

  const status = ok(await cli(['halt', 'status'], viewer.key)).stdout;
  expect(status).toMatch(/Operator halts in force \(kill switch\):/);
  expect(status).toMatch(new RegExp(`^${CLI_KB}\\s+operator\\s+user:${operator.userName}\\S*\\s+\\d{4}-\\d\\d-\\d\\d .* UTC\\s+vendor pulled it$`, 'm'));
  const json = JSON.parse(ok(await cli(['halt', 'status', '-o', 'json'], viewer.key)).stdout);
  expect(json).toEqual((await h.api('GET', '/api/v1/halt')).body);

  // Refusals: a viewer cannot halt, an operator cannot resume, no scope or two scopes, a bad KB.
  failed(await cli(['halt', '--all'], viewer.key), /HTTP 403/);
  failed(await cli(['resume', '--patch', CLI_KB], operator.key), /HTTP 403/);
  failed(await cli(['halt', '--reason', 'x'], operator.key), /give exactly one of --all or --patch <KB>/);
  failed(await cli(['resume', '--all', '--patch', CLI_KB], approver.key), /give exactly one of --all, --patch <KB> or --rollout <workflowId>/);
  failed(await cli(['halt', '--patch', 'KB1'], operator.key), /kb/i);

  const resumed = ok(await cli(['resume', '--patch', CLI_KB], approver.key)).stdout;
  expect(resumed).toMatch(new RegExp(`^RESUMED ${CLI_KB} by user:${approver.userName}\\S*; it was halted since .* by user:${operator.userName}\\S*: vendor pulled it$`, 'm'));
  failed(await cli(['resume', '--patch', CLI_KB], approver.key), new RegExp(`no halt of ${CLI_KB} is in force`));
  expect(ok(await cli(['halt', 'status'], viewer.key)).stdout).toMatch(new RegExp(`Last resumed: ${CLI_KB} by user:${approver.userName}`));
});

test('patchflow halt --all then resume --all', async () => {
  try {
    const r = ok(await cli(['halt', '--all', '--reason', 'Patch Tuesday freeze'], operator.key)).stdout;
    expect(r).toMatch(new RegExp(`^HALTED all patches fleet-wide by user:${operator.userName}\\S*: Patch Tuesday freeze$`, 'm'));
    expect(r).toMatch(/No new device starts; .* Resume: patchflow resume --all/);
    expect(ok(await cli(['halt', 'status'], viewer.key)).stdout).toMatch(/^all patches\s+operator\s+/m);
  } finally {
    const back = await cli(['resume', '--all'], approver.key);
    expect(ok(back).stdout).toMatch(/^RESUMED all patches by /m);
  }
  expect(ok(await cli(['halt', 'status'], viewer.key)).stdout).toMatch(/^No halt in force/m);
});
