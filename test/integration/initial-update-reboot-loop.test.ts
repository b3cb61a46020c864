/**
 * The Initial Update's reboot-loop guard (issue 14 part 7), on the time-skipping server with the real
 * workflows and fake activities: a machine whose updates never stick asks for a restart at every cycle;
 * after more than 5 restarts the Initial Update stops, and says why, instead of cycling for ever.
 */
import { randomUUID } from 'node:crypto';
import type { initialUpdateWorkflow } from '../../workflows/initial-update';
import { INITIAL_UPDATE_WORKFLOW_TYPE, type InitialUpdateInput } from '../../workflows/initial-update.contract';
import { createFakeActivities, fakeDevice, type FakeOptions } from './fake-activities';
import { maybeRecordHistory } from './harness';
import { useTimeSkippingEnvironment } from './time-skipping';

jest.setTimeout(180_000);

const env = useTimeSkippingEnvironment();

async function runInitialUpdate(fake: FakeOptions, overrides: Partial<InitialUpdateInput> = {}) {
  const { activities, calls } = createFakeActivities(fake);
  const d = fakeDevice(1);
  const input: InitialUpdateInput = {
    deviceId: d.deviceId, deviceName: d.deviceName, clientId: d.clientId, clientName: d.clientName, siteId: d.siteId, siteName: d.siteName,
    workingFolder: d.workingFolder, installFolder: d.installFolder, requestedBy: 'test', ...overrides,
  };
  const { worker, taskQueue } = await env.fakeWorker('iu-loop', activities);
  const workflowId = `initial-update/${d.deviceId}-${randomUUID().slice(0, 8)}`;
  const handle = await env.client.workflow.start<typeof initialUpdateWorkflow>(INITIAL_UPDATE_WORKFLOW_TYPE, { taskQueue, workflowId, args: [input] });
  const result = await worker.runUntil(handle.result());
  return { result, calls, workflowId };
}

test('a device that asks for a restart at every cycle stops after the sixth, with the reason', async () => {
  const run = await runInitialUpdate({ devices: 1, updatesNeverStick: true });
  expect(run.result.outcome).toBe('stopped_reboot_loop');
  expect(run.result.reboots).toBe(6);
  expect(run.result.cycles).toBe(6);
  expect(run.result.stoppedReason).toMatch(/^reboot loop: WS-001 restarted 6 times in this Initial Update \(the limit is 5\); stopped after cycle 6 /);
  const reboots = run.calls.filter((c) => c.activity === 'deviceCommand' && c.type === 'reboot');
  expect(reboots).toHaveLength(6);
  // The device is released: nothing holds it after the stop.
  expect(run.calls.filter((c) => c.activity === 'releaseDeviceOperation').length).toBeGreaterThan(0);
  await maybeRecordHistory(env.client, run.workflowId, 'initialUpdateWorkflow-reboot-loop-stopped');
});

test('the limit is the input\'s, and a machine whose updates stick finishes as before', async () => {
  const limited = await runInitialUpdate({ devices: 1, updatesNeverStick: true }, { maxReboots: 2 });
  expect(limited.result).toMatchObject({ outcome: 'stopped_reboot_loop', reboots: 3 });
  const normal = await runInitialUpdate({ devices: 1 });
  expect(normal.result.outcome).toBe('completed');
  expect(normal.result.stoppedReason).toBeUndefined();
  expect(normal.result.reboots).toBeLessThanOrEqual(2);
});
