/**
 * What-if (issue 14.5) on real Temporal and PostgreSQL: the answer for a proposed change is what the
 * next Automatic Update run then really installs, device by device, once the change is made; and
 * asking changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import type { WhatIfSchedule } from '../../api/what-if-service';
import { temporalScheduleId, type RolloutResult } from '../../workflows/automatic-update.contract';
import { eventually, startHarness, type Harness } from './harness';

jest.setTimeout(180_000);

const SECURITY = 'KB5034439'; // Security Updates: approved by a new policy's defaults
const SSU = 'KB5031988'; // Updates: Pending Approval by default
const MSRT = 'KB890830'; // Update Rollups: Pending Approval by default

let h: Harness;
beforeAll(async () => { h = await startHarness(); });
afterAll(async () => { await h.stop(); });

async function post(url: string, body: unknown, status = 201) {
  const r = await h.api('POST', url, body);
  expect([r.status, r.body]).toEqual([status, expect.anything()]);
  return r.body;
}

const kbsByDevice = (s: WhatIfSchedule) => Object.fromEntries((s.predicted ?? []).map((d) => [d.deviceName, d.installs.map((p) => p.kb).sort()]));

test('the answer for a proposal is what the next run installs once the proposal is made, and asking writes nothing', async () => {
  const suffix = randomUUID().slice(0, 6);
  const client = await post('/api/v1/clients', { name: `WhatIf ${suffix}` });
  const hq = await post(`/api/v1/clients/${client.id}/sites`, { name: 'HQ' });
  const branch = await post(`/api/v1/clients/${client.id}/sites`, { name: 'Branch' });
  const members: { deviceId: string; name: string; device: SimulatedWindowsDevice; enrollmentToken: string }[] = [];
  for (const [name, site] of [[`HQ-1-${suffix}`, hq], [`HQ-2-${suffix}`, hq], [`BR-1-${suffix}`, branch]] as const) {
    const d = await post('/api/v1/devices', { siteId: site.id, name, deviceType: 'server' });
    const device = new SimulatedWindowsDevice({
      id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), os: 'server2022', seed: 11,
      missingKbs: [SECURITY, SSU, MSRT],
    });
    members.push({ deviceId: d.device.id as string, name, device, enrollmentToken: d.enrollmentToken as string });
  }
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: members.map(({ device, enrollmentToken }) => ({ device, enrollmentToken })), pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  // What the server knows of each device comes from its last scan.
  for (const m of members) {
    const scan = await post(`/api/v1/devices/${m.deviceId}/scans`, {}, 202);
    await h.client.workflow.getHandle(scan.workflowId).result();
  }
  const policy = await post('/api/v1/policies', { name: `WhatIf policy ${suffix}` });
  await post(`/api/v1/policies/${policy.id}/members`, { scopeType: 'client', scopeId: client.id });
  const schedule = await post('/api/v1/schedules', {
    name: `WhatIf AU ${suffix}`, kind: 'automatic_update', scope: { scopeType: 'client', scopeId: client.id },
    timing: { kind: 'monthly_weekday', week: 2, weekday: 'wed', time: '02:00', timezone: 'UTC' }, rebootAction: { action: 'reboot_immediately' },
  });

  // Today: the security update everywhere; the rest waits for approval.
  const auditBefore = (await h.db.query('SELECT max(id)::bigint AS n FROM audit_log')).rows[0].n;
  const today = await h.api('POST', '/api/v1/what-if', { scheduleId: schedule.id });
  expect(today.status).toBe(200);
  const [now] = today.body.schedules as WhatIfSchedule[];
  expect(now).toMatchObject({ scheduleId: schedule.id, devices: { before: 3, after: 3 }, installs: { before: 3, after: 3 }, changed: [] });
  expect(new Date(now!.nextRunAt!).getUTCDay()).toBe(3);

  // The proposal: approve the MSRT at site HQ, and the servicing stack update by KB override for everyone.
  const proposal = {
    patchActions: [{ scopeType: 'site', scopeId: hq.id, kbs: [MSRT], action: 'approve' }],
    kbOverrides: [{ kb: SSU, status: 'approved' }],
  };
  const answer = await h.api('POST', '/api/v1/what-if', { scheduleId: schedule.id, ...proposal });
  expect(answer.status).toBe(200);
  const [next] = answer.body.schedules as WhatIfSchedule[];
  expect(next!.installs).toEqual({ before: 3, after: 3 + 3 + 2 });
  expect(kbsByDevice(next!)).toEqual({
    [members[0]!.name]: [MSRT, SSU, SECURITY].sort(), [members[1]!.name]: [MSRT, SSU, SECURITY].sort(), [members[2]!.name]: [SSU, SECURITY].sort(),
  });
  const hq1 = next!.changed.find((c) => c.deviceName === members[0]!.name)!;
  expect(hq1.added.map((p) => [p.kb, p.reason])).toEqual([
    [SSU, expect.stringMatching(/KB override/i)],
    [MSRT, "Approved at site 'HQ'"],
  ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))));
  // Asking wrote nothing: no audit row, no approval, no action, no override.
  expect((await h.db.query('SELECT max(id)::bigint AS n FROM audit_log')).rows[0].n).toBe(auditBefore);
  expect((await h.api('GET', `/api/v1/patch-actions?scopeType=site&scopeId=${hq.id}`)).body.actions ?? []).toEqual([]);

  // Make the change for real, then run the schedule.
  expect((await h.api('PUT', '/api/v1/patch-actions', proposal.patchActions[0])).status).toBe(200);
  expect((await h.api('PUT', `/api/v1/kb-overrides/${SSU}`, { status: 'approved' })).status).toBe(200);
  try {
    expect((await h.api('POST', `/api/v1/schedules/${schedule.id}/trigger`)).status).toBe(202);
    const workflowId = await eventually(async () => {
      const d = await h.client.schedule.getHandle(temporalScheduleId(schedule.id)).describe();
      return d.info.recentActions[0]?.action.workflow.workflowId;
    }, 20_000, 'the rollout to start');
    const result = (await h.client.workflow.getHandle(workflowId).result()) as RolloutResult;
    expect(result.counts).toMatchObject({ devices: 3, done: 3, failed: 0 });
    // Device by device, what ran is what what-if said.
    const ran = Object.fromEntries(members.map((m) => [m.name, [SECURITY, SSU, MSRT].filter((kb) => m.device.executionCount(kb) === 1).sort()]));
    expect(ran).toEqual(kbsByDevice(next!));
  } finally {
    await h.api('DELETE', `/api/v1/kb-overrides/${SSU}`);
    await h.api('DELETE', `/api/v1/schedules/${schedule.id}`);
  }
});

test('bad proposals are 400 or 404 naming what is wrong', async () => {
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ approvals: [{ policyId: 'all', status: 'approved' }] }, 400, /updateIds/],
    [{ approvals: [{ policyId: randomUUID(), kbs: [SECURITY], status: 'approved' }] }, 404, /policy/],
    [{ kbOverrides: [{ kb: 'KB9999999', status: 'denied' }] }, 404, /KB9999999/],
    [{ patchActions: [{ scopeType: 'site', scopeId: randomUUID(), kbs: [SECURITY], action: 'ignore' }] }, 404, /site/],
    [{ patchActions: [{ scopeType: 'device_type', scopeId: 'laptop', kbs: [SECURITY], action: 'ignore' }] }, 422, /server or workstation/],
    [{ scheduleId: randomUUID() }, 404, /schedule/],
    [{ surprise: true }, 400, /surprise/],
  ];
  for (const [body, status, message] of cases) {
    const r = await h.api('POST', '/api/v1/what-if', body);
    expect([r.status, JSON.stringify(r.body)]).toEqual([status, expect.stringMatching(message)]);
  }
});
