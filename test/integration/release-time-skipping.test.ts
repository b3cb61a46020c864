/**
 * Releases through rings (issue 14.1) on Temporal's time-skipping test server, with fake activities:
 * days of deferrals, rollouts and soaks play out in seconds. The real releaseWorkflow runs each ring
 * as the real automaticUpdateWorkflow (whose device listing resolves the ring) with real install children.
 */
import { randomUUID } from 'node:crypto';
import type { Ring } from '../../domain/release-plan';
import type { releaseWorkflow } from '../../workflows/release';
import {
  RELEASE_WORKFLOW_TYPE, haltReleaseSignal, releaseActionUpdate, releaseProgressQuery, resumeReleaseSignal, releaseWorkflowId, type ReleaseInput, type ReleaseProgress, type ReleaseResult,
} from '../../workflows/release.contract';
import { createFakeActivities, type FakeOptions } from './fake-activities';
import { maybeRecordHistory } from './harness';
import { useTimeSkippingEnvironment } from './time-skipping';

jest.setTimeout(240_000);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const KBS = ['KB5034441', 'KB5034763'];

const env = useTimeSkippingEnvironment();

const ring = (name: string, scope: Ring['scope'], days: number, extra: Partial<Ring> = {}): Ring => ({
  name, scope, deferral: { days, from: 'release' },
  gate: { minSuccessRate: 95, minSuccessCount: 3, soakHours: 24 },
  haltThreshold: { failureRate: 50, minFinished: 5 },
  ...extra,
});

/** Ring 0 at +0 days, ring 1 at +2, ring 2 at +5; a gate of 95% after a 24 h soak. */
const THREE_RINGS: Ring[] = [
  ring('IT test', { type: 'site', siteId: 's1' }, 0),
  ring('pilot 10%', { type: 'sample', percent: 10 }, 2),
  ring('broad', { type: 'rest' }, 5),
];

async function startRelease(fake: FakeOptions, rings: Ring[]) {
  const { activities, calls, devices } = createFakeActivities(fake);
  const { worker, taskQueue } = await env.fakeWorker('release-ts', activities);
  const planId = randomUUID();
  const releasedAt = new Date(await env.currentTimeMs()).toISOString();
  const input: ReleaseInput = {
    plan: { id: planId, clientId: 'c1', name: 'Acme rings', rings }, cycle: '2026-12', kbs: KBS, releasedAt, startedBy: 'test',
    rollout: { timezone: 'UTC', distributionWindowMinutes: 0, rebootAction: { action: 'reboot_immediately' }, maxConcurrentDevices: 5, devicesPerRun: 1000, failureCap: 5, missedRun: 'skip' },
  };
  const workflowId = releaseWorkflowId(planId, '2026-12');
  const handle = await env.client.workflow.start<typeof releaseWorkflow>(RELEASE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input] });
  return { handle, worker, calls, devices, releasedAtMs: Date.parse(releasedAt), workflowId };
}

async function waitForPhase(handle: { query: (q: typeof releaseProgressQuery) => Promise<ReleaseProgress> }, phase: ReleaseProgress['phase'], ringIndex: number): Promise<ReleaseProgress> {
  // Workflow time moves only as this loop skips it (a result() awaited meanwhile would skip a halted
  // release's wait, which has no timer, to its end).
  for (let i = 0; i < 24 * 40; i++) {
    const p = await handle.query(releaseProgressQuery);
    if (p.phase === phase && p.ringIndex === ringIndex) return p;
    await env.sleep(HOUR / 4);
  }
  throw new Error(`release never reached ${phase} in ring ${ringIndex}: ${JSON.stringify(await handle.query(releaseProgressQuery))}`);
}

test('three rings over a simulated month: promoted twice by the gate, each ring at its deferral', async () => {
  const run = await startRelease({ devices: 30, ringSizes: [4, 6, 20] }, THREE_RINGS);
  const result: ReleaseResult = await run.worker.runUntil(run.handle.result());

  expect(result.outcome).toBe('completed');
  expect(result.rings.map((r) => r.outcome)).toEqual(['promoted', 'promoted', 'promoted']);
  expect(result.rings.map((r) => r.decision)).toEqual([
    'ring 0 (IT test): 100.0% success of 4 ≥ 95% after 24 h soak, promoted',
    'ring 1 (pilot 10%): 100.0% success of 6 ≥ 95% after 24 h soak, promoted',
    'ring 2 (broad): 100.0% success of 20 ≥ 95% after 24 h soak, promoted',
  ]);
  // Each ring started at its deferral (ring 0 at once, ring 1 two days in, ring 2 five days in).
  const starts = new Map(result.rings.map((r) => [r.index, Date.parse(r.startedAt!)]));
  const offsetDays = [0, 1, 2].map((i) => (starts.get(i)! - run.releasedAtMs) / DAY);
  expect(offsetDays[0]).toBeLessThan(0.01);
  expect(offsetDays[1]).toBeGreaterThanOrEqual(2);
  expect(offsetDays[1]).toBeLessThan(2.01);
  expect(offsetDays[2]).toBeGreaterThanOrEqual(5);
  expect(offsetDays[2]).toBeLessThan(5.01);
  // Each gate read the ring's results after its 24 h soak: not before.
  expect(run.calls.filter((c) => c.activity === 'ringResults')).toHaveLength(3);
  result.rings.forEach((r) => expect(Date.parse(r.evaluatedAt!) - starts.get(r.index)!).toBeGreaterThanOrEqual(24 * HOUR));
  // Ring 1's first device command came two days in (a device command's time is the server's).
  const firstCommandOf = (deviceNo: number) => run.calls.find((c) => c.activity === 'deviceCommand' && c.deviceId === run.devices[deviceNo]!.deviceId)!.atMs;
  expect(firstCommandOf(4) - run.releasedAtMs).toBeGreaterThanOrEqual(2 * DAY);
  expect(firstCommandOf(10) - run.releasedAtMs).toBeGreaterThanOrEqual(5 * DAY);
  // Each ring's rollout listed its own ring's devices (scope.ring), with the ring's halt threshold.
  const lists = run.calls.filter((c) => c.activity === 'listRolloutDevices');
  expect(lists).toHaveLength(3);
  // Every device of every ring installed both patches; the decisions are in the audit trail.
  const executes = run.calls.filter((c) => c.activity === 'deviceCommand' && c.type === 'execute_patches');
  expect(new Set(executes.map((c) => c.deviceId)).size).toBe(30);
  expect(run.calls.filter((c) => c.activity === 'recordReleaseEvent').map((c) => (c.payload as { text: string }).text)).toEqual(result.log);
  await maybeRecordHistory(env.client, run.workflowId, 'releaseWorkflow-promoted');
});

test('10% of ring 1 fail: the gate halts the release in ring 1, ring 2 never starts, the failed patches are excluded; abort ends it', async () => {
  // Ring 1 is devices 5..24 (20 devices); 2 of them fail every execute.
  const failing = new Set(['00000000-0000-4000-8000-000000000007', '00000000-0000-4000-8000-000000000015']);
  const run = await startRelease({ devices: 40, ringSizes: [4, 20, 16], failingDevices: (id) => failing.has(id) }, THREE_RINGS);
  await run.worker.runUntil(async () => {
    const p = await waitForPhase(run.handle, 'halted', 1);
    expect(p.halted).toEqual({ by: 'promotion gate', automatic: true, reason: 'ring 1 (pilot 10%): 90.0% success of 20 < 95% after 24 h soak, halted' });
    expect(p.excludedKbs.sort()).toEqual(KBS);
    expect(p.rings[0]!.outcome).toBe('promoted');
    expect(p.rings[1]!.results).toMatchObject({ devices: 20, succeeded: 18, failed: 2 });
    expect(p.rings[1]!.results!.failedDeviceIds.sort()).toEqual([...failing].sort());
    // resume/retry/promote/abort are Updates: one the release cannot take now is refused.
    await expect(run.handle.executeUpdate(releaseActionUpdate, { args: [{ action: 'abort', by: 'user:ops', reason: 'bad patch' }] }))
      .resolves.toMatchObject({ phase: 'halted' });
    const result = await run.handle.result();
    expect(result.outcome).toBe('aborted');
    expect(result.rings.map((r) => r.outcome)).toEqual(['promoted', 'aborted', undefined]);
    expect(result.log.at(-1)).toBe('aborted by user:ops in ring 1: bad patch');
  });
  // Ring 2 never listed its devices: no device of it got a command.
  expect(run.calls.filter((c) => c.activity === 'listRolloutDevices')).toHaveLength(2);
  const ring2 = new Set(run.devices.slice(24).map((d) => d.deviceId));
  expect(run.calls.filter((c) => c.activity === 'deviceCommand' && ring2.has(c.deviceId!))).toHaveLength(0);
  await maybeRecordHistory(env.client, run.workflowId, 'releaseWorkflow-halted');
});

test('kill switch: a paused patch is left out of later rings; a halt stops the next ring until resume; promote by hand', async () => {
  const run = await startRelease({ devices: 12, ringSizes: [4, 4, 4] }, THREE_RINGS);
  await run.worker.runUntil(async () => {
    await waitForPhase(run.handle, 'soaking', 0);
    await run.handle.signal(haltReleaseSignal, { reason: 'known bad', by: 'user:ops', kb: 'kb5034763' });
    await run.handle.signal(haltReleaseSignal, { reason: 'incident 42', by: 'user:ops' });
    // The operator's halt ends the soak: the release waits for a resume before ring 1.
    const h = await waitForPhase(run.handle, 'halted', 0);
    expect(h.halted).toEqual({ reason: 'incident 42', by: 'user:ops', automatic: false });
    expect(h.pausedKbs).toEqual(['KB5034763']);
    // The kill switch lifts its halt: the ring's devices all have results, so it soaks and is gated again.
    await run.handle.signal(resumeReleaseSignal, { by: 'user:ops' });
    await waitForPhase(run.handle, 'waiting_deferral', 1);
    await expect(run.handle.executeUpdate(releaseActionUpdate, { args: [{ action: 'resume', by: 'user:ops' }] }))
      .rejects.toMatchObject({ cause: { message: expect.stringMatching(/not halted/) } });
    await run.handle.executeUpdate(releaseActionUpdate, { args: [{ action: 'promote', by: 'user:lead', reason: 'urgent' }] });
    const result = await run.handle.result();
    expect(result.outcome).toBe('completed');
    expect(result.rings.map((r) => r.kbs)).toEqual([KBS, ['KB5034441'], ['KB5034441']]);
    expect(result.log).toContain('ring 1 (pilot 10%): started early by user:lead: urgent');
  });
  await maybeRecordHistory(env.client, run.workflowId, 'releaseWorkflow-kill-switch');
});
