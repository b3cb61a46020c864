/**
 * Health checks and update loops through the whole stack: API, PostgreSQL, worker, gateway, signed
 * commands and simulated Windows machines. A bad cumulative update stops the Spooler service; the
 * install's health check finds it, the patch is rolled back and stored as "rolled back: health check
 * failed"; a removal that fails leaves the device "needs attention"; an update that keeps coming back
 * is stopped after the second time as "update loop detected", whatever executor reported it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { InstallResult } from '../../workflows/install.contract';
import { startHarness, type Harness } from './harness';

jest.setTimeout(180_000);

// Windows Server 2022's March cumulative update (always asks for a restart; uninstallable).
const MARCH = 'KB5035857';
const SPOOLER_CHECK = { check: { kind: 'services_running', services: ['Spooler', 'W32Time'] } };

let h: Harness;
let fleet: SimulatedFleet;
const ids: Record<string, string> = {};
const devices: Record<string, SimulatedWindowsDevice> = {};

beforeAll(async () => {
  h = await startHarness();
  const make = async (name: string, extra: Partial<ConstructorParameters<typeof SimulatedWindowsDevice>[0]>) => {
    const created = await h.createDevice(name);
    ids[name] = created.deviceId;
    devices[name] = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'hc-')),
      missingKbs: [MARCH], rebootDurationMs: 300, ...extra,
    });
    return { device: devices[name], enrollmentToken: created.enrollmentToken };
  };
  const list = [
    await make('HC-BAD-01', { breaksServices: { [MARCH]: ['Spooler'] } }),
    await make('HC-STUCK-01', { breaksServices: { [MARCH]: ['Spooler'] }, uninstallExitCodes: { [MARCH]: [0x80070643] } }),
    await make('HC-LOOP-01', { updateLoops: [MARCH] }),
  ];
  fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: list, pollWaitSeconds: 2 });
  await fleet.ready;
});
afterAll(async () => {
  await fleet?.stop();
  await h.stop();
});

async function install(name: string, body: Record<string, unknown>): Promise<InstallResult> {
  const started = await h.api('POST', `/api/v1/devices/${ids[name]}/installs`, body);
  expect(started.status).toBe(202);
  return (await h.client.workflow.getHandle(started.body.workflowId).result()) as InstallResult;
}
const patchOf = async (name: string, kb: string) =>
  ((await h.api('GET', `/api/v1/devices/${ids[name]}/patches`)).body.patches as any[]).find((p) => p.kb === kb);

test('a health check that is not one of the named checks is refused with the field named, and nothing starts', async () => {
  const bad = await h.api('POST', `/api/v1/devices/${ids['HC-BAD-01']}/installs`, { healthCheck: { check: { kind: 'services_running', services: ['Spooler; shutdown /r'] } } });
  expect(bad.status).toBe(400);
  expect(JSON.stringify(bad.body)).toContain('healthCheck.check.services.0');
  const script = await h.api('POST', `/api/v1/devices/${ids['HC-BAD-01']}/installs`, { healthCheck: { check: { kind: 'script', script: 'Get-Service' } } });
  expect(script.status).toBe(400);
  expect(devices['HC-BAD-01']!.executionCount(MARCH)).toBe(0);
});

test('a bad cumulative update fails the health check: it is uninstalled, the machine restarts, and the patch is stored rolled back', async () => {
  const device = devices['HC-BAD-01']!;
  const result = await install('HC-BAD-01', { healthCheck: SPOOLER_CHECK });
  expect(result.healthCheck).toMatchObject({ healthy: false, output: 'Spooler: stopped (expected running); W32Time: running', afterRollback: { healthy: true } });
  expect(result.rolledBack).toEqual([MARCH]);
  expect(result.needsAttention).toBeUndefined();
  expect(device.uninstallCount(MARCH)).toBe(1);
  expect(device.isInstalled(MARCH)).toBe(false);
  expect(device.stoppedServices()).toEqual([]);

  const row = await patchOf('HC-BAD-01', MARCH);
  expect(row).toMatchObject({ status: 'failed', lastError: 'rolled back: health check failed: Spooler: stopped (expected running); W32Time: running' });
  expect(row.rolledBackAt).not.toBeNull();
  // An automatic or plain install does not put it back: the rollback is remembered until Reprocess failed.
  const again = await install('HC-BAD-01', {});
  expect(again.refused).toEqual([expect.objectContaining({ kb: MARCH, reason: expect.stringMatching(/^rolled back: health check failed: .*; Reprocess failed to try again$/) })]);
  expect(device.executionCount(MARCH)).toBe(1);
  const device2 = (await h.api('GET', `/api/v1/devices/${ids['HC-BAD-01']}`)).body;
  expect(device2.needsAttention ?? null).toBeNull();
});

test('a removal that fails leaves the device needing attention, visibly, and nothing loops', async () => {
  const device = devices['HC-STUCK-01']!;
  const result = await install('HC-STUCK-01', { healthCheck: SPOOLER_CHECK });
  expect(result.rolledBack).toEqual([]);
  expect(result.needsAttention).toMatch(/^health check failed \(Spooler: stopped \(expected running\); W32Time: running\); uninstall of KB5035857 failed: /);
  expect(device.uninstallCount(MARCH)).toBe(0);
  expect(device.isInstalled(MARCH)).toBe(true);
  const shown = (await h.api('GET', `/api/v1/devices/${ids['HC-STUCK-01']}`)).body;
  expect(shown.needsAttention).toBe(result.needsAttention);
  expect(shown.needsAttentionAt).not.toBeNull();
  const audit = await h.db.query(`SELECT action FROM audit_log WHERE device_id = $1::uuid AND action = 'device.needs_attention'`, [ids['HC-STUCK-01']]);
  expect(audit.rows).toHaveLength(1);
});

test('an update that reports success and comes back is installed twice, then stopped as "update loop detected"', async () => {
  const device = devices['HC-LOOP-01']!;
  const first = await install('HC-LOOP-01', {});
  expect(first.outcome).toBe('succeeded');
  expect((await patchOf('HC-LOOP-01', MARCH)).status).toBe('installed');
  // The next install's pre-scan finds it missing again: one comeback; it installs again.
  const second = await install('HC-LOOP-01', {});
  expect(second.outcome).toBe('succeeded');
  expect((await patchOf('HC-LOOP-01', MARCH)).loopComebacks).toBe(1);
  const third = await install('HC-LOOP-01', {});
  expect(device.executionCount(MARCH)).toBe(2);
  const row = await patchOf('HC-LOOP-01', MARCH);
  expect(row).toMatchObject({
    status: 'failed', loopComebacks: 2,
    lastError: 'update loop detected: KB5035857 reported success 2 times and the next scan offered it again after each; not installed again',
  });
  expect(third.refused).toEqual([expect.objectContaining({ kb: MARCH, reason: row.lastError })]);
  expect(third.outcome).toBe('nothing_to_install');
});
