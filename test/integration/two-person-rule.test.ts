import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { approvalRequestWorkflowId, decideUpdate, SELF_APPROVAL_FAILURE_TYPE } from '../../workflows/approval-request.contract';
import { eventually, maybeRecordHistory, startHarness, type Harness, type MintedKey } from './harness';

jest.setTimeout(90_000);

/**
 * The two-person rule end to end: an action past the device threshold (2 here) waits as a request;
 * the requester cannot approve it, a second person can, and then it runs (the scans start). A refused
 * request and an expired one (a second API with a 2 s lifetime, on the same worker) run nothing.
 */
let h: Harness;
let shortLived: Harness;
let clientId: string;
let siteId: string;
let requester: MintedKey;
let second: MintedKey;
let viewer: MintedKey;

beforeAll(async () => {
  h = await startHarness({ app: { twoPersonRule: { deviceThreshold: 2, requestTtlSeconds: 600 } } });
  shortLived = await startHarness({ startWorker: false, app: { taskQueue: h.taskQueue, twoPersonRule: { deviceThreshold: 2, requestTtlSeconds: 2 } } });
  clientId = (await h.api('POST', '/api/v1/clients', { name: `Fleet ${randomUUID().slice(0, 8)}` })).body.id;
  siteId = (await h.api('POST', `/api/v1/clients/${clientId}/sites`, { name: 'HQ' })).body.id;
  for (let i = 0; i < 3; i++) {
    expect((await h.api('POST', '/api/v1/devices', { siteId, name: `WS-${i}-${randomUUID().slice(0, 4)}`, deviceType: 'workstation' })).status).toBe(201);
  }
  requester = await h.mintKey({ role: 'operator', clients: [clientId] });
  second = await h.mintKey({ role: 'operator' });
  viewer = await h.mintKey({ role: 'viewer' });
});
afterAll(async () => {
  await shortLived?.stop();
  await h?.stop();
});

const requestState = (id: string, state: string) => eventually(async () => {
  const r = await h.api('GET', `/api/v1/approval-requests/${id}`);
  return r.body.state === state ? r.body : undefined;
}, 30_000, `request ${id} ${state}`);

const audits = async (subject: string) =>
  (await h.db.query('SELECT action, actor, user_name, key_name, source_ip, outcome, details FROM audit_log WHERE subject = $1 ORDER BY id', [subject])).rows;

test('a scope scan of 3 devices waits for a second person, refuses self-approval, and runs once approved', async () => {
  const asked = await h.apiAs(requester.key, 'POST', '/api/v1/scans', { scopeType: 'client', scopeId: clientId });
  expect(asked.status).toBe(202);
  expect(asked.body).toMatchObject({ pending: true, kind: 'scope_scan', devices: 3, threshold: 2, neededRole: 'operator' });
  const id: string = asked.body.requestId;
  expect(asked.headers.get('location')).toBe(`/api/v1/approval-requests/${id}`);
  // Nothing ran: no scope scan is audited for this client.
  const scans = await h.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'scan.started_for_scope' AND subject = $1`, [`client:${clientId}`]);
  expect(scans.rows[0].n).toBe(0);

  const self = await h.apiAs(requester.key, 'POST', `/api/v1/approval-requests/${id}/approve`, {});
  expect(self.status).toBe(403);
  expect(self.body.error).toMatch(/cannot approve their own request/);
  const weak = await h.apiAs(viewer.key, 'POST', `/api/v1/approval-requests/${id}/approve`, {});
  expect(weak.status).toBe(403);
  expect(weak.body.error).toMatch(/needs operator/);
  expect((await h.api('GET', `/api/v1/approval-requests/${id}`)).body.state).toBe('pending');
  // The workflow refuses it too (the API's check aside), with a failure type the API matches, never its text.
  const direct = await h.client.workflow.getHandle(approvalRequestWorkflowId(id))
    .executeUpdate(decideUpdate, { args: [{ approve: true, userId: requester.userId, actor: 'test' }] })
    .then(() => undefined, (err: unknown) => err);
  expect(direct).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((direct as WorkflowUpdateFailedError).cause).toMatchObject({ type: SELF_APPROVAL_FAILURE_TYPE });
  expect((await h.api('GET', `/api/v1/approval-requests/${id}`)).body.state).toBe('pending');

  const approved = await h.apiAs(second.key, 'POST', `/api/v1/approval-requests/${id}/approve`, { reason: 'monthly scan' });
  expect(approved.status).toBe(202);
  const done = await requestState(id, 'executed');
  expect(done).toMatchObject({ requestedBy: `user:${requester.userName}/key:${done.requestedBy.split('/key:')[1]}`, decidedBy: expect.stringContaining(`user:${second.userName}/`) });
  expect(done.result.devices).toBe(3);
  // The action ran: a scan workflow per device of the client.
  for (const workflowId of done.result.workflowIds as string[]) {
    const d = await h.client.workflow.getHandle(workflowId).describe();
    expect(d.type).toBe('patchScanWorkflow');
  }
  // Both people are audited, each with their key and address; the self-approval as a refusal.
  const rows = await audits(id);
  expect(rows.map((r) => r.action)).toEqual(['approval_request.created', 'approval_request.approved', 'approval_request.executed']);
  expect(rows[0]).toMatchObject({ user_name: requester.userName, source_ip: expect.stringMatching(/127\.0\.0\.1/) });
  expect(rows[1]).toMatchObject({ user_name: second.userName, outcome: 'succeeded' });
  expect(rows[2].details).toMatchObject({ requestedBy: rows[0].actor, approvedBy: rows[1].actor });
  const refusals = await h.db.query(
    `SELECT user_name, details FROM audit_log WHERE action = 'auth.refused' AND details->>'path' = $1 ORDER BY id`, [`/api/v1/approval-requests/${id}/approve`]);
  expect(refusals.rows.map((r) => [r.user_name, r.details.reason])).toEqual([[requester.userName, 'self-approval'], [viewer.userName, 'role']]);
  // Decided is decided.
  expect((await h.apiAs(viewer.key, 'GET', '/api/v1/approval-requests?state=executed')).body.requests.map((r: { id: string }) => r.id)).toContain(id);
  expect((await h.apiAs(second.key, 'POST', `/api/v1/approval-requests/${id}/refuse`, {})).status).toBe(409);
  await h.client.workflow.getHandle(approvalRequestWorkflowId(id)).result();
  await maybeRecordHistory(h.client, approvalRequestWorkflowId(id), 'approvalRequestWorkflow-approved');
});

test('a refused request runs nothing; at or under the threshold the action runs at once', async () => {
  const asked = await h.apiAs(requester.key, 'POST', '/api/v1/scans', { scopeType: 'site', scopeId: siteId });
  expect(asked.status).toBe(202);
  const id: string = asked.body.requestId;
  const refused = await h.apiAs(second.key, 'POST', `/api/v1/approval-requests/${id}/refuse`, { reason: 'not now' });
  expect(refused.status).toBe(200);
  const row = await requestState(id, 'refused');
  expect(row).toMatchObject({ decisionReason: 'not now', result: null });
  await h.client.workflow.getHandle(approvalRequestWorkflowId(id)).result();
  expect((await audits(id)).map((r) => r.action)).toEqual(['approval_request.created', 'approval_request.refused']);
  await maybeRecordHistory(h.client, approvalRequestWorkflowId(id), 'approvalRequestWorkflow-refused');

  // Two devices: not more than the threshold, so no second person is needed.
  const small = (await h.api('POST', '/api/v1/clients', { name: `Small ${randomUUID().slice(0, 8)}` })).body.id;
  const smallSite = (await h.api('POST', `/api/v1/clients/${small}/sites`, { name: 'HQ' })).body.id;
  for (let i = 0; i < 2; i++) await h.api('POST', '/api/v1/devices', { siteId: smallSite, name: `S-${i}-${randomUUID().slice(0, 4)}`, deviceType: 'server' });
  const direct = await h.api('POST', '/api/v1/scans', { scopeType: 'client', scopeId: small });
  expect(direct.status).toBe(202);
  expect(direct.body.scans).toHaveLength(2);
});

test('approval across all policies and a KB override wait too when the fleet is past the threshold', async () => {
  const approver = await h.mintKey({ role: 'approver' });
  const all = await h.apiAs(approver.key, 'PUT', '/api/v1/patches/approval', { kbs: ['KB5034439'], status: 'approved' });
  expect(all.status).toBe(202);
  expect(all.body).toMatchObject({ kind: 'approval_all_policies', neededRole: 'approver' });
  const kb = await h.apiAs(approver.key, 'PUT', '/api/v1/kb-overrides/KB5034439', { status: 'denied' });
  expect(kb.status).toBe(202);
  expect(kb.body.kind).toBe('kb_override');
  // An operator may not decide what needs an approver.
  expect((await h.apiAs(second.key, 'POST', `/api/v1/approval-requests/${kb.body.requestId}/approve`, {})).status).toBe(403);
  for (const id of [all.body.requestId, kb.body.requestId]) {
    expect((await h.api('POST', `/api/v1/approval-requests/${id}/refuse`, {})).status).toBe(200);
  }
});

test('a request nobody decides expires, and cannot be approved afterwards', async () => {
  const asked = await shortLived.apiAs(requester.key, 'POST', '/api/v1/scans', { scopeType: 'client', scopeId: clientId });
  expect(asked.status).toBe(202);
  const id: string = asked.body.requestId;
  const row = await requestState(id, 'expired');
  expect(row.decidedBy).toBeNull();
  await h.client.workflow.getHandle(approvalRequestWorkflowId(id)).result();
  const late = await h.apiAs(second.key, 'POST', `/api/v1/approval-requests/${id}/approve`, {});
  expect(late.status).toBe(409);
  expect((await audits(id)).map((r) => r.action)).toEqual(['approval_request.created', 'approval_request.expired']);
  await maybeRecordHistory(h.client, approvalRequestWorkflowId(id), 'approvalRequestWorkflow-expired');
});

test('an uninstall by scope and a schedule trigger past the threshold wait too; other actions by scope run at once', async () => {
  const approver = await h.mintKey({ role: 'approver', clients: [clientId] });
  const uninstallable = (await h.db.query(`SELECT kb FROM patches WHERE uninstallable ORDER BY kb LIMIT 1`)).rows[0].kb as string;
  const uninstall = await h.apiAs(approver.key, 'PUT', '/api/v1/patch-actions', { scopeType: 'client', scopeId: clientId, kbs: [uninstallable], action: 'uninstall' });
  expect(uninstall.status).toBe(202);
  expect(uninstall.body).toMatchObject({ kind: 'uninstall_by_scope', devices: 3, neededRole: 'approver' });
  // Nothing was set: the uninstall waits.
  expect((await h.api('GET', `/api/v1/patch-actions?scopeType=client&scopeId=${clientId}`)).body.actions).toEqual([]);
  // An Ignore is no fleet action that removes software: it runs at once.
  expect((await h.apiAs(approver.key, 'PUT', '/api/v1/patch-actions', { scopeType: 'client', scopeId: clientId, kbs: [uninstallable], action: 'ignore' })).status).toBe(200);

  const schedule = await h.api('POST', '/api/v1/schedules', {
    name: `Scan ${randomUUID().slice(0, 8)}`, kind: 'scan', scope: { scopeType: 'client', scopeId: clientId }, timing: { kind: 'daily', time: '03:00', timezone: 'UTC' },
  });
  expect(schedule.status).toBe(201);
  const trigger = await h.apiAs(requester.key, 'POST', `/api/v1/schedules/${schedule.body.id}/trigger`, {});
  expect(trigger.status).toBe(202);
  expect(trigger.body).toMatchObject({ pending: true, kind: 'schedule_trigger', devices: 3, neededRole: 'operator' });
  const approved = await h.apiAs(second.key, 'POST', `/api/v1/approval-requests/${trigger.body.requestId}/approve`, {});
  expect(approved.status).toBe(202);
  await requestState(trigger.body.requestId, 'executed');
  expect((await audits(schedule.body.id)).map((r) => r.action)).toContain('schedule.triggered');
  expect((await h.api('POST', `/api/v1/approval-requests/${uninstall.body.requestId}/refuse`, {})).status).toBe(200);
});
