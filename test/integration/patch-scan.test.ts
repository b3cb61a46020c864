import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { catalogFor } from '../../agent/catalog';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { ScannedUpdate } from '../../domain/device-protocol';
import type { PatchScanResult } from '../../workflows/scan.contract';
import { SCOPE_SCAN_WORKFLOW_TYPE, type ScopeScanInput, type ScopeScanResult } from '../../workflows/scope-scan.contract';
import { DeviceIdAttr, OperationAttr } from '../../workflows/search-attributes';
import { answerNextScan, maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(90_000);

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function scanOf(deviceId: string): Promise<{ workflowId: string; result: PatchScanResult }> {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
  expect(r.status).toBe(202);
  const result = (await h.client.workflow.getHandle(r.body.workflowId).result()) as PatchScanResult;
  return { workflowId: r.body.workflowId, result };
}

const statusRows = async (deviceId: string) =>
  (await h.db.query(`SELECT update_id, status, status_changed_at FROM device_patches WHERE device_id = $1 ORDER BY update_id`, [deviceId])).rows;

test('a scan fills the device patch list from the catalog; an identical scan writes no status rows', async () => {
  const { deviceId, enrollmentToken } = await h.createDevice('SRV-SCAN');
  const device = new SimulatedWindowsDevice({
    id: 'srv-scan', name: 'SRV-SCAN', os: 'server2022', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'scan-')),
    missingKbs: ['KB5035857', 'KB5034439', 'KB5034129'],
  });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;

  const first = await scanOf(deviceId);
  const applicable = catalogFor('server2022');
  expect(first.result).toMatchObject({ changed: true, updatesReported: applicable.length, missing: 3, installed: applicable.length - 3 });
  const patches = (await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[];
  expect(patches).toHaveLength(applicable.length);
  expect(patches.filter((p) => p.status === 'missing').map((p) => p.kb).sort()).toEqual(['KB5034129', 'KB5034439', 'KB5035857']);
  // Installed by something other than Patchflow: Installed, with no install date.
  expect(patches.filter((p) => p.status === 'installed').every((p) => p.installedAt === null)).toBe(true);
  const catalog = await h.db.query(`SELECT kb, superseded_by, uninstallable FROM patches WHERE kb = 'KB5034129'`);
  expect(catalog.rows[0]).toEqual({ kb: 'KB5034129', superseded_by: 'KB5035857', uninstallable: true });

  const before = await statusRows(deviceId);
  const lastScan = (await h.api('GET', `/api/v1/devices/${deviceId}/last-scan`)).body;
  const second = await scanOf(deviceId);
  expect(second.result.changed).toBe(false);
  expect(await statusRows(deviceId)).toEqual(before);
  const lastScanAfter = (await h.api('GET', `/api/v1/devices/${deviceId}/last-scan`)).body;
  expect(lastScanAfter.lastChangedAt).toBe(lastScan.lastChangedAt);
  expect(new Date(lastScanAfter.lastScannedAt).getTime()).toBeGreaterThan(new Date(lastScan.lastScannedAt).getTime());
  await maybeRecordHistory(h.client, first.workflowId, 'patchScanWorkflow-first-scan');
});

test('a scope scan runs as one workflow that starts one scan per device of the scope', async () => {
  const a = await h.createDevice('WS-SCOPE-1');
  const b = { deviceId: (await h.api('POST', '/api/v1/devices', { siteId: a.siteId, name: 'WS-SCOPE-2', deviceType: 'workstation' })).body.device.id as string };
  const r = await h.api('POST', '/api/v1/scans', { scopeType: 'client', scopeId: a.clientId });
  expect(r.status).toBe(202);
  expect(r.body.workflowId).toMatch(new RegExp(`^scope-scan/client/${a.clientId}/`));
  expect(r.body.scans.map((s: any) => s.deviceId).sort()).toEqual([a.deviceId, b.deviceId].sort());
  const tally = (await h.client.workflow.getHandle(r.body.workflowId).result()) as ScopeScanResult;
  expect(tally).toEqual({ started: 2, skipped: 0 });
  const scanOfA = r.body.scans.find((s: any) => s.deviceId === a.deviceId);
  const child = await h.client.workflow.getHandle(scanOfA.workflowId).describe();
  expect(child.type).toBe('patchScanWorkflow');
  expect(child.status.name).toBe('RUNNING'); // abandoned by the scope scan: it waits for its device
  expect(child.typedSearchAttributes.get(DeviceIdAttr)).toBe(a.deviceId);
  expect(child.typedSearchAttributes.get(OperationAttr)).toBe('scan');
  const audit = (await h.api('GET', '/api/v1/audit?action=scan.started_for_scope')).body.entries;
  expect(audit.find((e: any) => e.details?.workflowId === r.body.workflowId)?.details.devices).toBe(2);
  const bad = await h.api('POST', '/api/v1/scans', { scopeType: 'site' });
  expect(bad.status).toBe(400);
  expect(bad.body.error).toMatch(/body\.scopeId: is required/);
  for (const s of r.body.scans) await h.client.workflow.getHandle(s.workflowId).terminate('no agent in this test');

  // A device retired (or deleted) between the request and its batch is skipped, not scanned for ever;
  // a long scope continues as new (here every 2 devices, 1 start at a time) and keeps its tally.
  await h.api('DELETE', `/api/v1/devices/${b.deviceId}`);
  const run = await h.client.workflow.start(SCOPE_SCAN_WORKFLOW_TYPE, {
    workflowId: `scope-scan/test/${randomUUID()}`, taskQueue: h.taskQueue,
    args: [{ scope: { scopeType: 'client', scopeId: a.clientId }, key: `t-${randomUUID().slice(0, 8)}`, requestedBy: 'test', deviceIds: [b.deviceId, a.deviceId, randomUUID()], startsAtOnce: 1, devicesPerRun: 2 } satisfies ScopeScanInput],
  });
  expect(await run.result()).toEqual({ started: 1, skipped: 2 });
  const scanned = await h.client.workflow.list({ query: `WorkflowType = 'patchScanWorkflow' AND DeviceId = '${a.deviceId}' AND ExecutionStatus = 'Running'` });
  for await (const w of scanned) await h.client.workflow.getHandle(w.workflowId).terminate('no agent in this test');
  await maybeRecordHistory(h.client, run.workflowId, 'scopeScanWorkflow-retired-skipped-continue-as-new.first-run', run.firstExecutionRunId);
  await maybeRecordHistory(h.client, run.workflowId, 'scopeScanWorkflow-retired-skipped-continue-as-new.last-run');
});

/** A hand-driven agent: answers the next scan command with the given updates. */
const answerScan = (credential: string, updates: ScannedUpdate[]) => answerNextScan(h, credential, updates);

// Before the catalog feed, a device reporting a new revision revised the catalog for everyone and sent
// the patch back to Pending Approval. Now only a catalog feed revises (catalog-feed.test.ts: "a revision
// returns the patch to Pending Approval in every policy"); the device's report is unverified for it alone.
test('a device reporting a new revision revises nothing: the patch keeps its approval and is unverified on that device', async () => {
  const { deviceId, enrollmentToken } = await h.createDevice('SRV-REV');
  const policy = await h.api('POST', '/api/v1/policies', { name: `Revision test ${deviceId.slice(0, 8)}` });
  await h.api('POST', `/api/v1/policies/${policy.body.id}/members`, { scopeType: 'device', scopeId: deviceId });
  const enroll = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ enrollmentToken, bootId: 'boot-1' }),
  });
  const { credential } = (await enroll.json()) as any;
  // First an update whose default is Pending Approval (classification 'Updates'), then two others.
  const all = catalogFor('server2022');
  const first = all.find((u) => u.classification === 'Updates')!;
  const base = [first, ...all.filter((u) => u !== first).slice(0, 2)].map(({ appliesTo: _a, ...u }) => ({ ...u, installed: false }));

  const firstScan = h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
  await answerScan(credential, base);
  await h.client.workflow.getHandle((await firstScan).body.workflowId).result();

  // An approver approves it explicitly in this policy...
  const approved = await h.api('PUT', `/api/v1/policies/${policy.body.id}/approvals`, { updateIds: [base[0].updateId], status: 'approved' });
  expect(approved.status).toBeLessThan(300);
  const statusIn = async () => {
    const list = await h.api('GET', `/api/v1/patches?kb=${base[0].kb}`);
    const patch = (list.body.patches as any[]).find((p) => p.updateId === base[0].updateId);
    return patch.policies.find((p: any) => p.policyId === policy.body.id);
  };
  expect((await statusIn()).status).toBe('approved');

  // ...then the device claims a new revision: the catalog is not the device's to revise.
  const revised = base.map((u, i) => (i === 0 ? { ...u, revision: u.revision + 1 } : u));
  const second = h.api('POST', `/api/v1/devices/${deviceId}/scans`, {});
  await answerScan(credential, revised);
  const result = (await h.client.workflow.getHandle((await second).body.workflowId).result()) as PatchScanResult;
  expect(result.changed).toBe(true);
  expect(result.revisedKbs).toEqual([]);
  expect(result.newKbs).toEqual([]);
  expect(result).toMatchObject({ unverified: 1, unverifiedKbs: [base[0].kb] });
  const row = await h.db.query('SELECT revision FROM patches WHERE update_id = $1', [base[0].updateId]);
  expect(row.rows[0].revision).toBe(base[0].revision);
  expect((await statusIn()).status).toBe('approved');
  const mine = (await h.api('GET', `/api/v1/devices/${deviceId}/patches`)).body.patches as any[];
  expect(mine.find((p) => p.updateId === base[0].updateId)).toMatchObject({
    verified: false, unverifiedReason: `unverified: at revision ${base[0].revision + 1}, the catalog has ${base[0].revision}`,
  });
  await h.api('DELETE', `/api/v1/policies/${policy.body.id}/members`, { scopeType: 'device', scopeId: deviceId });
});
