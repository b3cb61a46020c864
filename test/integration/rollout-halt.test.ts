/**
 * The kill switch and the automatic halt of an Automatic Update rollout (issue 14), on Temporal's
 * time-skipping test server with fake activities: the real automaticUpdateWorkflow and its real
 * deviceInstallWorkflow children.
 */
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { automaticUpdateWorkflow } from '../../workflows/automatic-update';
import {
  AUTOMATIC_UPDATE_WORKFLOW_TYPE, haltRolloutSignal, resumeRolloutSignal, rolloutProgressQuery,
  type FleetHaltState, type RolloutInput, type RolloutProgress,
} from '../../workflows/automatic-update.contract';
import { type InstallResult } from '../../workflows/install.contract';
import { childOf, createFakeActivities, deviceCommands, executedKbs, goAheadFromInstall, type FakeOptions } from './fake-activities';
import { maybeRecordHistory } from './harness';
import { useTimeSkippingEnvironment } from './time-skipping';

jest.setTimeout(60_000);

const env = useTimeSkippingEnvironment();


async function until(what: string, check: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setUp(fake: FakeOptions, overrides: Partial<RolloutInput> = {}) {
  // The agent's go-ahead before each patch comes from the install, as through the gateway.
  const fakes = createFakeActivities({ goAhead: goAheadFromInstall(env.client, () => env.currentTimeMs()), ...fake });
  const scheduleId = randomUUID();
  const input: RolloutInput = {
    scheduleId, scheduleName: 'Nightly workstations', kind: 'automatic_update', scope: { scopeType: 'all', scopeId: '' },
    timezone: 'UTC', distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' },
    maxConcurrentDevices: 2, missedRun: 'skip',
    ...overrides,
  };
  const workflowId = `automatic-update/${scheduleId}-test`;
  const { worker, taskQueue } = await env.fakeWorker('rollout-halt', fakes.activities);
  const start = () => env.client.workflow.start<typeof automaticUpdateWorkflow>(AUTOMATIC_UPDATE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input] });
  return { ...fakes, input, workflowId, worker, start };
}

test('kill switch mid-rollout: no new device starts, executing installs finish their patch and stop, none is left in execute; resume continues', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  let gated = true;
  const s = await setUp({ devices: 6, whileExecuting: () => (gated ? gate : Promise.resolve()) });
  const seen = await s.worker.runUntil(async () => {
    const handle = await s.start();
    // Two slots: two devices reach their first patch and hang there (one execute_patches command each).
    await until('two executes', () => deviceCommands(s.calls).filter((c) => c.type === 'execute_patches').length === 2);
    await handle.signal(haltRolloutSignal, { reason: 'bad CU reported by the helpdesk', by: 'user:alice/key:ops' });
    const halted = await handle.query(rolloutProgressQuery);
    gated = false;
    release();
    // In real time (a time-skipping wait here would skip the halted rollout's clock to its timeout).
    await until('both installs closed', async () => (await handle.query(rolloutProgressQuery)).inFlight === 0);
    const first = s.devices.slice(0, 2).map((d) => d.deviceId);
    // A plain client: its result() does not unlock time skipping.
    const plain = new Client({ connection: env.connection, namespace: env.namespace });
    const installs = await Promise.all(first.map((id) => plain.workflow.getHandle(childOf(s.calls, id)).result() as Promise<InstallResult>));
    // Every started install is closed (none in execute), and the rollout started nobody else.
    const whileHalted = await handle.query(rolloutProgressQuery);
    const commandsWhileHalted = deviceCommands(s.calls).length;
    await handle.signal(resumeRolloutSignal, { by: 'user:bob/key:approver' });
    const result = await handle.result();
    return { halted, installs, whileHalted, commandsWhileHalted, result };
  });
  expect(seen.halted).toMatchObject({ started: 2, halted: { by: 'operator', reason: 'bad CU reported by the helpdesk', actor: 'user:alice/key:ops' } });
  for (const r of seen.installs) {
    expect(r.outcome).toBe('halted');
    expect(r.halted).toMatchObject({ by: 'user:alice/key:ops', step: 'execute' });
  }
  for (const id of s.devices.slice(0, 2).map((d) => d.deviceId)) {
    // the patch in hand finished; the second got no go-ahead (halted); no reboot; post-scan and cleanup ran
    expect(deviceCommands(s.calls, id).map((c) => c.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'scan', 'cleanup']);
    expect(executedKbs(s.calls, id)).toHaveLength(1);
    const batch = deviceCommands(s.calls, id).find((c) => c.type === 'execute_patches')!.result as { patches: { status: string; reason?: string }[] };
    expect(batch.patches.map((p) => p.reason ?? p.status)).toEqual(['executed', 'halted']);
  }
  expect(seen.whileHalted).toMatchObject({ started: 2, inFlight: 0, waiting: 4, halted: { by: 'operator' } });
  // While halted, only the two started devices' commands (6 each) had been sent.
  expect(seen.commandsWhileHalted).toBe(12);
  // Resumed: the other four ran whole installs, and the rollout completed with no halt in force.
  expect(seen.result.outcome).toBe('completed');
  expect(seen.result.halted).toBeUndefined();
  expect(seen.result.counts).toMatchObject({ devices: 6, done: 6, failed: 0 });
  for (const d of s.devices.slice(2)) {
    expect(deviceCommands(s.calls, d.deviceId).map((c) => c.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'reboot', 'scan', 'cleanup']);
  }
  await maybeRecordHistory(env.client, s.workflowId, 'automaticUpdateWorkflow-halted-by-operator');
});

test('automatic halt: at a 10% failure rate over a 5% threshold the rollout halts itself after 20 finished, and ends halted when cancelled', async () => {
  // 40 devices, one at a time; every tenth fails its executes (devices 5, 15, 25, 35).
  const s = await setUp({ devices: 40, failDevices: new Set([5, 15, 25, 35]) }, { maxConcurrentDevices: 1, autoHalt: { failureRate: 0.05, minFinished: 20 } });
  const seen = await s.worker.runUntil(async () => {
    const handle = await s.start();
    let progress: RolloutProgress | undefined;
    await until('the automatic halt', async () => (progress = await handle.query(rolloutProgressQuery)).halted !== undefined, 120_000);
    // A fleet resume does not end the rollout's own automatic halt.
    await handle.signal(resumeRolloutSignal, { by: 'user:bob', fleet: true });
    const afterFleetResume = await handle.query(rolloutProgressQuery);
    await handle.cancel();
    return { progress: progress!, afterFleetResume, result: await handle.result() };
  });
  const halt = { by: 'automatic', reason: 'failure rate 10.0% of 20 > 5%' };
  expect(seen.progress).toMatchObject({ started: 20, halted: halt });
  expect(seen.afterFleetResume.halted).toMatchObject(halt);
  expect(seen.result).toMatchObject({ outcome: 'halted', halted: halt });
  expect(seen.result.counts).toMatchObject({ devices: 40, done: 18, failed: 2 });
  const started = new Set(deviceCommands(s.calls).map((c) => c.deviceId));
  expect(started.size).toBe(20);
  for (const d of s.devices.slice(20)) expect(started.has(d.deviceId)).toBe(false);
  expect(s.calls.filter((c) => c.activity === 'finishRollout')).toHaveLength(1);
  // Recorded and audited once, as the rollout's own (automatic) halt, with the figures that crossed the threshold.
  expect(s.calls.filter((c) => c.activity === 'recordAutoHalt').map((c) => c.payload)).toEqual([{
    workflowId: s.workflowId, scheduleId: s.input.scheduleId, scheduleName: 'Nightly workstations',
    reason: 'failure rate 10.0% of 20 > 5%', failed: 2, finished: 20, failureRate: 0.05,
  }]);
  await maybeRecordHistory(env.client, s.workflowId, 'automaticUpdateWorkflow-auto-halted-recorded');
});

test('a rollout started while a fleet halt is active starts no device until resumed', async () => {
  let fleet: FleetHaltState = { all: { reason: 'Patch Tuesday freeze', by: 'user:alice', at: '2026-12-02T10:00:00.000Z' }, kbs: [] };
  const s = await setUp({ devices: 3, fleetHalt: () => fleet });
  const seen = await s.worker.runUntil(async () => {
    const handle = await s.start();
    await until('the rollout reads the halt', async () => (await handle.query(rolloutProgressQuery)).halted !== undefined);
    await env.sleep(3_600_000); // an hour of workflow time: still nothing starts
    const whileHalted = await handle.query(rolloutProgressQuery);
    const commandsWhileHalted = deviceCommands(s.calls).length;
    fleet = { kbs: [] };
    await handle.signal(resumeRolloutSignal, { by: 'user:bob', fleet: true });
    return { whileHalted, commandsWhileHalted, result: await handle.result() };
  });
  expect(seen.whileHalted).toMatchObject({ started: 0, waiting: 3, halted: { by: 'operator', reason: 'Patch Tuesday freeze', actor: 'user:alice' } });
  expect(seen.commandsWhileHalted).toBe(0);
  expect(s.calls.findIndex((c) => c.activity === 'readFleetHalt')).toBeLessThan(s.calls.findIndex((c) => c.activity === 'listRolloutDevices'));
  expect(seen.result).toMatchObject({ outcome: 'completed', counts: { devices: 3, done: 3 } });
});

test('a fleet halt of one KB: devices started afterwards install the other patch only', async () => {
  const s = await setUp({ devices: 2, fleetHalt: () => ({ kbs: [{ kb: 'KB5034763', reason: 'boot loop reports', by: 'user:alice', at: '2026-12-02T10:00:00.000Z' }] }) });
  const result = await s.worker.runUntil(async () => (await s.start()).result());
  expect(result).toMatchObject({ outcome: 'completed', counts: { devices: 2, done: 2 }, haltedKbs: [{ kb: 'KB5034763', by: 'user:alice' }] });
  for (const d of s.devices) {
    expect(executedKbs(s.calls, d.deviceId)).toEqual(['KB5034441']);
  }
});
