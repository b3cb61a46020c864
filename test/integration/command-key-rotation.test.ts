import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { keyringFromPem } from '../../config/command-keys';
import { generateSigningKeyPair } from '../../domain/signatures';
import { trustKeysWorkflowId } from '../../workflows/trust-keys.contract';
import { eventually, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function enrolled(name: string) {
  const { deviceId, enrollmentToken } = await h.createDevice(name);
  const device = new SimulatedWindowsDevice({ id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), os: 'server2022', seed: 7 });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  return { deviceId, device, fleet };
}

async function scan(deviceId: string) {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
  expect(r.status).toBe(202);
  const outcome = await h.client.workflow.getHandle(r.body.workflowId).result().then(() => 'completed', () => 'failed');
  const view = await h.api('GET', `/api/v1/devices/${deviceId}/scans/${r.body.key}`);
  const row = await h.db.query(`SELECT signature FROM agent_commands WHERE workflow_id = $1 AND type = 'scan'`, [r.body.workflowId]);
  return { outcome, failure: view.body.failure as string | null, keyId: row.rows[0]?.signature?.keyId as string };
}

test('rotation: agents learn the next key through trust_keys signed by the current one, then commands signed by the new key verify', async () => {
  const oldPem = fs.readFileSync(h.commandKeyPath, 'utf8');
  const newPem = generateSigningKeyPair().privateKeyPem;
  const oldKeyId = h.commandKeys.current.keyId;

  const a = await enrolled('SRV-ROTATE');
  const away = await enrolled('SRV-AWAY'); // enrolled with the old key only, then off the network
  await away.fleet.stop();
  expect(a.fleet.agents[0]!.commandKeys!.map((k) => k.keyId)).toEqual([oldKeyId]);

  // Step 1: the operator adds the next key (COMMAND_SIGNING_NEXT_KEY_PATH) and restarts.
  await h.restartWithKeys(keyringFromPem(oldPem, newPem));
  const newKeyId = h.commandKeys.next!.keyId;
  const before = await h.api('GET', '/api/v1/command-keys');
  expect(before.body).toMatchObject({ current: { keyId: oldKeyId }, next: { keyId: newKeyId, devicesPinning: 0 } });
  expect(before.body.devicesNotPinningAll).toBeGreaterThanOrEqual(2);

  // Step 2: rotate. Each device gets trust_keys [old, new], signed by the old key it pins.
  const rotated = await h.api('POST', '/api/v1/command-keys/rotate', {});
  expect(rotated.status).toBe(202);
  expect(rotated.body.keyIds).toEqual([oldKeyId, newKeyId]);
  expect(rotated.body.started).toBeGreaterThanOrEqual(2);
  const workflowId = trustKeysWorkflowId(a.deviceId, [oldKeyId, newKeyId]);
  const firstRun = (await h.client.workflow.getHandle(workflowId).describe()).runId;
  // One workflow per device and key set: a second rotate starts none for this device. (The run's
  // database is shared by every test file, so other files' devices may still be rotated.)
  const again = await h.api('POST', '/api/v1/command-keys/rotate', {});
  expect(again.status).toBe(202);
  expect(again.body.alreadyRunning + again.body.started).toBeLessThanOrEqual(again.body.devices);
  expect((await h.client.workflow.getHandle(workflowId).describe()).runId).toBe(firstRun);
  expect(await h.client.workflow.getHandle(workflowId).result()).toEqual({ keyIds: [oldKeyId, newKeyId] });
  await maybeRecordHistory(h.client, workflowId, 'trustKeysWorkflow-rotation');
  expect(a.fleet.agents[0]!.commandKeys!.map((k) => k.keyId)).toEqual([oldKeyId, newKeyId]);
  const trustRow = await h.db.query(`SELECT signature FROM agent_commands WHERE workflow_id = $1 AND type = 'trust_keys'`, [workflowId]);
  expect(trustRow.rows[0].signature.keyId).toBe(oldKeyId);
  const pinned = await h.db.query('SELECT pinned_command_key_ids FROM devices WHERE id = $1', [a.deviceId]);
  expect(pinned.rows[0].pinned_command_key_ids).toEqual([oldKeyId, newKeyId]);
  const audit = await h.db.query(`SELECT actor FROM audit_log WHERE device_id = $1 AND action = 'device.command_keys_pinned'`, [a.deviceId]);
  expect(audit.rows).toEqual([{ actor: `workflow:${workflowId}` }]);
  const during = await h.api('GET', '/api/v1/command-keys');
  expect(during.body.next.devicesPinning).toBeGreaterThanOrEqual(1);

  // Step 3: the new key becomes the current one. Devices that pinned it accept what it signs...
  await h.restartWithKeys(keyringFromPem(newPem));
  expect(await scan(a.deviceId)).toEqual({ outcome: 'completed', failure: null, keyId: newKeyId });

  // ...and one that was away for the whole rotation is lost to it: once its old-key trust_keys attempt
  // has timed out, the next attempt is signed by the new key, which it refuses. Hence: promote only
  // when GET /command-keys says every device pins the next key (`devicesNotPinningAll: 0`).
  const awayWorkflow = trustKeysWorkflowId(away.deviceId, [oldKeyId, newKeyId]);
  await eventually(async () => {
    const { rows } = await h.db.query(`SELECT signature FROM agent_commands WHERE workflow_id = $1 AND type = 'trust_keys' AND status = 'pending'`, [awayWorkflow]);
    return rows[0]?.signature?.keyId === newKeyId ? true : undefined;
  }, 30_000, 'the trust_keys attempt re-signed by the new key');
  h.fleets.push(startSimulatedFleet({
    baseUrl: h.server.url, pollWaitSeconds: 2,
    devices: [{ device: away.device, credential: away.fleet.agents[0]!.credential, commandKeys: away.fleet.agents[0]!.commandKeys }],
  }));
  await expect(h.client.workflow.getHandle(awayWorkflow).result()).rejects.toMatchObject({
    cause: { cause: { message: expect.stringMatching(/^refused by the device: unknown key/) } },
  });
  const refused = await scan(away.deviceId);
  expect(refused.outcome).toBe('failed');
  expect(refused.failure).toMatch(/^refused by the device: unknown key/);
  const audit2 = await h.db.query(`SELECT details->>'reason' AS reason FROM audit_log WHERE action = 'command.refused' AND device_id = $1`, [away.deviceId]);
  expect(audit2.rows.map((r) => r.reason)).toEqual(['unknown key', 'unknown key']);
});
