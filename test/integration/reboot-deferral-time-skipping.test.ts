/**
 * The user-deferral reboot action and its deadline (issue 14 parts 3 and 4), on Temporal's
 * time-skipping server with the real workflows and fake activities: the logged-on user postpones the
 * restart N times, then it is forced; with a deadline, postponements stop at the deadline, and a
 * device that was offline at the deadline gets its grace period from when it came back.
 */
import { randomUUID } from 'node:crypto';
import type { RebootPayload } from '../../domain/device-protocol';
import type { RebootActionConfig } from '../../domain/reboot-actions';
import type { automaticUpdateWorkflow } from '../../workflows/automatic-update';
import { AUTOMATIC_UPDATE_WORKFLOW_TYPE, type RolloutInput, type RolloutResult } from '../../workflows/automatic-update.contract';
import type { InstallResult } from '../../workflows/install.contract';
import { createFakeActivities, type CallRecord, type FakeOptions } from './fake-activities';
import { maybeRecordHistory } from './harness';
import { useTimeSkippingEnvironment } from './time-skipping';

jest.setTimeout(180_000);

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const env = useTimeSkippingEnvironment();

async function runRollout(fake: FakeOptions, rebootAction: RebootActionConfig): Promise<{ result: RolloutResult; calls: CallRecord[]; install: InstallResult; installId: string }> {
  const { activities, calls, devices } = createFakeActivities(fake);
  const scheduleId = randomUUID();
  const input: RolloutInput = {
    scheduleId, scheduleName: 'Workstations', kind: 'automatic_update', scope: { scopeType: 'all', scopeId: '' },
    timezone: 'UTC', distributionWindowMinutes: 0, rebootAction, maxConcurrentDevices: 10, missedRun: 'skip',
  };
  const { worker, taskQueue } = await env.fakeWorker('deferral', activities);
  const handle = await env.client.workflow.start<typeof automaticUpdateWorkflow>(AUTOMATIC_UPDATE_WORKFLOW_TYPE, {
    taskQueue, workflowId: `automatic-update/${scheduleId}-deferral`, args: [input],
  });
  const result = await worker.runUntil(handle.result());
  const installId = calls.find((c) => c.activity === 'deviceCommand' && c.deviceId === devices[0]!.deviceId)!.workflowId;
  const install = (await env.client.workflow.getHandle(installId).result()) as InstallResult;
  return { result, calls, install, installId };
}

/** The device's reboot commands that reached it (offline attempts left out), with their mode and answer. */
const reboots = (calls: CallRecord[]) => calls
  .filter((c) => c.activity === 'deviceCommand' && c.type === 'reboot' && c.result !== 'offline')
  .map((c) => ({ atMs: c.atMs, mode: (c.payload as RebootPayload).mode, skipped: (c.result as { skipped?: { reason: string } }).skipped?.reason }));

test('the user postpones N times, each for M minutes, then the restart is forced, in that order', async () => {
  const run = await runRollout({ devices: 1, userLoggedOn: true, userDefers: 99 }, { action: 'ask_user_allow_deferrals', deferrals: 3, minutes: 30 });
  const r = reboots(run.calls);
  expect(r.map((x) => [x.mode, x.skipped])).toEqual([
    [{ kind: 'ask_defer', minutes: 30, deferralsLeft: 3 }, 'user_deferred'],
    [{ kind: 'ask_defer', minutes: 30, deferralsLeft: 2 }, 'user_deferred'],
    [{ kind: 'ask_defer', minutes: 30, deferralsLeft: 1 }, 'user_deferred'],
    [{ kind: 'immediate' }, undefined],
  ]);
  // Each question comes when the postponement before it is up (workflow time, durable timers).
  for (let i = 1; i < r.length; i++) expect(r[i]!.atMs - r[i - 1]!.atMs).toBeGreaterThanOrEqual(30 * MINUTE);
  expect(r[3]!.atMs - r[0]!.atMs).toBeLessThan(95 * MINUTE);
  expect(run.install).toMatchObject({
    outcome: 'succeeded', rebooted: true,
    rebootDeferrals: { postponed: [{ minutes: 30 }, { minutes: 30 }, { minutes: 30 }], forced: 'the user postponed 3 times, all that is allowed' },
  });
  expect(run.result.counts).toMatchObject({ devices: 1, done: 1, failed: 0 });
  await maybeRecordHistory(env.client, run.installId, 'deviceInstallWorkflow-reboot-user-deferral-forced');
});

test('a user who accepts at once restarts at the first question, and nobody logged on restarts without one', async () => {
  const accepting = await runRollout({ devices: 1, userLoggedOn: true, userDefers: 0 }, { action: 'ask_user_allow_deferrals', deferrals: 3, minutes: 30 });
  expect(reboots(accepting.calls).map((x) => x.mode)).toEqual([{ kind: 'ask_defer', minutes: 30, deferralsLeft: 3 }]);
  expect(accepting.install.rebootDeferrals).toEqual({ postponed: [] });
  const nobody = await runRollout({ devices: 1, userLoggedOn: false, userDefers: 5 }, { action: 'ask_user_allow_deferrals', deferrals: 3, minutes: 30 });
  expect(reboots(nobody.calls).map((x) => x.skipped)).toEqual([undefined]);
  expect(nobody.install).toMatchObject({ outcome: 'succeeded', rebooted: true });
});

test('online at the deadline: postponements stop there and the restart is forced at the deadline', async () => {
  const t0 = await env.currentTimeMs();
  const run = await runRollout(
    { devices: 1, userLoggedOn: true, userDefers: 99, availableAt: new Date(t0 - DAY + HOUR).toISOString() },
    { action: 'ask_user_allow_deferrals', deferrals: 10, minutes: 1440, deadlineDays: 1, graceDays: 2 },
  );
  const deadline = t0 + HOUR;
  const r = reboots(run.calls);
  // A postponement is offered only up to the deadline; then a presence check, then the forced restart.
  expect(r[0]!.mode).toMatchObject({ kind: 'ask_defer', deferralsLeft: 10 });
  expect((r[0]!.mode as { minutes: number }).minutes).toBeLessThanOrEqual(60);
  const forced = r[r.length - 1]!;
  expect(forced.mode).toEqual({ kind: 'immediate' });
  expect(forced.atMs).toBeGreaterThanOrEqual(deadline);
  expect(forced.atMs - deadline).toBeLessThan(10 * MINUTE);
  expect(run.install.rebootDeferrals).toMatchObject({ offlineAtDeadline: false, forced: expect.stringMatching(/^the deadline has passed; postponements are no longer allowed: deadline /) });
});

test('offline at the deadline: the device gets its grace period from when it comes back, then the restart is forced', async () => {
  const t0 = await env.currentTimeMs();
  const deadline = t0 + HOUR;
  const back = t0 + 26 * HOUR;
  const run = await runRollout(
    {
      devices: 1, userLoggedOn: true, userDefers: 99, availableAt: new Date(deadline - DAY).toISOString(),
      // away from 10 minutes in until a day after the deadline
      offline: { fromMs: t0 + 10 * MINUTE, toMs: back },
    },
    { action: 'ask_user_allow_deferrals', deferrals: 10, minutes: 1440, deadlineDays: 1, graceDays: 2 },
  );
  const r = reboots(run.calls);
  const d = run.install.rebootDeferrals!;
  expect(d).toMatchObject({ offlineAtDeadline: true, deadline: new Date(deadline).toISOString() });
  const cameBack = Date.parse(d.cameBackAt!);
  const forceAt = Date.parse(d.forceAt!);
  // Back no earlier than the device really was; the grace counts from there: two days, not from the deadline.
  expect(cameBack).toBeGreaterThanOrEqual(back);
  expect(forceAt - cameBack).toBe(2 * DAY);
  // Before the deadline one question; the next one (sent at the deadline) reached it only on its return;
  // during the grace the user still postpones, never past its end; then the restart is forced.
  expect(r[0]!.atMs).toBeLessThan(deadline);
  expect(r.slice(1).every((x) => x.atMs >= back)).toBe(true);
  expect(r.slice(0, -1).every((x) => x.mode?.kind === 'ask_defer' && x.skipped === 'user_deferred')).toBe(true);
  expect(r.length).toBeGreaterThanOrEqual(3);
  const forced = r[r.length - 1]!;
  expect(forced.mode).toEqual({ kind: 'immediate' });
  expect(forced.atMs).toBeGreaterThanOrEqual(forceAt);
  expect(forced.atMs - forceAt).toBeLessThan(10 * MINUTE);
  expect(run.install).toMatchObject({
    outcome: 'succeeded', rebooted: true,
    rebootDeferrals: { forced: expect.stringMatching(/^the deadline has passed; postponements are no longer allowed: offline at the deadline .*grace period: 2 days\)$/) },
  });
  // The postponements offered during the grace never reach past its end (whole minutes counted from
  // when the question was sent; `at` is when the answer came, a moment later).
  for (const p of d.postponed.slice(1)) expect(Date.parse(p.at) + p.minutes * MINUTE).toBeLessThanOrEqual(forceAt + MINUTE);
  await maybeRecordHistory(env.client, run.installId, 'deviceInstallWorkflow-reboot-deadline-grace-offline');
});
