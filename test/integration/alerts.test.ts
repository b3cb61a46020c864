/**
 * Alerts (issue 17.3), end to end on real Temporal and PostgreSQL: a failed install raises a signed
 * webhook alert that closes itself when the patch installs; a receiver that is down loses nothing; one
 * that keeps refusing ends in the dead-letter list, from which a retry delivers it. Evaluation is the
 * alerts workflow (a Temporal Schedule runs it; the tests start it on demand, as `POST /alerts/evaluate`).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { startSimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { reconcileAlertsSchedule } from '../../api/alert-service';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, verifyWebhook } from '../../domain/alert-rules';
import { ALERTS_SCHEDULE_ID, type AlertsResult } from '../../workflows/alerts.contract';
import type { InstallResult } from '../../workflows/install.contract';
import { maybeRecordHistory, startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

const SECURITY = 'KB5034439';
const MSRT = 'KB890830';

let h: Harness;
const receivers: Receiver[] = [];

// Retries in seconds (1 s, then 2 s), and the dead-letter list after the 3rd failed try.
beforeAll(async () => { h = await startHarness({ app: { alerts: { intervalMinutes: 5, delivery: { retryBaseSeconds: 1, maxAttempts: 3, timeoutSeconds: 5 } } } }); });
afterAll(async () => {
  for (const r of receivers) await r.close();
  await h.client.schedule.getHandle(ALERTS_SCHEDULE_ID).delete().catch(() => undefined);
  await h.stop();
});

interface Delivery { event: string; deliveryId: string; signature: string; raw: string; body: any }

/** A webhook receiver on 127.0.0.1 that can answer 200, answer 500, or be down (closed) for a while. */
class Receiver {
  readonly received: Delivery[] = [];
  mode: 'ok' | 'error' = 'ok';
  private server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      if (this.mode === 'error') { res.writeHead(500).end('receiver broken'); return; }
      this.received.push({
        event: String(req.headers[EVENT_HEADER]), deliveryId: String(req.headers[DELIVERY_HEADER]),
        signature: String(req.headers[SIGNATURE_HEADER]), raw, body: JSON.parse(raw),
      });
      res.writeHead(200).end('ok');
    });
  });
  port = 0;
  get url() { return `http://127.0.0.1:${this.port}/hooks/patchflow`; }
  async listen() {
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }
  /** Down: nothing listens on the port (connection refused), until `listen()` again. */
  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function receiver(): Promise<Receiver> {
  const r = new Receiver();
  await r.listen();
  receivers.push(r);
  return r;
}

async function rule(body: Record<string, unknown>) {
  const r = await h.api('POST', '/api/v1/alert-rules', { name: `Rule ${randomUUID().slice(0, 8)}`, ...body });
  expect(r.status).toBe(201);
  return r.body as { id: string; webhookSecret: string; description: string; threshold: number | null };
}

/** One evaluation, as the Schedule runs it, through the API. */
async function evaluate(): Promise<AlertsResult & { workflowId: string; runId: string }> {
  const r = await h.api('POST', '/api/v1/alerts/evaluate', {});
  expect(r.status).toBe(202);
  const result = (await h.client.workflow.getHandle(r.body.workflowId, r.body.runId).result()) as AlertsResult;
  return { ...result, workflowId: r.body.workflowId, runId: r.body.runId };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const now = () => Math.floor(Date.now() / 1000);

test('a failed patch raises a signed webhook alert, once, that closes itself when the patch installs', async () => {
  const hook = await receiver();
  const { deviceId, enrollmentToken, clientId } = await h.createDevice('SRV-ALERT');
  const device = new SimulatedWindowsDevice({
    id: `srv-alert-${randomUUID().slice(0, 6)}`, name: 'SRV-ALERT', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'alert-')),
    os: 'server2022', seed: 7, missingKbs: [SECURITY, MSRT], exitCodes: { [SECURITY]: [0x80070643] },
  });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  h.fleets.push(fleet);
  await fleet.ready;
  const r = await rule({ clientId, condition: 'patch_failed', webhookUrl: hook.url });
  expect(r).toMatchObject({ description: 'a patch failed', threshold: null });
  expect(r.webhookSecret.length).toBeGreaterThanOrEqual(32);
  // The secret is shown once: never in a listing.
  expect(JSON.stringify((await h.api('GET', '/api/v1/alert-rules')).body)).not.toContain(r.webhookSecret);

  const first = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, {});
  expect(((await h.client.workflow.getHandle(first.body.workflowId).result()) as InstallResult).outcome).toBe('partially_failed');

  const opened = await evaluate();
  expect(opened).toMatchObject({ opened: 1, closed: 0, delivered: 1, pending: 0 });
  expect(hook.received).toHaveLength(1);
  const open = hook.received[0]!;
  expect(open.event).toBe('alert.opened');
  expect(verifyWebhook(r.webhookSecret, open.raw, open.signature, now())).toBe(true);
  expect(verifyWebhook('another secret of the same length!', open.raw, open.signature, now())).toBe(false);
  expect(open.body).toMatchObject({
    deliveryId: Number(open.deliveryId), event: 'alert.opened',
    alert: { state: 'open', deviceId, clientId, rule: { id: r.id, condition: 'patch_failed' }, details: { deviceName: 'SRV-ALERT', kb: SECURITY, exitCode: 0x80070643 } },
  });
  const listed = await h.api('GET', `/api/v1/alerts?clientId=${clientId}`);
  expect(listed.body.alerts).toEqual([expect.objectContaining({ id: open.body.alert.id, ruleId: r.id, closedAt: null })]);
  await maybeRecordHistory(h.client, opened.workflowId, 'alertsWorkflow-open-and-deliver', opened.runId);

  // Nothing changed: nothing opens again, nothing is sent again.
  expect(await evaluate()).toMatchObject({ opened: 0, closed: 0, delivered: 0 });
  expect(hook.received).toHaveLength(1);

  // The operator installs it again; this time it installs, and the alert closes itself.
  const second = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, { kbs: [SECURITY] });
  expect(second.status).toBe(202);
  expect(((await h.client.workflow.getHandle(second.body.workflowId).result()) as InstallResult).outcome).toBe('succeeded');
  expect(await evaluate()).toMatchObject({ opened: 0, closed: 1, delivered: 1 });
  expect(hook.received.map((d) => d.event)).toEqual(['alert.opened', 'alert.closed']);
  const close = hook.received[1]!;
  expect(verifyWebhook(r.webhookSecret, close.raw, close.signature, now())).toBe(true);
  expect(close.body.alert).toMatchObject({ id: open.body.alert.id, state: 'closed' });
  expect(close.body.alert.closedAt).not.toBeNull();
  expect((await h.api('GET', `/api/v1/alerts?clientId=${clientId}`)).body.alerts).toEqual([]);
});

test('a receiver that is down loses nothing; one that keeps refusing ends in the dead-letter list, and a retry delivers it', async () => {
  const flaky = await receiver();
  const broken = await receiver();
  broken.mode = 'error';
  // A device enrolled three days ago that never sent a scan: "no scan for 1 day".
  const { deviceId, enrollmentToken, clientId } = await h.createDevice();
  const enrolled = await fetch(`${h.server.url}/agent/v1/enroll`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ enrollmentToken, hostname: 'WS-QUIET', bootId: randomUUID(), enrollmentNonce: randomUUID() }),
  });
  expect(enrolled.status).toBe(201);
  await h.db.query(`UPDATE devices SET enrolled_at = now() - interval '3 days' WHERE id = $1`, [deviceId]);
  const toFlaky = await rule({ clientId, condition: 'no_scan', threshold: 1, webhookUrl: flaky.url });
  expect(toFlaky.description).toBe('no scan for 1 day');
  const toBroken = await rule({ clientId, condition: 'no_scan', threshold: 1, webhookUrl: broken.url });

  await flaky.close(); // the receiver goes down
  const down = await evaluate();
  expect(down).toMatchObject({ opened: 2, delivered: 0, retrying: 2 });
  await sleep(1_200);
  expect(await evaluate()).toMatchObject({ opened: 0, delivered: 0, retrying: 2 }); // both tried a 2nd time
  await flaky.listen(); // back, on the same address
  await sleep(2_200);
  const back = await evaluate();
  expect(back).toMatchObject({ delivered: 1, deadLettered: 1, pending: 0 });
  expect(flaky.received.map((d) => [d.event, d.body.alert.rule.id, d.body.alert.deviceId])).toEqual([['alert.opened', toFlaky.id, deviceId]]);
  expect(verifyWebhook(toFlaky.webhookSecret, flaky.received[0]!.raw, flaky.received[0]!.signature, now())).toBe(true);

  const dead = (await h.api('GET', '/api/v1/alerts/dead-letters')).body.deliveries as any[];
  const ours = dead.find((d) => d.ruleId === toBroken.id);
  expect(ours).toMatchObject({ event: 'alert.opened', attempts: 3, lastError: 'the receiver answered 500', deliveredAt: null });
  broken.mode = 'ok';
  const retry = await h.api('POST', `/api/v1/alerts/dead-letters/${ours.id}/retry`, {});
  expect(retry.status).toBe(202);
  expect(await evaluate()).toMatchObject({ delivered: 1, pending: 0 });
  expect(broken.received.map((d) => d.body.alert.rule.id)).toEqual([toBroken.id]);
  expect((await h.api('POST', `/api/v1/alerts/dead-letters/${ours.id}/retry`, {})).status).toBe(404);

  // The device scans at last: both alerts close, and both receivers hear it.
  await h.db.query(
    `INSERT INTO device_scans (device_id, digest, last_scanned_at, last_changed_at) VALUES ($1, 'test', now(), now())
     ON CONFLICT (device_id) DO UPDATE SET last_scanned_at = now()`, [deviceId]);
  expect(await evaluate()).toMatchObject({ closed: 2, delivered: 2 });
  expect(flaky.received.map((d) => d.event)).toEqual(['alert.opened', 'alert.closed']);
  expect(broken.received.map((d) => d.event)).toEqual(['alert.opened', 'alert.closed']);
});

test('rules: bad input is a 400 naming the field, an unknown client a 404, and nothing is written', async () => {
  const before = (await h.db.query('SELECT count(*)::int AS n FROM alert_rules')).rows[0].n;
  const cases: [Record<string, unknown>, number, RegExp][] = [
    [{ condition: 'patch_failed', threshold: 3, webhookUrl: 'https://psa.example/hook' }, 400, /threshold: patch_failed takes no threshold/],
    [{ condition: 'rollout_on_fire', webhookUrl: 'https://psa.example/hook' }, 400, /condition/],
    [{ condition: 'no_scan', webhookUrl: 'ftp://psa.example/hook' }, 400, /webhookUrl/],
    [{ condition: 'no_scan', webhookUrl: 'https://user:pw@psa.example/hook' }, 400, /without a user or password/],
    [{ condition: 'no_scan', threshold: 0, webhookUrl: 'https://psa.example/hook' }, 400, /threshold/],
    [{ condition: 'no_scan', webhookUrl: 'https://psa.example/hook', webhookSecret: 'short' }, 400, /webhookSecret/],
    [{ condition: 'no_scan', webhookUrl: 'https://psa.example/hook', clientId: randomUUID() }, 404, /client/],
  ];
  for (const [body, status, message] of cases) {
    const r = await h.api('POST', '/api/v1/alert-rules', { name: `Bad ${randomUUID().slice(0, 8)}`, ...body });
    expect([r.status, JSON.stringify(r.body)]).toEqual([status, expect.stringMatching(message)]);
  }
  expect((await h.db.query('SELECT count(*)::int AS n FROM alert_rules')).rows[0].n).toBe(before);
  expect((await h.api('GET', `/api/v1/alert-rules/${randomUUID()}`)).status).toBe(404);
  expect((await h.api('GET', '/api/v1/alert-rules/not-a-uuid')).status).toBe(400);
  // Defaults: 24 h for Reboot Required, 14 days for non-compliance, 7 days without a scan.
  const defaulted = await rule({ condition: 'reboot_required', webhookUrl: 'https://psa.example/hook' });
  expect(defaulted).toMatchObject({ threshold: 24, description: 'Reboot Required for more than 24 hours' });
  const off = await h.api('PATCH', `/api/v1/alert-rules/${defaulted.id}`, { enabled: false });
  expect(off.body.enabled).toBe(false);
  expect((await h.api('DELETE', `/api/v1/alert-rules/${defaulted.id}`)).status).toBe(204);
});

test('the alerts Schedule evaluates on an interval (a durable workflow, never a timer in an API process)', async () => {
  await reconcileAlertsSchedule({ db: h.db, client: h.client, log: pino({ level: 'silent' }), taskQueue: h.taskQueue, alerts: { intervalMinutes: 5 } });
  const d = await h.client.schedule.getHandle(ALERTS_SCHEDULE_ID).describe();
  expect(d.spec.intervals).toEqual([expect.objectContaining({ every: 5 * 60_000 })]);
  expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'alertsWorkflow', workflowId: 'alerts/evaluate' });
  expect(d.policies.overlap).toBe('SKIP');
});
