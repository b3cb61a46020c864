/**
 * Every bookkeeping activity, run twice with the same activity identity (workflow id, run id,
 * activity id), as Temporal retries a (local) activity whose first attempt wrote but whose answer was
 * lost: the database must end in the same state as after one run, against real PostgreSQL.
 */
import { randomUUID } from 'node:crypto';
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createActivities } from '../../activities';
import { claimDeviceForOperation } from '../../activities/device-claim';
import { hashSecret } from '../../api/credentials';
import { claimPendingCommands, recordCommandAttempt } from '../../db/command-repository';
import { enrollDevice } from '../../db/fleet-repository';
import { PatchStatus } from '../../domain/patch-status';
import type { ScanResult } from '../../domain/device-protocol';
import { feedEntryOf } from '../../agent/catalog-feed';
import { signCatalogFeed } from '../../domain/catalog-feed';
import { signCommand } from '../../domain/command-envelope';
import { missingUpdates } from './fake-activities';
import { startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

let h: Harness;
let deviceId: string;
let scheduleId: string;
const workflowId = `install/retry-test/${randomUUID()}`;
const runId = randomUUID();
const log = pino({ level: 'silent' });

beforeAll(async () => {
  h = await startHarness();
  // The catalog comes from a feed only: publish the fake device's updates as one, then sync it.
  const feedId = `bookkeeping-${randomUUID().slice(0, 8)}`;
  h.publishFeed(signCatalogFeed(h.feedKey.privateKeyPem, { id: feedId, sequence: 1, publishedAt: new Date().toISOString() }, missingUpdates(false).map(feedEntryOf)));
  expect((await h.syncCatalog(feedId)).outcome).not.toBe('refused');
  await h.stopWorker(); // the activities below run by hand, twice each
  const created = await h.createDevice();
  deviceId = created.deviceId;
  await enrollDevice(h.db, hashSecret(created.enrollmentToken), hashSecret(randomUUID()), 'boot-1');
  const schedule = await h.api('POST', '/api/v1/schedules', {
    name: `Retry test ${randomUUID().slice(0, 6)}`, kind: 'automatic_update', scope: { scopeType: 'site', scopeId: created.siteId },
    timing: { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'UTC' }, missedRun: 'run_on_check_in',
  });
  expect(schedule.status).toBe(201);
  scheduleId = schedule.body.id;
});

afterAll(async () => {
  if (scheduleId) await h.api('DELETE', `/api/v1/schedules/${scheduleId}`);
  await h?.stop();
});

/** Everything the bookkeeping activities write for this device, workflow and schedule. */
async function snapshot(): Promise<Record<string, unknown[]>> {
  const q = async (sql: string, params: unknown[]) => (await h.db.query(sql, params)).rows;
  return {
    devicePatches: await q('SELECT * FROM device_patches WHERE device_id = $1 ORDER BY update_id', [deviceId]),
    deviceScans: await q('SELECT * FROM device_scans WHERE device_id = $1', [deviceId]),
    claims: await q('SELECT * FROM device_operations WHERE device_id = $1', [deviceId]),
    audit: await q(`SELECT actor, action, subject, details, idempotency_key FROM audit_log WHERE device_id = $1 OR actor = $2 ORDER BY id`,
      [deviceId, `workflow:${workflowId}`]),
    commands: await q('SELECT id, status, finished_at FROM agent_commands WHERE workflow_id = $1 ORDER BY id', [workflowId]),
    rollouts: await q('SELECT * FROM rollouts WHERE workflow_id = $1', [workflowId]),
    missedRuns: await q('SELECT * FROM missed_runs WHERE device_id = $1', [deviceId]),
  };
}

let activitySeq = 0;
/**
 * Runs one activity twice with one identity (a retry), and asserts that the second run changed
 * nothing and answered the same. Returns the answer.
 */
async function twice<R>(name: string, fn: (...a: any[]) => Promise<R>, ...args: unknown[]): Promise<R> {
  const info: Partial<Info> = {
    activityId: String(++activitySeq), activityType: name, isLocal: true,
    workflowExecution: { workflowId, runId }, workflowType: 'deviceInstallWorkflow',
  };
  const first = await new MockActivityEnvironment({ ...info, attempt: 1 }).run(fn, ...args) as R;
  const after = await snapshot();
  const second = await new MockActivityEnvironment({ ...info, attempt: 2 }).run(fn, ...args);
  expect({ name, state: await snapshot() }).toEqual({ name, state: after });
  expect({ name, answer: second }).toEqual({ name, answer: first });
  return first;
}

test('every bookkeeping activity run twice with one activity identity ends as if run once', async () => {
  const a = createActivities({ db: h.db, client: h.client, log, commandKeys: h.commandKeys, reportsDir: h.scratch });
  const [kb1, kb2] = missingUpdates(false);
  const scan: ScanResult = {
    bootId: 'boot-1', updates: missingUpdates(false), rebootPending: false, freeDiskBytes: 1_000_000_000,
    scannedAt: new Date().toISOString(),
  };

  // Install bookkeeping, in the order an install runs it.
  await twice('claimDeviceOperation', a.claimDeviceOperation, { deviceId, workflowId, operation: 'install' });
  await twice('recordScan', a.recordScan, deviceId, scan);
  await twice('selectByApproval', a.selectByApproval, { deviceId, candidates: [kb1!.updateId, kb2!.updateId], installed: [], explicit: true, failureCap: 5 });
  await twice('recordPatchStates', a.recordPatchStates, {
    deviceId, workflowId, changes: [
      { updateId: kb1!.updateId, kb: kb1!.kb, status: PatchStatus.Installing },
      { updateId: kb2!.updateId, kb: kb2!.kb, status: PatchStatus.Installing },
    ],
  });
  await twice('recordPatchStates', a.recordPatchStates, {
    deviceId, workflowId, changes: [
      { updateId: kb1!.updateId, kb: kb1!.kb, status: PatchStatus.Failed, exitCode: 1603, error: 'fatal error during installation', countFailure: true },
      { updateId: kb2!.updateId, kb: kb2!.kb, status: PatchStatus.RebootRequired, exitCode: 3010 },
    ],
  });
  await twice('withdrawOpenCommands', a.withdrawOpenCommands, { workflowId });
  // A cleanup the device did not answer in time, queued for its next check-in.
  await recordCommandAttempt(h.db, {
    id: `${workflowId}/${runId}/cleanup`, deviceId, workflowId, type: 'cleanup', payload: {}, taskToken: Buffer.from('token'), attempt: 1,
  }, ({ sequence, payload }) => signCommand(h.commandKeys.current.privateKey!, h.commandKeys.current.keyId,
    { id: `${workflowId}/${runId}/cleanup`, type: 'cleanup', payload: payload as never },
    { deviceId, sequence, issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000 }));
  await claimPendingCommands(h.db, deviceId);
  const queued = await twice('queueCleanupForCheckIn', a.queueCleanupForCheckIn, { deviceId, workflowId });
  expect(queued).toEqual([`${workflowId}/${runId}/cleanup`]);
  await twice('audit', a.audit, { actor: `workflow:${workflowId}`, action: 'install.note', deviceId, subject: 'retry test' });
  await twice('releaseDeviceOperation', a.releaseDeviceOperation, { deviceId, workflowId });
  // The device claim as the API takes it, and the scan processing of a scheduled scan.
  await twice('claimDeviceForOperation', (args: Parameters<typeof claimDeviceForOperation>[1]) => claimDeviceForOperation({ db: h.db, client: h.client, log }, args),
    { deviceId, workflowId, operation: 'install' });
  await twice('releaseDeviceOperation', a.releaseDeviceOperation, { deviceId, workflowId });
  await twice('processDeviceScan', a.processDeviceScan, deviceId, { ...scan, scannedAt: new Date().toISOString() });

  // The batched steps of an install (patched 'batched-bookkeeping'), each a fold of the steps above.
  await twice('claimDeviceOperation', a.claimDeviceOperation, { deviceId, workflowId, operation: 'install' });
  const preScan = await twice('recordPreScan', a.recordPreScan, {
    scan, question: { deviceId, candidates: [kb1!.updateId, kb2!.updateId], installed: [], explicit: true, failureCap: 5 },
  });
  expect(Object.keys(preScan.catalog).sort()).toEqual([kb1!.updateId, kb2!.updateId].sort());
  await twice('recordPostScan', a.recordPostScan, {
    deviceId, workflowId, scan: { ...scan, scannedAt: new Date().toISOString() },
    changes: [{ updateId: kb2!.updateId, kb: kb2!.kb, status: PatchStatus.Installed, installedAt: new Date().toISOString() }],
  });
  await twice('finishInstall', a.finishInstall, { deviceId, workflowId, release: true, changes: [] });
  expect((await h.db.query('SELECT count(*) FROM device_operations WHERE device_id = $1', [deviceId])).rows[0].count).toBe('0');

  // Rollout bookkeeping.
  const fresh = await twice('beginRollout', a.beginRollout, { workflowId, scheduleId, kind: 'automatic_update', localSlot: '2026-12-09 02:00', scheduledAt: '2026-12-09T02:00:00Z' });
  const devices = await twice('resolveRolloutDevices', a.resolveRolloutDevices, { scopeType: 'all', scopeId: '' });
  await twice('recordMissedRun', a.recordMissedRun, { deviceId, scheduleId });
  const counts = { devices: 1, done: 0, failed: 1, offline: 0, busy: 0, rebootPending: 1, patchesInstalled: 1, patchesFailed: 1 };
  await twice('finishRollout', a.finishRollout, { workflowId, counts });

  // What a retry used to get wrong, said plainly: the rollout is not a duplicate of itself, one
  // failure counts once (it feeds the 5-failure cap), one outcome is audited once.
  expect(fresh).toBe(true);
  expect(devices.map((d) => d.deviceId)).toContain(deviceId);
  const state = await snapshot();
  const failed = state.devicePatches.find((r: any) => r.update_id === kb1!.updateId) as any;
  expect({ status: failed.status, failedAttempts: failed.failed_attempts }).toEqual({ status: 'failed', failedAttempts: 1 });
  expect(state.audit.filter((r: any) => r.action === 'patch.failed')).toHaveLength(1);
  expect(state.audit.filter((r: any) => r.action === 'install.note')).toHaveLength(1);
  expect(state.audit.filter((r: any) => r.action === 'install.cleanup_pending')).toHaveLength(1);
  expect(state.commands).toMatchObject([{ status: 'pending' }]);
  expect(state.rollouts).toHaveLength(1);
  expect((state.rollouts[0] as any).counts).toEqual(counts);
  expect(state.missedRuns).toHaveLength(1);
  expect(state.claims).toHaveLength(0);

  // A different activity (the next run's failure) still counts: exact, not suppressed.
  await twice('recordPatchStates', a.recordPatchStates, {
    deviceId, workflowId, changes: [{ updateId: kb1!.updateId, kb: kb1!.kb, status: PatchStatus.Failed, exitCode: 1603, error: 'again', countFailure: true }],
  });
  const again = (await snapshot()).devicePatches.find((r: any) => r.update_id === kb1!.updateId) as any;
  expect(again.failed_attempts).toBe(2);
  // Another rollout in the same local slot is still a duplicate.
  const other = await new MockActivityEnvironment({ workflowExecution: { workflowId: `${workflowId}-other`, runId }, activityId: '1', isLocal: true })
    .run(a.beginRollout, { workflowId: `${workflowId}-other`, scheduleId, kind: 'automatic_update', localSlot: '2026-12-09 02:00', scheduledAt: '2026-12-09T02:00:00Z' });
  expect(other).toBe(false);
});
