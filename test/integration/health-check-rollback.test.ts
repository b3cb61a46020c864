/**
 * Health check and automatic uninstall (issue 14 part 6), on Temporal's time-skipping server with the
 * real workflows and fake activities: a bad cumulative update stops a service on some devices; their
 * installs roll back what they installed (newest first), restart, check again, and count as failures
 * in the rollout's tally (the number a ring's gate reads). A removal that fails leaves the device
 * "needs attention", once, never in a loop.
 */
import { randomUUID } from 'node:crypto';
import { PatchStatus } from '../../domain/patch-status';
import type { automaticUpdateWorkflow } from '../../workflows/automatic-update';
import { AUTOMATIC_UPDATE_WORKFLOW_TYPE, type RolloutInput, type RolloutResult } from '../../workflows/automatic-update.contract';
import type { InstallResult } from '../../workflows/install.contract';
import { BAD_UPDATE_ID, childOf, createFakeActivities, deviceCommands, type CallRecord, type FakeOptions } from './fake-activities';
import { maybeRecordHistory } from './harness';
import { useTimeSkippingEnvironment } from './time-skipping';

jest.setTimeout(180_000);

const OLDER_ID = '0e5c5a3a-6f0f-4b0e-9f8e-5d3d1c2b1a01';
const env = useTimeSkippingEnvironment();

const HEALTH_CHECK = { check: { kind: 'services_running' as const, services: ['Spooler', 'W32Time'] }, settleSeconds: 120 };

async function runRollout(fake: FakeOptions, overrides: Partial<RolloutInput> = {}): Promise<{ result: RolloutResult; calls: CallRecord[]; deviceIds: string[] }> {
  const { activities, calls, devices } = createFakeActivities(fake);
  const scheduleId = randomUUID();
  const input: RolloutInput = {
    scheduleId, scheduleName: 'Pilot ring', kind: 'automatic_update', scope: { scopeType: 'all', scopeId: '' },
    timezone: 'UTC', distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' },
    maxConcurrentDevices: 10, missedRun: 'skip', healthCheck: HEALTH_CHECK, ...overrides,
  };
  const { worker, taskQueue } = await env.fakeWorker('health', activities);
  const handle = await env.client.workflow.start<typeof automaticUpdateWorkflow>(AUTOMATIC_UPDATE_WORKFLOW_TYPE, {
    taskQueue, workflowId: `automatic-update/${scheduleId}-health`, args: [input],
  });
  const result = await worker.runUntil(handle.result());
  return { result, calls, deviceIds: devices.map((d) => d.deviceId) };
}

const childResult = async (workflowId: string) => (await env.client.workflow.getHandle(workflowId).result()) as InstallResult;

test('a failed health check rolls the install back, newest first, restarts, checks again, and counts against the gate', async () => {
  const run = await runRollout({ devices: 10, badUpdateOn: [3, 7] });

  // 8 devices healthy, 2 rolled back: a failure rate of 20%, which is what a ring's gate reads.
  expect(run.result.counts).toMatchObject({ devices: 10, done: 8, failed: 2, patchesInstalled: 16, patchesFailed: 4, patchesRolledBack: 4 });

  const bad = run.deviceIds[2]!;
  const steps = deviceCommands(run.calls, bad).map((c) => c.type === 'uninstall' ? `uninstall ${(c.payload as { kb: string }).kb}` : c.type);
  expect(steps).toEqual([
    'scan', 'download', 'copy', 'execute_patches', 'reboot', 'scan',
    'health_check', 'uninstall KB5034763', 'uninstall KB5034441', 'reboot', 'health_check', 'cleanup',
  ]);
  const checks = deviceCommands(run.calls, bad).filter((c) => c.type === 'health_check');
  expect(checks.map((c) => (c.result as { healthy: boolean }).healthy)).toEqual([false, true]);
  // The service gets its settle time after the post-scan before it is checked (workflow time).
  const postScan = deviceCommands(run.calls, bad).filter((c) => c.type === 'scan')[1]!;
  expect(checks[0]!.atMs - postScan.atMs).toBeGreaterThanOrEqual(120_000);

  const rollback = run.calls.find((c) => c.activity === 'recordRollback' && c.deviceId === bad)!.payload as { changes: { updateId: string; status: string; error: string; rolledBack: boolean; countFailure: boolean }[]; needsAttention?: string };
  expect(rollback.needsAttention).toBeUndefined();
  expect(rollback.changes).toEqual([
    expect.objectContaining({ updateId: BAD_UPDATE_ID, status: PatchStatus.Failed, rolledBack: true, countFailure: true, error: 'rolled back: health check failed: Spooler: stopped (expected running); W32Time: running' }),
    expect.objectContaining({ updateId: OLDER_ID, status: PatchStatus.Failed, rolledBack: true }),
  ]);
  const result = await childResult(childOf(run.calls, bad));
  expect(result).toMatchObject({
    outcome: 'failed', rolledBack: ['KB5034763', 'KB5034441'],
    healthCheck: { healthy: false, check: 'services running: Spooler, W32Time', afterRollback: { healthy: true } },
  });
  expect(result.needsAttention).toBeUndefined();

  // A healthy device ran the check once and nothing else.
  const good = run.deviceIds[0]!;
  expect(deviceCommands(run.calls, good).filter((c) => c.type === 'health_check' || c.type === 'uninstall').map((c) => c.type)).toEqual(['health_check']);
  expect((await childResult(childOf(run.calls, good))).healthCheck).toMatchObject({ healthy: true });
  await maybeRecordHistory(env.client, childOf(run.calls, bad), 'deviceInstallWorkflow-health-check-rolled-back');
});

test('an uninstall that fails leaves the device needing attention, once: no second check, no retry, no loop', async () => {
  // The first removal (the newest patch) answers 0x80070643.
  const run = await runRollout({ devices: 2, badUpdateOn: [1], uninstallExitCodes: [0x80070643] });
  const bad = run.deviceIds[0]!;
  const types = deviceCommands(run.calls, bad).map((c) => c.type);
  expect(types.filter((t) => t === 'uninstall')).toHaveLength(1);
  expect(types.filter((t) => t === 'health_check')).toHaveLength(1);
  expect(types.slice(-3)).toEqual(['health_check', 'uninstall', 'cleanup']);

  const rollback = run.calls.filter((c) => c.activity === 'recordRollback' && c.deviceId === bad);
  expect(rollback).toHaveLength(1);
  const payload = rollback[0]!.payload as { changes: unknown[]; needsAttention?: string };
  expect(payload.changes).toEqual([]);
  expect(payload.needsAttention).toBe('health check failed (Spooler: stopped (expected running); W32Time: running); '
    + 'uninstall of KB5034763 failed: the uninstaller exited with 0x80070643.');
  const result = await childResult(childOf(run.calls, bad));
  expect(result.needsAttention).toBe(payload.needsAttention);
  expect(result.rolledBack).toEqual([]);
  // Still a failure for the rollout (and a ring's gate), though no patch was rolled back.
  expect(run.result.counts).toMatchObject({ devices: 2, done: 1, failed: 1 });
  await maybeRecordHistory(env.client, childOf(run.calls, bad), 'deviceInstallWorkflow-health-check-needs-attention');
});

test('a schedule without a health check runs none (the install is as before)', async () => {
  const run = await runRollout({ devices: 1, badUpdateOn: [1] }, { healthCheck: undefined });
  expect(deviceCommands(run.calls, run.deviceIds[0]!).map((c) => c.type)).not.toContain('health_check');
  expect(run.result.counts).toMatchObject({ done: 1, failed: 0 });
});
