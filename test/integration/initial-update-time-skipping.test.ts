/**
 * An Initial Update on a device that goes away for three days (issue 15), on Temporal's time-skipping
 * server with the real workflows and fake activities: the device disappears in the middle of its first
 * install, after one patch has run, and comes back on day 3. The Initial Update waits, finishes
 * the install it was in, scans again and ends with nothing approved missing; no patch runs twice and
 * its history stays bounded (continue-as-new keeps each run under its limit).
 */
import { randomUUID } from 'node:crypto';
import type { initialUpdateWorkflow } from '../../workflows/initial-update';
import { INITIAL_UPDATE_WORKFLOW_TYPE, initialUpdateWorkflowId, type InitialUpdateInput, type InitialUpdateResult } from '../../workflows/initial-update.contract';
import { createFakeActivities, deviceCommands, executedKbs, fakeDevice } from './fake-activities';
import { useTimeSkippingEnvironment } from './time-skipping';

jest.setTimeout(180_000);

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const env = useTimeSkippingEnvironment();

test('a device offline for three days in the middle of its first install completes its Initial Update when it is back on day 3', async () => {
  const t0 = await env.currentTimeMs();
  const awayFrom = t0 + MINUTE / 2;
  const back = t0 + 3 * DAY;
  // Each installer runs for a minute of workflow time: the device leaves while the first one runs.
  const { activities, calls } = createFakeActivities({
    devices: 1, offline: { fromMs: awayFrom, toMs: back }, whileExecuting: () => env.sleep(MINUTE), nowMs: () => env.currentTimeMs(),
  });
  const { worker, taskQueue } = await env.fakeWorker('initial-update-ts', activities);
  const d = fakeDevice(1);
  const input: InitialUpdateInput = {
    deviceId: d.deviceId, deviceName: d.deviceName, clientId: d.clientId, clientName: d.clientName, siteId: d.siteId, siteName: d.siteName,
    workingFolder: d.workingFolder, installFolder: d.installFolder, requestedBy: 'test',
  };
  const workflowId = initialUpdateWorkflowId(`${d.deviceId}-${randomUUID().slice(0, 8)}`);
  const result = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start<typeof initialUpdateWorkflow>(INITIAL_UPDATE_WORKFLOW_TYPE, { workflowId, taskQueue, args: [input] });
    return (await handle.result()) as InitialUpdateResult;
  });

  expect(result.outcome).toBe('completed');
  expect(result.needsAttention).toEqual([]);
  const commands = deviceCommands(calls, d.deviceId);
  // It really was away: commands were refused while it was gone, and the work went on only from day 3.
  const refused = commands.filter((c) => c.result === 'offline');
  expect(refused.length).toBeGreaterThan(0);
  expect(refused.every((c) => c.atMs >= awayFrom && c.atMs < back)).toBe(true);
  expect(Math.max(...commands.map((c) => c.atMs))).toBeGreaterThanOrEqual(back);
  // Mid-install: one patch ran before the device left, the next only after it was back.
  // (One execute_patches command: the first patch ran, the second got no go-ahead while the device was
  // away; the install offered that one again, and it ran once the device was back.)
  const ran = commands.filter((c) => executedKbs([c]).length > 0);
  expect(ran[0]!.atMs).toBeLessThan(awayFrom);
  expect(ran.at(-1)!.atMs).toBeGreaterThanOrEqual(back);
  // Every patch ran once, whatever the retries, and each one the first scan found missing is installed.
  const executed = executedKbs(commands);
  expect(new Set(executed).size).toBe(executed.length);
  expect([...result.installed].sort()).toEqual([...executed].sort());
  expect(executed.length).toBeGreaterThanOrEqual(2);
  // The last scan came after the device was back and found nothing approved missing.
  const scans = commands.filter((c) => c.type === 'scan' && c.result !== 'offline');
  expect(scans.at(-1)!.atMs).toBeGreaterThanOrEqual(back);
  // Bounded history: each run of the Initial Update stays far below Temporal's limits.
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  expect(history.events!.length).toBeLessThan(8_000);
});
