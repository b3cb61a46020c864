/**
 * "Needs attention" (issue 14 part 6) for the operator: a device an automatic rollback could not
 * clean up is listed (GET /devices?needsAttention=true), and an operator who fixed it clears it with a
 * note (POST /devices/{id}/needs-attention/clear), audited; through the API and the CLI bundle.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHarness, type Harness, type MintedKey } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { buildCli, bundle } = require('../../tools/build-cli.js') as { buildCli(o?: { quiet?: boolean }): Promise<unknown>; bundle: string };

jest.setTimeout(120_000);

let h: Harness;
let dataDir: string;
let operator: MintedKey;
let viewer: MintedKey;

beforeAll(async () => {
  await buildCli({ quiet: true });
  h = await startHarness({ startWorker: false });
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-attention-cli-'));
  [operator, viewer] = await Promise.all([h.mintKey({ role: 'operator' }), h.mintKey({ role: 'viewer' })]);
});

afterAll(async () => {
  fs.rmSync(dataDir, { recursive: true, force: true });
  await h.stop();
});

function cli(args: string[], key: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATCHFLOW_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bundle, ...args], {
      cwd: os.tmpdir(), env: { ...clean, DATA_DIR: dataDir, PATCHFLOW_API_URL: h.server.url, PATCHFLOW_API_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const WHY = 'automatic rollback incomplete: KB5034441 could not be uninstalled (0x80240028 WU_E_UNINSTALL_NOT_ALLOWED)';
const auditOf = async (deviceId: string) =>
  (await h.db.query(`SELECT actor, action, details, user_name FROM audit_log WHERE device_id = $1 AND action LIKE 'device.needs_attention%' ORDER BY id`, [deviceId])).rows;

test('listed, cleared by an operator with a note (audited), refused with 400/403/404/409 and nothing written', async () => {
  const broken = await h.createDevice(`SRV-ATTN-${randomUUID().slice(0, 4)}`);
  const fine = await h.createDevice(`SRV-OK-${randomUUID().slice(0, 4)}`);
  // As an automatic rollback's bookkeeping leaves it (activities/install-bookkeeping.ts recordRollback).
  await h.db.query('UPDATE devices SET needs_attention = $2, needs_attention_at = now() WHERE id = $1', [broken.deviceId, WHY]);

  const listed = await h.apiAs(viewer.key, 'GET', '/api/v1/devices?needsAttention=true');
  expect(listed.status).toBe(200);
  const ids = listed.body.devices.map((d: any) => d.id);
  expect(ids).toContain(broken.deviceId);
  expect(ids).not.toContain(fine.deviceId);
  expect(listed.body.devices.find((d: any) => d.id === broken.deviceId)).toMatchObject({ needsAttention: WHY, needsAttentionAt: expect.any(String) });
  const others = (await h.api('GET', `/api/v1/devices?needsAttention=false&clientId=${fine.clientId}`)).body.devices.map((d: any) => d.id);
  expect(others).toEqual([fine.deviceId]);
  expect((await h.api('GET', '/api/v1/devices?needsAttention=maybe')).body.error).toMatch(/query\.needsAttention/);

  // The CLI's list shows why and since when.
  const table = await cli(['devices', 'list', '--needs-attention', '--client', broken.clientId], viewer.key);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/NEEDS ATTENTION/);
  expect(table.stdout).toContain(WHY);

  // Refusals, each writing nothing.
  const clear = `/api/v1/devices/${broken.deviceId}/needs-attention/clear`;
  expect((await h.apiAs(viewer.key, 'POST', clear, { note: 'fixed' })).status).toBe(403);
  const noNote = await h.apiAs(operator.key, 'POST', clear, {});
  expect(noNote.status).toBe(400);
  expect(noNote.body.error).toMatch(/body\.note/);
  expect((await h.apiAs(operator.key, 'POST', clear, { note: '   ' })).body.error).toMatch(/body\.note: must say what was fixed/);
  expect((await h.apiAs(operator.key, 'POST', clear, { note: 'x', extra: 1 })).status).toBe(400);
  expect((await h.apiAs(operator.key, 'POST', `/api/v1/devices/${randomUUID()}/needs-attention/clear`, { note: 'fixed' })).status).toBe(404);
  const notNeeded = await h.apiAs(operator.key, 'POST', `/api/v1/devices/${fine.deviceId}/needs-attention/clear`, { note: 'fixed' });
  expect(notNeeded.status).toBe(409);
  expect(notNeeded.body.error).toMatch(/does not need attention/);
  expect((await h.api('GET', `/api/v1/devices/${broken.deviceId}`)).body.needsAttention).toBe(WHY);
  expect(await auditOf(broken.deviceId)).toEqual([]);
  expect(await auditOf(fine.deviceId)).toEqual([]);

  // The operator's clear, through the CLI.
  const note = 'removed KB5034441 with DISM by hand; services start again';
  const cleared = await cli(['devices', 'clear-attention', broken.deviceId, '--note', note], operator.key);
  expect(cleared.stderr).toBe('');
  expect(cleared.code).toBe(0);
  expect(cleared.stdout).toMatch(/^cleared "needs attention" on SRV-ATTN-/);
  const device = (await h.api('GET', `/api/v1/devices/${broken.deviceId}`)).body;
  expect(device).toMatchObject({ needsAttention: null, needsAttentionAt: null });
  const audit = await auditOf(broken.deviceId);
  expect(audit.map((a) => a.action)).toEqual(['device.needs_attention_cleared']);
  expect(audit[0]).toMatchObject({ user_name: operator.userName, details: { note, reason: WHY, since: expect.any(String) } });
  expect(audit[0].actor).toContain(operator.userName);

  // Again: nothing to clear any more.
  const again = await cli(['devices', 'clear-attention', broken.deviceId, '--note', note], operator.key);
  expect(again.code).toBe(1);
  expect(again.stderr).toMatch(/does not need attention \(HTTP 409\)/);
  expect(await auditOf(broken.deviceId)).toHaveLength(1);
  expect((await h.api('GET', '/api/v1/devices?needsAttention=true')).body.devices.map((d: any) => d.id)).not.toContain(broken.deviceId);
});
