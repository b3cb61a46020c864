import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet, type FleetMember, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import type { PinnedCommandKey } from '../../domain/command-envelope';
import type { AgentCommand } from '../../domain/device-protocol';
import type { InstallResult } from '../../workflows/install.contract';
import { eventually, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

const SECURITY = 'KB5034439'; // a Server 2022 security update from the simulator's catalog

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

interface Sim { deviceId: string; device: SimulatedWindowsDevice; credential: string; commandKeys: PinnedCommandKey[] }

/** A device registered through the API, enrolled by its agent (which pins the harness's key). */
async function enrolledDevice(name: string, options: Partial<SimulatedDeviceOptions> = {}, member: Partial<FleetMember> = {}): Promise<Sim & { fleet: SimulatedFleet }> {
  const { deviceId, enrollmentToken } = await h.createDevice(name);
  const device = new SimulatedWindowsDevice({
    id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), os: 'server2022', seed: 42,
    missingKbs: [SECURITY], rebootDurationMs: 500, ...options,
  });
  const fleet = run({ device, enrollmentToken, ...member });
  await fleet.ready;
  const agent = fleet.agents[0]!;
  return { deviceId, device, fleet, credential: agent.credential!, commandKeys: agent.commandKeys! };
}

function run(member: FleetMember, fetchImpl?: typeof fetch): SimulatedFleet {
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [member], pollWaitSeconds: 2, fetch: fetchImpl });
  h.fleets.push(fleet);
  return fleet;
}

/** The agent goes away; its credential and pinned keys stay, as on a machine that is switched off. */
async function offline(sim: Sim & { fleet: SimulatedFleet }): Promise<Sim> {
  await sim.fleet.stop();
  return sim;
}
const online = (sim: Sim, extra: Partial<FleetMember> = {}, fetchImpl?: typeof fetch) =>
  run({ device: sim.device, credential: sim.credential, commandKeys: sim.commandKeys, ...extra }, fetchImpl);

async function startScan(deviceId: string) {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
  expect(r.status).toBe(202);
  return r.body as { workflowId: string; key: string; location: string };
}

/** The device's signed command of this type, once recorded and waiting for the agent. */
const pendingCommand = (deviceId: string, type: string) => eventually(async () => {
  const { rows } = await h.db.query(
    `SELECT id, payload, signature FROM agent_commands WHERE device_id = $1 AND type = $2 AND status = 'pending' AND signature IS NOT NULL`,
    [deviceId, type],
  );
  return rows[0] as { id: string; payload: unknown; signature: Record<string, unknown> } | undefined;
}, 20_000, `a pending ${type} command`);

const refusals = async (deviceId: string) =>
  (await h.db.query(`SELECT actor, subject, details FROM audit_log WHERE device_id = $1 AND action = 'command.refused' ORDER BY id`, [deviceId])).rows;

async function scanFailure(deviceId: string, scan: { workflowId: string; key: string }): Promise<string> {
  await h.client.workflow.getHandle(scan.workflowId).result().catch(() => undefined);
  const view = await h.api('GET', `/api/v1/devices/${deviceId}/scans/${scan.key}`);
  expect(view.body.status).toBe('FAILED');
  return view.body.failure as string;
}

test('the worker signs every attempt: sequence, expiry and key id are stored with the command, and the gateway hands them out', async () => {
  const sim = await offline(await enrolledDevice('SRV-SIGNED'));
  const scan = await startScan(sim.deviceId);
  const row = await pendingCommand(sim.deviceId, 'scan');
  expect(row.signature).toMatchObject({ deviceId: sim.deviceId, keyId: h.commandKeys.current.keyId, sequence: expect.any(Number), signature: expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/) });
  expect(Date.parse(row.signature.expiresAt as string) - Date.parse(row.signature.issuedAt as string)).toBeGreaterThanOrEqual(60_000);
  expect(sim.commandKeys).toEqual([{ keyId: h.commandKeys.current.keyId, publicKey: h.commandKeys.current.publicKey }]);
  const pinned = await h.db.query('SELECT pinned_command_key_ids FROM devices WHERE id = $1', [sim.deviceId]);
  expect(pinned.rows[0].pinned_command_key_ids).toEqual([h.commandKeys.current.keyId]);
  online(sim);
  await h.client.workflow.getHandle(scan.workflowId).result();
  expect(await refusals(sim.deviceId)).toEqual([]);
});

test('a command altered in agent_commands between server and agent is refused, the scan says why, and the refusal is audited', async () => {
  const sim = await offline(await enrolledDevice('SRV-TAMPER'));
  const scan = await startScan(sim.deviceId);
  const row = await pendingCommand(sim.deviceId, 'scan');
  await h.db.query(`UPDATE agent_commands SET payload = '{"reason": "attacker"}'::jsonb WHERE id = $1`, [row.id]);
  online(sim);
  expect(await scanFailure(sim.deviceId, scan)).toMatch(/^refused by the device: bad signature/);
  expect(sim.device.events).toEqual([]); // nothing ran, not even a scan
  expect(await refusals(sim.deviceId)).toEqual([{
    actor: `device:${sim.deviceId}`, subject: row.id,
    details: expect.objectContaining({ type: 'scan', reason: 'bad signature', retryable: false, workflowId: scan.workflowId }),
  }]);
});

test("an install whose download URL and hash are rewritten in the database fails that patch with the device's refusal; nothing is downloaded", async () => {
  const sim = await enrolledDevice('SRV-EVIL-URL');
  // The attacker with database access rewrites the download as soon as the worker has signed it.
  await h.db.query(`
    CREATE OR REPLACE FUNCTION test_tamper_download() RETURNS trigger AS $$
    BEGIN
      -- The install's one download command carries every patch: the first one's URL and hash are rewritten.
      NEW.payload := jsonb_set(jsonb_set(NEW.payload, '{patches,0,downloadUrl}', '"http://evil.example/KB5034439.msu"'), '{patches,0,sha256}', to_jsonb(repeat('e', 64)));
      RETURN NEW;
    END $$ LANGUAGE plpgsql`);
  await h.db.query(`
    CREATE TRIGGER test_tamper_download BEFORE UPDATE OF signature ON agent_commands FOR EACH ROW
    WHEN (NEW.type = 'download' AND NEW.device_id = '${sim.deviceId}'::uuid) EXECUTE FUNCTION test_tamper_download()`);
  try {
    const started = await h.api('POST', `/api/v1/devices/${sim.deviceId}/installs`, {});
    expect(started.status).toBe(202);
    const result = (await h.client.workflow.getHandle(started.body.workflowId).result()) as InstallResult;
    const patch = result.patches.find((p) => p.kb === SECURITY)!;
    expect(patch.status).toBe('failed');
    expect(patch.error).toMatch(/^download refused: refused by the device: bad signature/);
    const view = await h.api('GET', `/api/v1/devices/${sim.deviceId}/installs/${started.body.key}`);
    expect(view.body.result.patches.find((p: any) => p.kb === SECURITY).error).toMatch(/refused by the device: bad signature/);
    expect(sim.device.events.filter((e) => e.type === 'download' || e.type === 'execute')).toEqual([]);
    expect(sim.device.executionCount(SECURITY)).toBe(0);
    expect((await refusals(sim.deviceId)).map((r) => [r.details.type, r.details.reason])).toEqual([['download', 'bad signature']]);
  } finally {
    await h.db.query('DROP TRIGGER IF EXISTS test_tamper_download ON agent_commands');
  }
});

test('a command with its signature removed is refused as unsigned', async () => {
  const sim = await offline(await enrolledDevice('SRV-UNSIGNED'));
  const scan = await startScan(sim.deviceId);
  const row = await pendingCommand(sim.deviceId, 'scan');
  await h.db.query('UPDATE agent_commands SET signature = NULL WHERE id = $1', [row.id]);
  online(sim);
  expect(await scanFailure(sim.deviceId, scan)).toMatch(/^refused by the device: unsigned/);
  expect((await refusals(sim.deviceId)).map((r) => r.details.reason)).toEqual(['unsigned']);
});

test("a command moved to another device's queue is refused by that device as meant for another", async () => {
  const victim = await offline(await enrolledDevice('SRV-VICTIM'));
  const other = await enrolledDevice('SRV-OTHER');
  const scan = await startScan(victim.deviceId);
  const row = await pendingCommand(victim.deviceId, 'scan');
  await h.db.query('UPDATE agent_commands SET device_id = $2 WHERE id = $1', [row.id, other.deviceId]);
  expect(await scanFailure(victim.deviceId, scan)).toMatch(/^refused by the device: wrong device/);
  expect(other.device.events).toEqual([]);
  expect((await refusals(other.deviceId)).map((r) => [r.actor, r.details.reason])).toEqual([[`device:${other.deviceId}`, 'wrong device']]);
});

test('a re-served old envelope (the one the device already ran) is answered from its journal: nothing runs twice', async () => {
  // The network (or a compromised gateway) keeps the first delivery of the scan, swallows the
  // device's answer so that the attempt times out, then serves the old envelope instead of the new one.
  // The device admits that exact envelope again (the gateway re-offers claimed commands as stored,
  // issue 18.2), and its journal answers it: the old envelope cannot make it run anything again.
  // (Before redelivery was allowed this was refused as "replayed"; a used sequence on any other
  // envelope still is: test/unit/command-trust.test.ts.)
  let first: AgentCommand | undefined;
  let swallowed = 0;
  const attacker: typeof fetch = async (input, init) => {
    const url = String(input);
    if (first && swallowed === 0 && url.endsWith(`/commands/${encodeURIComponent(first.id)}/result`)) {
      swallowed++;
      return new Response(JSON.stringify({ error: 'swallowed' }), { status: 409, headers: { 'content-type': 'application/json' } });
    }
    const res = await fetch(input, init);
    if (!url.includes('/agent/v1/commands?')) return res;
    const body = (await res.json()) as { commands: AgentCommand[] };
    body.commands = body.commands.map((c) => {
      if (c.type !== 'scan') return c;
      if (!first) { first = c; return c; }
      return c.id === first.id ? first : c;
    });
    return new Response(JSON.stringify(body), { status: res.status, headers: { 'content-type': 'application/json' } });
  };
  const sim = await offline(await enrolledDevice('SRV-REPLAY'));
  const scan = await startScan(sim.deviceId);
  online(sim, {}, attacker);
  await h.client.workflow.getHandle(scan.workflowId).result();
  const view = await h.api('GET', `/api/v1/devices/${sim.deviceId}/scans/${scan.key}`);
  expect(view.body.status).toBe('COMPLETED');
  expect(swallowed).toBe(1);
  expect(sim.device.events.filter((e) => e.type === 'scan')).toHaveLength(1); // it ran once
  expect(sim.device.events.filter((e) => e.type === 'journal-hit').length).toBeGreaterThan(0); // then the journal answered
  expect(await refusals(sim.deviceId)).toEqual([]);
});

test('an expired command is refused and retried; the next attempt is signed afresh and runs once the clock is right', async () => {
  let skewMs = 3 * 3600_000; // the device's clock is three hours ahead
  const sim = await offline(await enrolledDevice('SRV-CLOCK'));
  const scan = await startScan(sim.deviceId);
  const firstSequence = Number((await pendingCommand(sim.deviceId, 'scan')).signature.sequence);
  online(sim, { clock: () => Date.now() + skewMs });
  await eventually(async () => ((await refusals(sim.deviceId)).length > 0 ? true : undefined), 20_000, 'the expired refusal');
  skewMs = 0; // the time service catches up
  await h.client.workflow.getHandle(scan.workflowId).result();
  const [refusal] = await refusals(sim.deviceId);
  expect(refusal.details).toMatchObject({ type: 'scan', reason: 'expired', retryable: true });
  expect(refusal.details.message).toMatch(/^refused by the device: expired/);
  const done = await h.db.query(`SELECT attempt, signature FROM agent_commands WHERE id = $1`, [refusal.subject]);
  expect(done.rows[0].attempt).toBeGreaterThan(1);
  expect(Number(done.rows[0].signature.sequence)).toBeGreaterThan(firstSequence);
});
