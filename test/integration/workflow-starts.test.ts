/**
 * The one claim discipline of device workflow starts (api/workflow-starts.ts), against the real
 * PostgreSQL: a start that fails leaves the device unclaimed; a device held by a running workflow is
 * refused before anything starts.
 */
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { startClaimed, deviceWorkflowStart } from '../../api/workflow-starts';
import { claimDevice, findClaim } from '../../db/operation-repository';
import { DeviceBusyError } from '../../domain/errors';
import { startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

let h: Harness;
beforeAll(async () => { h = await startHarness({ startWorker: false }); });
afterAll(async () => { await h.stop(); });

const log = pino({ level: 'silent' });

test('a start that fails releases the claim it took', async () => {
  const d = await h.createDevice('START-FAILS');
  const starts: string[] = [];
  const failing = {
    workflow: { start: async (_type: string, options: { workflowId: string }) => { starts.push(options.workflowId); throw new Error('Temporal unavailable'); } },
  } as unknown as Client;
  const device = { id: d.deviceId, name: 'START-FAILS', clientId: d.clientId, clientName: 'c', siteId: d.siteId, siteName: 's' };
  const options = deviceWorkflowStart({ device, operation: 'install', workflowId: `install/${d.deviceId}/fails`, taskQueue: 'nowhere', args: [], summary: 'Install on' });
  await expect(startClaimed({ db: h.db, client: failing, log }, 'deviceInstallWorkflow', options, { deviceId: d.deviceId, operation: 'install' }))
    .rejects.toThrow('Temporal unavailable');
  expect(starts).toEqual([`install/${d.deviceId}/fails`]);
  expect(await findClaim(h.db, d.deviceId)).toBeUndefined();
});

test('a device held by a running workflow is refused, and nothing starts', async () => {
  const d = await h.createDevice('START-BUSY');
  await claimDevice(h.db, { deviceId: d.deviceId, workflowId: 'initial-update/held', operation: 'initial-update' });
  const starts: string[] = [];
  const client = {
    workflow: {
      // the holder still runs
      getHandle: () => ({ describe: async () => ({ status: { name: 'RUNNING' } }) }),
      start: async (_type: string, options: { workflowId: string }) => { starts.push(options.workflowId); },
    },
  } as unknown as Client;
  const device = { id: d.deviceId, name: 'START-BUSY', clientId: d.clientId, clientName: 'c', siteId: d.siteId, siteName: 's' };
  const options = deviceWorkflowStart({ device, operation: 'install', workflowId: `install/${d.deviceId}/busy`, taskQueue: 'nowhere', args: [], summary: 'Install on' });
  await expect(startClaimed({ db: h.db, client, log }, 'deviceInstallWorkflow', options, { deviceId: d.deviceId, operation: 'install' }))
    .rejects.toBeInstanceOf(DeviceBusyError);
  expect(starts).toEqual([]);
  expect((await findClaim(h.db, d.deviceId))?.workflowId).toBe('initial-update/held');
});
