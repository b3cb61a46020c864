/**
 * Automatic Update rollouts on Temporal's time-skipping test server, with fake activities (no
 * PostgreSQL, no agents): the distribution window, the maintenance window and the reboot actions play
 * out over hours and days of workflow time in seconds of real time.
 *
 * The time-skipping server has no Schedules, so the rollout is started directly; it then falls back from
 * the TemporalScheduledStartTime search attribute to its own start time, which the fake beginRollout
 * records (`scheduledAt`, `localSlot`) and every expectation is computed from.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { distributionOffsetMs } from '../../domain/distribution-window';
import { isInsideWindow, nextWindowStart, type MaintenanceWindow } from '../../domain/maintenance-window';
import { nextOccurrence, type RebootActionConfig } from '../../domain/reboot-actions';
import type { RebootPayload, RebootResult } from '../../domain/device-protocol';
import { wallClockAt } from '../../domain/local-time';
import type { automaticUpdateWorkflow } from '../../workflows/automatic-update';
import type { deviceInstallWorkflow } from '../../workflows/device-install';
import { AUTOMATIC_UPDATE_WORKFLOW_TYPE, type RolloutInput, type RolloutResult } from '../../workflows/automatic-update.contract';
import { DEFAULT_INSTALL_TIMING, INSTALL_WORKFLOW_TYPE, type DeviceInstallInput } from '../../workflows/install.contract';
import { childOf, createFakeActivities, deviceCommands, goAheadFromInstall, type CallRecord, type FakeOptions } from './fake-activities';
import { maybeRecordHistory } from './harness';
import { useTimeSkippingEnvironment } from './time-skipping';

jest.setTimeout(180_000);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Workflow time a child spends between its start and its first device command (claim, local activities). */
const TOLERANCE_MS = 5_000;

const env = useTimeSkippingEnvironment();

interface RolloutRun {
  workflowId: string;
  firstRunId: string;
  result: RolloutResult;
  calls: CallRecord[];
  input: RolloutInput;
  /** the rollout's scheduled time (its start time here), ms */
  startMs: number;
  localSlot: string;
  deviceIds: string[];
}

/** Runs one rollout to its end on a task queue and worker of its own, with fresh fake activities. */
async function runRollout(fake: FakeOptions, overrides: Partial<RolloutInput>): Promise<RolloutRun> {
  // The agent's go-ahead before each patch comes from the install, as through the gateway.
  const { activities, calls, devices } = createFakeActivities({ goAhead: goAheadFromInstall(env.client, () => env.currentTimeMs()), ...fake });
  const scheduleId = randomUUID();
  const input: RolloutInput = {
    scheduleId, scheduleName: 'Nightly workstations', kind: 'automatic_update', scope: { scopeType: 'all', scopeId: '' },
    timezone: 'UTC', distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' },
    maxConcurrentDevices: 10, missedRun: 'skip',
    ...overrides,
  };
  const { worker, taskQueue } = await env.fakeWorker('rollout-ts', activities);
  const workflowId = `automatic-update/${scheduleId}-test`;
  const handle = await env.client.workflow.start<typeof automaticUpdateWorkflow>(AUTOMATIC_UPDATE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input] });
  const result = await worker.runUntil(handle.result());
  const begin = calls.find((c) => c.activity === 'beginRollout');
  expect(begin).toBeDefined();
  const { scheduledAt, localSlot } = begin!.payload as { scheduledAt: string; localSlot: string };
  return {
    workflowId, firstRunId: handle.firstExecutionRunId, result, calls, input, startMs: Date.parse(scheduledAt), localSlot,
    deviceIds: devices.map((d) => d.deviceId),
  };
}

const preScanOf = (calls: CallRecord[], deviceId: string) =>
  deviceCommands(calls, deviceId).find((c) => c.type === 'scan' && (c.payload as { reason: string }).reason === 'pre-scan');
const expectedOffset = (run: RolloutRun, deviceId: string) =>
  distributionOffsetMs(`${run.input.scheduleId}/${run.localSlot}`, deviceId, run.input.distributionWindowMinutes * MINUTE);
const hhmmUtc = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const ceilToMinute = (ms: number) => Math.ceil(ms / MINUTE) * MINUTE;

test('distribution window: 30 devices start at their deterministic offsets, spread over 120 minutes', async () => {
  const run = await runRollout({ devices: 30 }, { distributionWindowMinutes: 120, maxConcurrentDevices: 5 });
  const windowMs = 120 * MINUTE;

  expect(run.result.outcome).toBe('completed');
  expect(run.result.counts).toMatchObject({ devices: 30, done: 30, failed: 0, offline: 0, busy: 0, rebootPending: 0, patchesInstalled: 60 });
  // The rollout's whole history played out over (almost) two hours of workflow time.
  const finish = run.calls.find((c) => c.activity === 'finishRollout')!;
  expect(finish.payload).toEqual(run.result.counts);

  const observed = run.deviceIds.map((deviceId) => {
    const pre = preScanOf(run.calls, deviceId);
    expect(pre).toBeDefined();
    return { deviceId, offset: pre!.atMs - run.startMs, expected: expectedOffset(run, deviceId) };
  });
  for (const o of observed) {
    // The draw is inside [start, start + window]; the device starts at that moment, never before it
    // (a timer that fired early, or an offset the workflow did not use, fails here), and within the
    // few seconds a child needs to reach its first device command.
    expect(o.expected).toBeGreaterThanOrEqual(0);
    expect(o.expected).toBeLessThanOrEqual(windowMs);
    expect(o.offset).toBeGreaterThanOrEqual(o.expected);
    expect(o.offset - o.expected).toBeLessThan(TOLERANCE_MS);
  }
  // Started in the order of their draws.
  const byObserved = [...observed].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byObserved.length; i++) {
    expect(byObserved[i]!.expected).toBeGreaterThan(byObserved[i - 1]!.expected - TOLERANCE_MS);
  }
  // Spread: not a thundering herd in the first minute, and the starts cover well over half the window.
  const firstMinute = observed.filter((o) => o.offset < MINUTE).length;
  expect(firstMinute).toBe(observed.filter((o) => o.expected < MINUTE).length);
  expect(firstMinute).toBeLessThanOrEqual(5);
  const offsets = observed.map((o) => o.offset);
  expect(Math.max(...offsets) - Math.min(...offsets)).toBeGreaterThan(60 * MINUTE);
  expect(new Set(offsets.map((o) => Math.floor(o / (10 * MINUTE)))).size).toBeGreaterThanOrEqual(6);

  // Each device ran the whole install inside its own child: pre-scan, 2 downloads, copy, 2 executes, reboot, post-scan, cleanup.
  for (const deviceId of run.deviceIds) {
    expect(deviceCommands(run.calls, deviceId).map((c) => c.type))
      .toEqual(['scan', 'download', 'copy', 'execute_patches', 'reboot', 'scan', 'cleanup']);
  }
});

test('maintenance window: devices start when it opens; downloads, copies, executes and reboots happen only inside it', async () => {
  const now = await env.currentTimeMs();
  const opensAt = ceilToMinute(now + 61 * MINUTE);
  const window: MaintenanceWindow = { start: hhmmUtc(opensAt), durationMinutes: 60 };
  // Devices start over 4 hours: before the window (they wait for it), inside it, and after it closed
  // (they wait for the next day's).
  // Enough slots for every device: a child waiting for the window holds one (see the test below).
  const run = await runRollout({ devices: 30 }, { distributionWindowMinutes: 240, maintenanceWindow: window, timezone: 'UTC', maxConcurrentDevices: 30 });
  expect(run.startMs).toBeLessThan(opensAt - HOUR + MINUTE);

  expect(run.result.counts).toMatchObject({ devices: 30, done: 30, failed: 0, offline: 0, rebootPending: 0, patchesInstalled: 60 });
  const installSteps = run.calls.filter((c) => c.activity === 'deviceCommand' && c.type !== 'scan' && c.type !== 'cleanup');
  // One download command for both patches, a copy, one execute command for both and a reboot per device.
  expect(installSteps.length).toBe(30 * 4);
  for (const c of installSteps) {
    expect({ type: c.type, at: new Date(c.atMs).toISOString(), inside: isInsideWindow(window, new Date(c.atMs), 'UTC') })
      .toEqual({ type: c.type, at: new Date(c.atMs).toISOString(), inside: true });
  }

  let waitedForToday = 0;
  let ranAtOnce = 0;
  let waitedForTomorrow = 0;
  for (const deviceId of run.deviceIds) {
    const pre = preScanOf(run.calls, deviceId)!;
    const drawn = run.startMs + expectedOffset(run, deviceId);
    // A device drawn outside the window starts when the window next opens (holding no slot meanwhile).
    const opens = nextWindowStart(window, new Date(drawn), 'UTC').getTime();
    expect(Math.abs(pre.atMs - opens)).toBeLessThan(TOLERANCE_MS);
    const firstDownload = deviceCommands(run.calls, deviceId).find((c) => c.type === 'download')!;
    expect(Math.abs(firstDownload.atMs - opens)).toBeLessThan(TOLERANCE_MS);
    if (!isInsideWindow(window, new Date(drawn), 'UTC')) {
      if (drawn < opensAt) waitedForToday += 1;
      else {
        waitedForTomorrow += 1;
        expect(firstDownload.atMs).toBeGreaterThanOrEqual(opensAt + 24 * HOUR);
      }
    } else ranAtOnce += 1;
  }
  // Which devices fall where is fixed by the draws: the observed split is the computed one.
  const computed = { waitedForToday: 0, ranAtOnce: 0, waitedForTomorrow: 0 };
  for (const deviceId of run.deviceIds) {
    const at = run.startMs + expectedOffset(run, deviceId);
    if (at < opensAt) computed.waitedForToday += 1;
    else if (at < opensAt + HOUR) computed.ranAtOnce += 1;
    else computed.waitedForTomorrow += 1;
  }
  expect({ waitedForToday, ranAtOnce, waitedForTomorrow }).toEqual(computed);
  // 30 draws over 4 hours: all three cases happen (a pre-scan outside the window among them).
  expect(waitedForToday).toBeGreaterThan(0);
  expect(waitedForTomorrow).toBeGreaterThan(0);
});

interface RebootCase {
  name: string;
  action: RebootActionConfig;
  userLoggedOn: boolean;
  mode: RebootPayload['mode'] | 'none';
  skipped?: NonNullable<RebootResult['skipped']>['reason'];
  /** extra seconds the reboot step may take while the device warns or asks */
  interactionSeconds?: number;
  /** RECORD_HISTORIES=1 saves the device's install history under this name */
  recordAs?: string;
}

const REBOOT_CASES: RebootCase[] = [
  { name: 'reboot_immediately', action: { action: 'reboot_immediately' }, userLoggedOn: true, mode: { kind: 'immediate' } },
  { name: 'skip_if_user_logged_on, user logged on', action: { action: 'skip_if_user_logged_on' }, userLoggedOn: true, mode: { kind: 'skip_if_user_logged_on' }, skipped: 'user_logged_on', recordAs: 'deviceInstallWorkflow-au-reboot-skipped-user-logged-on' },
  { name: 'skip_if_user_logged_on, nobody logged on', action: { action: 'skip_if_user_logged_on' }, userLoggedOn: false, mode: { kind: 'skip_if_user_logged_on' } },
  { name: 'do_not_reboot', action: { action: 'do_not_reboot' }, userLoggedOn: false, mode: 'none', recordAs: 'deviceInstallWorkflow-au-do-not-reboot' },
  { name: 'warn_then_reboot 15', action: { action: 'warn_then_reboot', minutes: 15 }, userLoggedOn: true, mode: { kind: 'warn', minutes: 15 }, interactionSeconds: 15 * 60 },
  { name: 'ask_every_n_minutes 10', action: { action: 'ask_every_n_minutes', minutes: 10 }, userLoggedOn: true, mode: { kind: 'ask_every', minutes: 10 }, interactionSeconds: 10 * 60 * 50 },
  { name: 'ask_then_reboot_if_no_answer 5', action: { action: 'ask_then_reboot_if_no_answer', minutes: 5 }, userLoggedOn: true, mode: { kind: 'ask', minutes: 5, ifNoAnswer: 'reboot' }, interactionSeconds: 5 * 60 },
  { name: 'ask_then_do_nothing_if_no_answer 7', action: { action: 'ask_then_do_nothing_if_no_answer', minutes: 7 }, userLoggedOn: true, mode: { kind: 'ask', minutes: 7, ifNoAnswer: 'do_nothing' }, skipped: 'no_answer', interactionSeconds: 7 * 60 },
];

describe('reboot actions: the reboot command and the outcome, one device per action', () => {
  test.each(REBOOT_CASES)('$name', async (c) => {
    const run = await runRollout({ devices: 1, userLoggedOn: c.userLoggedOn }, { rebootAction: c.action });
    const [deviceId] = run.deviceIds;
    const steps = deviceCommands(run.calls, deviceId);
    const reboots = steps.filter((s) => s.type === 'reboot');
    const rebootPending = c.mode === 'none' || c.skipped !== undefined;

    expect(run.result.counts).toMatchObject({ devices: 1, done: 1, failed: 0, patchesInstalled: 2, rebootPending: rebootPending ? 1 : 0 });
    if (c.mode === 'none') {
      expect(reboots).toHaveLength(0);
      expect(steps.map((s) => s.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'scan', 'cleanup']);
    } else {
      expect(reboots).toHaveLength(1);
      const payload = reboots[0]!.payload as RebootPayload;
      expect(payload.mode).toEqual(c.mode);
      expect(payload.reason).toMatch(/^patches installed pending reboot \(.+\)$/);
      const answer = reboots[0]!.result as RebootResult;
      expect(answer.skipped?.reason).toBe(c.skipped);
      expect(answer.bootId === answer.previousBootId).toBe(c.skipped !== undefined);
      // A device warning or asking keeps the command open: its per-attempt timeout covers that.
      expect(reboots[0]!.startToCloseTimeoutMs).toBe((DEFAULT_INSTALL_TIMING.commandTimeoutSeconds.reboot + (c.interactionSeconds ?? 0)) * 1000);
      // After the last execute, before the verifying post-scan.
      expect(steps.map((s) => s.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'reboot', 'scan', 'cleanup']);
    }
    // The post-scan is the judge: patches the restart finished are Installed, the others stay Reboot Required.
    const postScan = steps.filter((s) => s.type === 'scan')[1]!;
    const installedAfter = (postScan.result as { updates: { installed: boolean }[] }).updates.filter((u) => u.installed).length;
    expect(installedAfter).toBe(rebootPending ? 0 : 2);
    // The branches of the install's reboot step: no reboot by the action, a reboot the device skipped, a prompt.
    if (c.recordAs) await maybeRecordHistory(env.client, childOf(run.calls, deviceId!), c.recordAs);
  });

  test('reboot_at every_day HH:MM: the reboot command runs at that local time on the workflow clock', async () => {
    const timezone = 'America/New_York';
    const now = await env.currentTimeMs();
    const local = wallClockAt(new Date(ceilToMinute(now + 3 * HOUR + 17 * MINUTE)), timezone);
    const time = `${String(local.hour).padStart(2, '0')}:${String(local.minute).padStart(2, '0')}`;
    const run = await runRollout({ devices: 1, userLoggedOn: true }, { rebootAction: { action: 'reboot_at', day: 'every_day', time }, timezone });
    const steps = deviceCommands(run.calls, run.deviceIds[0]);
    expect(steps.map((s) => s.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'reboot', 'scan', 'cleanup']);
    const lastExecute = steps.filter((s) => s.type === 'execute_patches').at(-1)!;
    const reboot = steps.find((s) => s.type === 'reboot')!;

    // Hours after the install, at the next HH:MM in New York, and the reboot itself is immediate.
    const planned = nextOccurrence('every_day', time, new Date(lastExecute.atMs), timezone).getTime();
    expect(Math.abs(reboot.atMs - planned)).toBeLessThan(TOLERANCE_MS);
    expect(reboot.atMs - run.startMs).toBeGreaterThan(3 * HOUR);
    const at = wallClockAt(new Date(reboot.atMs), timezone);
    expect(`${String(at.hour).padStart(2, '0')}:${String(at.minute).padStart(2, '0')}`).toBe(time);
    expect((reboot.payload as RebootPayload).mode).toEqual({ kind: 'immediate' });
    expect(run.result.counts).toMatchObject({ devices: 1, done: 1, rebootPending: 0, patchesInstalled: 2 });
    // The post-scan verifies after the restart.
    const postScan = steps.filter((s) => s.type === 'scan')[1]!;
    expect(postScan.atMs).toBeGreaterThanOrEqual(reboot.atMs);
    // The install's timer until the reboot time.
    await maybeRecordHistory(env.client, childOf(run.calls, run.deviceIds[0]!), 'deviceInstallWorkflow-au-reboot-at');
  });
});

test('maintenance window closing mid-install: no execute or reboot after it closes; the rest waits for the next run', async () => {
  const now = await env.currentTimeMs();
  const opensAt = ceilToMinute(now + 61 * MINUTE);
  const window: MaintenanceWindow = { start: hhmmUtc(opensAt), durationMinutes: 60 };
  // Each installer runs 70 minutes of workflow time: the window closes while the first one runs.
  // The fakes have no gateway to heartbeat a waiting step (api/command-keepalive.ts), so the step's
  // heartbeat timeout is set past the installer's 70 minutes.
  const run = await runRollout(
    { devices: 1, whileExecuting: () => env.sleep(70 * MINUTE) },
    { maintenanceWindow: window, timezone: 'UTC', installTiming: { commandTimeoutSeconds: { execute: 2 * 3600 }, heartbeatTimeoutSeconds: 3 * 3600 } },
  );
  const steps = deviceCommands(run.calls, run.deviceIds[0]);
  expect(steps.map((s) => s.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'scan', 'cleanup']);
  const execute = steps.find((s) => s.type === 'execute_patches')!;
  // One command for both patches: the first ran; before the second the device asked, and the install
  // (at the server's clock, 70 minutes on: the window had closed) said no.
  expect((execute.result as { patches: { kb: string; status: string; reason?: string }[] }).patches.map((p) => [p.kb, p.reason ?? p.status]))
    .toEqual([['KB5034441', 'executed'], ['KB5034763', 'window_closed']]);
  expect(Math.abs(execute.atMs - opensAt)).toBeLessThan(TOLERANCE_MS);
  const postScan = steps.filter((s) => s.type === 'scan')[1]!;
  // The post-scan ran after the installer's 70 minutes, outside the window; nothing else was started there.
  expect(postScan.atMs - execute.atMs).toBeGreaterThanOrEqual(70 * MINUTE);
  expect(isInsideWindow(window, new Date(postScan.atMs), 'UTC')).toBe(false);
  for (const s of steps.filter((x) => x.type !== 'scan' && x.type !== 'cleanup')) expect(isInsideWindow(window, new Date(s.atMs), 'UTC')).toBe(true);
  // One patch installed pending a reboot (skipped: outside the window), the other left for the next run.
  expect(run.result.counts).toMatchObject({ devices: 1, done: 1, failed: 0, patchesInstalled: 1, rebootPending: 1 });
  const finalStates = run.calls.filter((c) => c.activity === 'recordPatchStates').flatMap((c) => c.payload as { kb: string; status: string }[]);
  expect(finalStates.filter((c) => c.kb === 'KB5034763').at(-1)?.status).toBe('missing');
  expect(finalStates.filter((c) => c.kb === 'KB5034441').at(-1)?.status).toBe('reboot_required');
  // The install's branches: the window closing before an execute, a reboot skipped outside the window.
  await maybeRecordHistory(env.client, childOf(run.calls, run.deviceIds[0]!), 'deviceInstallWorkflow-au-window-closes');
});

/*
 * Devices waiting for the maintenance window do not hold a concurrency slot while they wait (the
 * rollout waits for the window before it takes a slot): with 2 slots, 6 devices and a one-hour window
 * two hours out, every device installs inside that first window, none the next day.
 */
test('concurrency: devices waiting for the maintenance window do not hold slots, so all install in the first window', async () => {
  const now = await env.currentTimeMs();
  const opensAt = ceilToMinute(now + 2 * HOUR);
  const window: MaintenanceWindow = { start: hhmmUtc(opensAt), durationMinutes: 60 };
  const run = await runRollout({ devices: 6 }, { distributionWindowMinutes: 60, maintenanceWindow: window, timezone: 'UTC', maxConcurrentDevices: 2 });
  expect(run.result.counts).toMatchObject({ devices: 6, done: 6 });
  for (const deviceId of run.deviceIds) {
    const pre = preScanOf(run.calls, deviceId)!;
    // No device is started (and holds a slot) before the window opens...
    expect(pre.atMs).toBeGreaterThanOrEqual(opensAt - TOLERANCE_MS);
    // ...and every device's steps run in the first window, not a day later.
    for (const c of deviceCommands(run.calls, deviceId).filter((c) => c.type !== 'scan')) {
      expect(c.atMs).toBeLessThan(opensAt + HOUR);
      expect(isInsideWindow(window, new Date(c.atMs), 'UTC')).toBe(true);
    }
  }
  // The rollout's branches: the distribution timer, the maintenance-window timer, a wait for a free slot.
  await maybeRecordHistory(env.client, run.workflowId, 'automaticUpdateWorkflow-maintenance-wait');
});

test('batch boundary: 5 devices, 2 per run, continue as new twice and count every device once', async () => {
  const run = await runRollout({ devices: 5 }, { devicesPerRun: 2, maxConcurrentDevices: 2 });
  expect(run.result).toMatchObject({ outcome: 'completed', runs: 3 });
  expect(run.result.counts).toMatchObject({ devices: 5, done: 5, failed: 0, patchesInstalled: 10 });
  // One beginRollout, one device listing, one finish: each run reads its own page of the stored list,
  // and no run carries devices in its input (the list stays in PostgreSQL at any fleet size).
  expect(run.calls.filter((c) => c.activity === 'beginRollout')).toHaveLength(1);
  expect(run.calls.filter((c) => c.activity === 'listRolloutDevices')).toHaveLength(1);
  expect(run.calls.filter((c) => c.activity === 'resolveRolloutDevices')).toHaveLength(0);
  expect(run.calls.filter((c) => c.activity === 'rolloutDevicePage').map((c) => c.payload)).toEqual([
    { offset: 0, limit: 2 }, { offset: 2, limit: 2 }, { offset: 4, limit: 2 },
  ]);
  const continued = (await env.client.workflow.getHandle(run.workflowId, run.firstRunId).fetchHistory()).events!
    .find((e) => e.workflowExecutionContinuedAsNewEventAttributes)!.workflowExecutionContinuedAsNewEventAttributes!;
  const carried = JSON.parse(Buffer.from(continued.input!.payloads![0]!.data!).toString()).carried;
  expect(carried.listed).toEqual({ offset: 2, total: 5 });
  expect(carried.remaining).toBeUndefined();
  expect(run.calls.filter((c) => c.activity === 'finishRollout').map((c) => c.payload)).toEqual([run.result.counts]);
  for (const deviceId of run.deviceIds) expect(deviceCommands(run.calls, deviceId).filter((c) => c.type === 'cleanup')).toHaveLength(1);
  // The first run (begin, a batch, continue-as-new) and the last (carried devices, finish).
  await maybeRecordHistory(env.client, run.workflowId, 'automaticUpdateWorkflow-device-pages.first-run', run.firstRunId);
  await maybeRecordHistory(env.client, run.workflowId, 'automaticUpdateWorkflow-device-pages.last-run');
});

/*
 * An Automatic Update install started on its own (a missed run started when the device checks in)
 * outside its maintenance window waits for the window on a timer of its own; a busy Windows
 * Installer (1618) is retried after a pause without counting a failure.
 */
test('an install started outside its maintenance window waits for it; a busy installer is retried', async () => {
  const { activities, calls, devices } = createFakeActivities({ devices: 1, executeExitCodes: [1618], goAhead: goAheadFromInstall(env.client, () => env.currentTimeMs()) });
  const now = await env.currentTimeMs();
  const opensAt = ceilToMinute(now + 3 * HOUR);
  const window: MaintenanceWindow = { start: hhmmUtc(opensAt), durationMinutes: 120 };
  const d = devices[0]!;
  const input: DeviceInstallInput = {
    deviceId: d.deviceId, deviceName: d.deviceName, clientId: d.clientId, clientName: d.clientName, siteId: d.siteId, siteName: d.siteName,
    rebootAllowed: true, workingFolder: d.workingFolder, installFolder: d.installFolder, requestedBy: 'schedule:test (missed run, on check-in)',
    automatic: { timezone: 'UTC', rebootAction: { action: 'reboot_immediately' }, maintenanceWindow: window, offlineAfterSeconds: 3600, failureCap: 5 },
  };
  const { worker, taskQueue } = await env.fakeWorker('install-ts', activities);
  const workflowId = `install/${d.deviceId}/au-missed-${randomUUID().slice(0, 8)}`;
  const result = await worker.runUntil(env.client.workflow.execute<typeof deviceInstallWorkflow>(INSTALL_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input] }));

  expect(result.outcome).toBe('succeeded');
  const steps = deviceCommands(calls, d.deviceId);
  expect(steps.map((c) => c.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'execute_patches', 'reboot', 'scan', 'cleanup']);
  // The pre-scan ran at once; the first download waited for the window.
  expect(steps[0]!.atMs).toBeLessThan(opensAt - 2 * HOUR);
  expect(Math.abs(steps[1]!.atMs - opensAt)).toBeLessThan(TOLERANCE_MS);
  // The busy patch, only that one, was retried in a new command after the busy back-off, and no failure was recorded for it.
  const executes = steps.filter((c) => c.type === 'execute_patches');
  const kbsOf = (c: CallRecord) => (c.payload as { patches: { kb: string }[] }).patches.map((p) => p.kb);
  expect(kbsOf(executes[0]!)).toEqual(['KB5034441', 'KB5034763']);
  expect(kbsOf(executes[1]!)).toEqual(['KB5034441']);
  expect(executes[1]!.atMs - executes[0]!.atMs).toBeGreaterThanOrEqual(DEFAULT_INSTALL_TIMING.busyBackoffSeconds * 1000);
  const changes = calls.filter((c) => c.activity === 'recordPatchStates').flatMap((c) => c.payload as { status: string; countFailure?: boolean }[]);
  expect(changes.filter((c) => c.countFailure)).toHaveLength(0);
  await maybeRecordHistory(env.client, workflowId, 'deviceInstallWorkflow-au-maintenance-wait-and-busy-retry');
});

/*
 * Last in this file on purpose: the installer this test abandons (its execute never answers before
 * the cancel) is an activity the time-skipping server goes on counting as running after its workflow
 * closed, and while it does the server stops skipping time, so a later test waiting on a timer here
 * would hang.
 */
test('cancel: a rollout cancelled while a device installs cancels the device\'s install, which still cleans up', async () => {
  let release!: () => void;
  const blocked = new Promise<void>((resolve) => { release = resolve; });
  let executing!: () => void;
  const started = new Promise<void>((resolve) => { executing = resolve; });
  const { activities, calls, devices } = createFakeActivities({ devices: 3, whileExecuting: () => { executing(); return blocked; } });
  const scheduleId = randomUUID();
  const input: RolloutInput = {
    scheduleId, scheduleName: 'Cancelled rollout', kind: 'automatic_update', scope: { scopeType: 'all', scopeId: '' },
    timezone: 'UTC', distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' },
    maxConcurrentDevices: 1, missedRun: 'skip',
  };
  const { worker, taskQueue } = await env.fakeWorker('rollout-ts', activities);
  const workflowId = `automatic-update/${scheduleId}-cancel`;
  const outcome = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof automaticUpdateWorkflow>(AUTOMATIC_UPDATE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input] });
    await started;
    await handle.cancel();
    const rollout = await handle.result().then(() => 'completed', (err: unknown) => err);
    // The rollout closes at once; its parent-close policy asks the running install to cancel, and the
    // install, not waiting for the execute it abandoned, finishes its cleanup on its own.
    const child = await env.client.workflow.getHandle(childOf(calls, devices[0]!.deviceId)).result().then(() => 'completed', (err: unknown) => err);
    release(); // the abandoned installer finishes; nobody waits for its answer any more
    return { rollout, child };
  });
  for (const closed of [outcome.rollout, outcome.child]) {
    expect(closed).toBeInstanceOf(WorkflowFailedError);
    expect((closed as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  }
  // One device had started (one slot); its install was cancelled mid-execute, so a verifying scan
  // decided that patch (not installed here: Missing), and cleanup still ran; the others never started.
  const [first, ...rest] = devices.map((d) => d.deviceId);
  expect(deviceCommands(calls, first).map((c) => c.type)).toEqual(['scan', 'download', 'copy', 'execute_patches', 'scan', 'cleanup']);
  const states = calls.filter((c) => c.activity === 'recordPatchStates' && c.deviceId === first).flatMap((c) => c.payload as { kb: string; status: string }[]);
  // Inside its window the install writes Installing at once (no Pending first: batched bookkeeping).
  expect(states.filter((c) => c.kb === 'KB5034441').map((c) => c.status)).toEqual(['installing', 'missing']);
  expect(calls.filter((c) => c.activity === 'releaseDeviceOperation' && c.deviceId === first)).toHaveLength(1);
  for (const d of rest) expect(deviceCommands(calls, d)).toHaveLength(0);
  expect(calls.filter((c) => c.activity === 'finishRollout')).toHaveLength(0);
  await maybeRecordHistory(env.client, workflowId, 'automaticUpdateWorkflow-cancelled');
  await maybeRecordHistory(env.client, childOf(calls, first!), 'deviceInstallWorkflow-au-cancelled-by-rollout');
});
