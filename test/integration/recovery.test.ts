import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startSimulatedFleet, type SimulatedFleet } from '../../agent/fleet';
import { SimulatedWindowsDevice, type SimulatedDeviceOptions } from '../../agent/simulated-device';
import { findTemporalCli, startTemporalDevServer, type DevServerHandle } from '../../dev/temporal-server';
import type { InstallResult, InstallTimingInput } from '../../workflows/install.contract';
import { API_KEY, createMigratedDatabase, eventually, FAST_TIMING, startHarness, type Harness } from './harness';

jest.setTimeout(240_000);

const SSU = 'KB5031988'; // servicing stack: no restart

/**
 * Step timeouts of ten minutes: a step that recovers in seconds here recovered through a heartbeat or
 * a delivered result, never through its start-to-close timeout.
 */
const LONG_STEPS: InstallTimingInput = {
  ...FAST_TIMING,
  commandTimeoutSeconds: { scan: 600, download: 600, copy: 600, execute: 600, reboot: 600, cleanup: 600 },
};
const HEARTBEAT_TIMEOUT_SECONDS = 5;
const CLAIM_LEASE_SECONDS = 4;
const REBOOT_TIMEOUT_SECONDS = 3;
const CU = 'KB5035857'; // always asks for a restart (3010)

const fleets: SimulatedFleet[] = [];
afterAll(async () => { for (const f of fleets) await f.stop(); });

async function simulatedDevice(h: Harness, name: string, options: Partial<SimulatedDeviceOptions> = {}) {
  const { deviceId, enrollmentToken } = await h.createDevice(name);
  const device = new SimulatedWindowsDevice({
    id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)),
    os: 'server2022', seed: 7, rebootDurationMs: 1000, ...options,
  });
  const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2 });
  fleets.push(fleet);
  await fleet.ready;
  return { deviceId, device, fleet };
}

async function install(h: Harness, deviceId: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await h.api('POST', `/api/v1/devices/${deviceId}/installs`, body);
  expect(r.status).toBe(202);
  return r.body.workflowId as string;
}

/** The started event of the first `deviceCommand` of the given type: which attempt finished it, and why the one before it ended. */
async function firstStepStart(h: Harness, workflowId: string, type: string) {
  const events = (await h.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = events.find((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    return a?.activityType?.name === 'deviceCommand' && JSON.parse(Buffer.from(a.input!.payloads![1]!.data!).toString()) === type;
  })!;
  const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled.eventId))!;
  return {
    scheduledAt: Number(scheduled.eventTime!.seconds) * 1000,
    heartbeatTimeoutSeconds: Number(scheduled.activityTaskScheduledEventAttributes!.heartbeatTimeout?.seconds ?? 0),
    attempt: started.activityTaskStartedEventAttributes!.attempt,
    startedAt: Number(started.eventTime!.seconds) * 1000,
    lastFailure: started.activityTaskStartedEventAttributes!.lastFailure,
  };
}

describe('a lost activity is noticed within the heartbeat timeout (issue 16.2)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      installTiming: { ...LONG_STEPS, heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_SECONDS },
      app: {
        recovery: {
          keepAliveIntervalMs: 1_000, completerIntervalMs: 2_000, completerProbeIntervalMs: 250, claimLeaseSeconds: CLAIM_LEASE_SECONDS,
          stalledReboot: { rebootTimeoutSeconds: REBOOT_TIMEOUT_SECONDS, maxOffers: 1 },
        },
        enrollment: { tokenTtlSeconds: 3_600, retryWindowSeconds: 600 },
      },
    });
  });
  afterAll(async () => { await h.stop(); });

  test('a worker killed between taking a device step and recording its command: the step is retried and the install completes', async () => {
    const { deviceId, device } = await simulatedDevice(h, 'SRV-DIES', { missingKbs: [SSU] });
    await h.stopWorker();
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.resolve(__dirname, 'dying-worker.ts')], {
      cwd: path.resolve(__dirname, '../..'),
      env: {
        ...process.env,
        DATABASE_URL: process.env.PATCHFLOW_TEST_DATABASE_URL, TEMPORAL_ADDRESS: process.env.PATCHFLOW_TEST_TEMPORAL_ADDRESS,
        TEMPORAL_TASK_QUEUE: h.taskQueue, PATCHFLOW_WORKFLOW_BUNDLE: process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE,
        COMMAND_SIGNING_KEY_PATH: h.commandKeyPath,
      },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const workflowId = await install(h, deviceId);
      await exited;
      expect(child.signalCode).toBe('SIGKILL');
      const killedAt = Date.now();
      // It died holding the first device step, before the step reached PostgreSQL.
      expect((await h.db.query('SELECT count(*)::int AS n FROM agent_commands WHERE workflow_id = $1', [workflowId])).rows[0].n).toBe(0);
      await h.startWorker();
      const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;
      const took = (Date.now() - killedAt) / 1000;

      expect(result.outcome).toBe('succeeded');
      expect(device.executionCount(SSU)).toBe(1);
      const scan = await firstStepStart(h, workflowId, 'scan');
      expect(scan.heartbeatTimeoutSeconds).toBe(HEARTBEAT_TIMEOUT_SECONDS);
      // The dead worker's attempt ended by its heartbeat timeout, and the live worker's attempt finished it.
      expect(scan.attempt).toBe(2);
      expect(scan.lastFailure?.timeoutFailureInfo?.timeoutType).toBe(4); // TIMEOUT_TYPE_HEARTBEAT
      expect((scan.startedAt - scan.scheduledAt) / 1000).toBeLessThanOrEqual(HEARTBEAT_TIMEOUT_SECONDS + 10);
      // The whole install, not the scan's 600 s start-to-close timeout.
      expect(took).toBeLessThan(HEARTBEAT_TIMEOUT_SECONDS + 45);
      console.log(`[recovery] worker killed before recording its step: install done ${took.toFixed(1)} s after the kill (heartbeat timeout ${HEARTBEAT_TIMEOUT_SECONDS} s)`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (!h.worker) await h.startWorker();
    }
  });

  test('a device offline for longer than the heartbeat timeout keeps its step waiting (heartbeated), then finishes it', async () => {
    const { deviceId, device, fleet } = await simulatedDevice(h, 'SRV-AWAY', { missingKbs: [SSU] });
    const { credential, commandKeys } = fleet.agents[0]!;
    await fleet.stop();
    const workflowId = await install(h, deviceId);
    const row = await eventually(async () => {
      const r = await h.db.query(`SELECT id, attempt, status FROM agent_commands WHERE workflow_id = $1 AND type = 'scan'`, [workflowId]);
      return r.rows[0];
    }, 30_000, 'the scan to be recorded');
    // Three heartbeat timeouts away: the gateway keeps the attempt alive, so it is never retried.
    await new Promise((r) => setTimeout(r, 3 * HEARTBEAT_TIMEOUT_SECONDS * 1000));
    const waiting = (await h.db.query('SELECT attempt, status FROM agent_commands WHERE id = $1', [row.id])).rows[0];
    // Pending, or claimed by the poll the stopping agent abandoned (offered again once its lease runs out).
    expect(waiting.attempt).toBe(1);
    expect(['pending', 'claimed']).toContain(waiting.status);
    const back = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, credential, commandKeys }], pollWaitSeconds: 2 });
    fleets.push(back);
    const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;

    expect(result.outcome).toBe('succeeded');
    expect((await firstStepStart(h, workflowId, 'scan')).attempt).toBe(1);
  });

  /** A proxy's view: the gateway answered, the agent never got it. Only the first reply that carries commands. */
  async function installWithDroppedPollReply(name: string, options: { settleFirst: boolean }) {
    let dropped: string[] | undefined;
    let pollAfterDrop: string | undefined;
    const droppingFetch: typeof fetch = async (input, init) => {
      if (dropped && pollAfterDrop === undefined && String(input).includes('/agent/v1/commands?')) pollAfterDrop = String(input);
      const res = await fetch(input, init);
      if (dropped || !String(input).includes('/agent/v1/commands?')) return res;
      const body = (await res.clone().json().catch(() => undefined)) as { commands?: { id: string }[] } | undefined;
      if (!body?.commands?.length) return res;
      dropped = body.commands.map((c) => c.id);
      throw new TypeError('fetch failed (reply dropped by the test proxy)');
    };
    const { deviceId, enrollmentToken } = await h.createDevice(name);
    const device = new SimulatedWindowsDevice({ id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), os: 'server2022', seed: 7, rebootDurationMs: 1000, missingKbs: [SSU] });
    const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2, fetch: droppingFetch });
    fleets.push(fleet);
    await fleet.ready;
    // Past its first (empty) poll: "restarted" now comes from the failed poll, not from the start.
    if (options.settleFirst) await new Promise((r) => setTimeout(r, 3_000));
    const started = Date.now();
    const workflowId = await install(h, deviceId);
    const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;
    const took = (Date.now() - started) / 1000;

    expect(result.outcome).toBe('succeeded');
    expect(dropped?.length).toBeGreaterThan(0);
    // Offered again, not retried: the same attempt (the same signed envelope) finished the step.
    const rows = (await h.db.query('SELECT attempt, status FROM agent_commands WHERE id = ANY($1::text[])', [dropped])).rows;
    expect(rows.map((r) => [r.attempt, r.status])).toEqual(dropped!.map(() => [1, 'succeeded']));
    expect(device.executionCount(SSU)).toBe(1);
    expect(took).toBeLessThan(CLAIM_LEASE_SECONDS + 45);
    // The poll after the failed one says the agent holds nothing claimed for it: offered again at once.
    expect(pollAfterDrop).toContain('restarted=true');
    return took;
  }

  test('a poll reply carrying a command is dropped: the agent\'s next poll says so and gets the command again, and the install completes', async () => {
    const took = await installWithDroppedPollReply('SRV-DROP', { settleFirst: true });
    console.log(`[recovery] poll reply dropped: install done in ${took.toFixed(1)} s (offered again at the next poll; claim lease ${CLAIM_LEASE_SECONDS} s for agents that do not say)`);
  });

  test('the first poll reply after the agent started is dropped: its next poll says "restarted" and gets the command at once', async () => {
    const took = await installWithDroppedPollReply('SRV-FRESH', { settleFirst: false });
    console.log(`[recovery] first poll reply dropped: install done in ${took.toFixed(1)} s (restarted poll)`);
  });

  test('an enrollment whose answer is dropped, then retried: one device, one working credential; another nonce or an expired token gets 401', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice('SRV-ENROLL');
    let droppedAnswers = 0;
    const tries: unknown[] = [];
    const droppingFetch: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/agent/v1/enroll')) tries.push(JSON.parse(String(init?.body)).enrollmentAttempt);
      const res = await fetch(input, init);
      if (String(input).endsWith('/agent/v1/enroll') && res.status === 201 && droppedAnswers === 0) {
        droppedAnswers++;
        throw new TypeError('fetch failed (enrollment answer dropped by the test proxy)');
      }
      return res;
    };
    const device = new SimulatedWindowsDevice({ id: 'srv-enroll', name: 'SRV-ENROLL', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'enroll-')), os: 'server2022', seed: 7 });
    const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2, fetch: droppingFetch });
    fleets.push(fleet);
    await fleet.ready;
    const agent = fleet.agents[0]!;

    expect(droppedAnswers).toBe(1);
    expect(tries).toEqual([1, 2]);
    expect(agent.deviceId).toBe(deviceId);
    const poll = await fetch(`${h.server.url}/agent/v1/commands?wait=0`, { headers: { authorization: `Bearer ${agent.credential}` } });
    expect(poll.status).toBe(200);
    const audit = (await h.api('GET', `/api/v1/audit?deviceId=${deviceId}`)).body.entries as { action: string }[];
    expect(audit.filter((e) => e.action.startsWith('device.enroll')).map((e) => e.action).sort()).toEqual(['device.enrolled', 'device.enrollment_retried']);
    // The same token with another nonce (not the agent that enrolled): refused, and nothing changes.
    const other = await fetch(`${h.server.url}/agent/v1/enroll`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollmentToken, bootId: 'boot-x', enrollmentNonce: 'another-agent-nonce-0123456789' }),
    });
    expect(other.status).toBe(401);
    expect((await fetch(`${h.server.url}/agent/v1/commands?wait=0`, { headers: { authorization: `Bearer ${agent.credential}` } })).status).toBe(200);

    // A token issued longer ago than its lifetime is refused.
    const late = await h.createDevice('SRV-LATE');
    await h.db.query(`UPDATE devices SET enrollment_token_issued_at = now() - interval '2 hours' WHERE id = $1`, [late.deviceId]);
    const expired = await fetch(`${h.server.url}/agent/v1/enroll`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollmentToken: late.enrollmentToken, bootId: 'boot-y', enrollmentNonce: 'late-agent-nonce-0123456789' }),
    });
    expect(expired.status).toBe(401);
  });

  test('an enrollment try that reaches the server after the next try was answered gets 409 and leaves the agent\'s credential working', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice('SRV-ENROLL-LATE');
    const enrollmentNonce = 'late-try-nonce-0123456789abcdef';
    const enroll = (enrollmentAttempt: number) => fetch(`${h.server.url}/agent/v1/enroll`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ enrollmentToken, bootId: 'boot-late', enrollmentNonce, enrollmentAttempt }),
    });
    const poll = (credential: string) => fetch(`${h.server.url}/agent/v1/commands?wait=0`, { headers: { authorization: `Bearer ${credential}` } });
    // Try 1 timed out at the agent before it got anywhere; try 2 is answered first.
    const second = await enroll(2);
    expect(second.status).toBe(201);
    const held = ((await second.json()) as { credential: string }).credential;
    // Then try 1 arrives: the right token and nonce, but older than the try answered. Nothing changes.
    const late = await enroll(1);
    expect(late.status).toBe(409);
    expect(((await late.json()) as { error: string }).error).toContain('enrollment try 1 arrived after a later try was answered');
    expect((await poll(held)).status).toBe(200);
    // A later try (its answer lost too) still re-enrolls, as before.
    const third = await enroll(3);
    expect(third.status).toBe(201);
    expect((await poll(((await third.json()) as { credential: string }).credential)).status).toBe(200);
    const audit = (await h.api('GET', `/api/v1/audit?deviceId=${deviceId}`)).body.entries as { action: string }[];
    expect(audit.filter((e) => e.action.startsWith('device.enroll')).map((e) => e.action).sort()).toEqual(['device.enrolled', 'device.enrollment_retried']);
  });

  /**
   * Runs the device's agent until it has acknowledged a reboot `deaths` times, "dying" each time right
   * after the gateway stored the acknowledgement (the ack's reply never returns; the agent is stopped
   * before it restarts the machine), then lets it run normally.
   */
  async function agentThatDiesAfterAcks(h: Harness, name: string, deaths: number) {
    const { deviceId, enrollmentToken } = await h.createDevice(name);
    const device = new SimulatedWindowsDevice({ id: name.toLowerCase(), name, sandboxDir: fs.mkdtempSync(path.join(h.scratch, `${name}-`)), os: 'server2022', seed: 7, rebootDurationMs: 500, missingKbs: [CU] });
    let died = 0;
    let acked: (() => void) | undefined;
    const dyingFetch: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (died < deaths && String(input).includes('/result') && String(init?.body).includes('"acknowledged"') && res.ok) {
        died++;
        acked?.();
        // The process is gone: this reply never arrives (until the test stops the agent).
        await new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('agent killed')), { once: true }));
      }
      return res;
    };
    let fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 1, fetch: dyingFetch });
    fleets.push(fleet);
    await fleet.ready;
    const { credential, commandKeys } = fleet.agents[0]!;
    const bootId = device.bootId;
    const run = async () => {
      for (let i = 0; i < deaths; i++) {
        await new Promise<void>((r) => { acked = r; if (died > i) r(); });
        await fleet.stop();
        expect(device.bootId).toBe(bootId); // it never restarted
        fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, credential, commandKeys }], pollWaitSeconds: 1, fetch: dyingFetch });
        fleets.push(fleet);
      }
    };
    return { deviceId, device, bootId, run: run() };
  }

  test('an agent killed right after acknowledging a reboot: after the reboot timeout its check-in with the same boot id gets the reboot again, and the install completes', async () => {
    const { deviceId, device, bootId, run } = await agentThatDiesAfterAcks(h, 'SRV-ACKDIE', 1);
    const started = Date.now();
    const workflowId = await install(h, deviceId);
    await run;
    const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;
    const took = (Date.now() - started) / 1000;

    expect(result.outcome).toBe('succeeded');
    expect(result.rebooted).toBe(true);
    expect(device.bootId).not.toBe(bootId);
    const reboot = (await h.db.query(`SELECT status, reboot_offers, attempt FROM agent_commands WHERE workflow_id = $1 AND type = 'reboot'`, [workflowId])).rows[0];
    expect(reboot).toEqual({ status: 'succeeded', reboot_offers: 1, attempt: 1 });
    expect(took).toBeLessThan(REBOOT_TIMEOUT_SECONDS + 45); // not the reboot step's 600 s timeout
    console.log(`[recovery] agent died after acknowledging the reboot: install done in ${took.toFixed(1)} s (reboot timeout ${REBOOT_TIMEOUT_SECONDS} s)`);
  });

  test('an agent that dies after every acknowledgement: after the allowed re-offers the reboot step fails with a clear reason', async () => {
    const { deviceId, bootId, run } = await agentThatDiesAfterAcks(h, 'SRV-ACKDIE2', 2);
    const workflowId = await install(h, deviceId);
    await run;
    await h.client.workflow.getHandle(workflowId).result().catch(() => undefined);
    const reboot = (await h.db.query(`SELECT status, reboot_offers, error FROM agent_commands WHERE workflow_id = $1 AND type = 'reboot'`, [workflowId])).rows[0];
    expect(reboot.status).toBe('failed');
    expect(reboot.reboot_offers).toBe(1);
    expect(reboot.error).toEqual({ code: 'RebootNotCompleted', message: `the device acknowledged the reboot 2 times but never restarted (boot id still ${bootId})`, retryable: false });
  });
});

describe('every stored result reaches its workflow (issues 16.1, 18.1)', () => {
  let h: Harness;
  let temporal: DevServerHandle;
  let temporalPort: number;
  let temporalDb: string;
  const cli = findTemporalCli(process.env.TEMPORAL_CLI_PATH);

  beforeAll(async () => {
    // Its own Temporal (restarted below: never the one other tests share) and its own database
    // (so no other file's gateway delivers or heartbeats this file's task tokens to the wrong server).
    temporalDb = path.join(process.env.PATCHFLOW_TEST_SCRATCH!, `recovery-temporal-${process.pid}.db`);
    temporal = await startTemporalDevServer({ cliPath: cli, dbFile: temporalDb, logFile: `${temporalDb}.log` });
    temporalPort = Number(temporal.address.split(':')[1]);
    h = await startHarness({ databaseUrl: await createMigratedDatabase('recovery'), temporalAddress: temporal.address, installTiming: LONG_STEPS });
  });
  afterAll(async () => {
    await h?.stop();
    await temporal?.stop();
  });

  test('Temporal stopped while agents post results, then started again: every stored result is delivered within 30 s', async () => {
    const devices = await Promise.all(['SRV-R1', 'SRV-R2', 'SRV-R3'].map((n) => simulatedDevice(h, n, { missingKbs: [SSU], executeDurationMs: 5_000 })));
    const workflowIds = await Promise.all(devices.map((d) => install(h, d.deviceId)));
    await eventually(async () => (devices.every((d) => d.device.executionCount(SSU) > 0) ? true : undefined), 90_000, 'every device executing');

    await temporal.stop();
    // The agents finish while Temporal is down: the gateway stores each answer and answers 200.
    const owed = await eventually(async () => {
      const r = await h.db.query(
        `SELECT id FROM agent_commands WHERE workflow_id = ANY($1::text[]) AND type = 'execute_patches' AND status = 'succeeded' AND delivered_at IS NULL`,
        [workflowIds],
      );
      return r.rows.length === workflowIds.length ? r.rows.map((x) => x.id as string) : undefined;
    }, 60_000, 'every execute answer stored, undelivered');
    const metrics = await (await fetch(`${h.server.url}/metrics`, { headers: { authorization: `Bearer ${API_KEY}` } })).text();
    expect(Number(/^patchflow_agent_results_undelivered (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(owed.length);

    temporal = await startTemporalDevServer({ cliPath: cli, port: temporalPort, dbFile: temporalDb, logFile: `${temporalDb}.log` });
    const answeredAt = Date.now();
    await eventually(async () => {
      const r = await h.db.query('SELECT count(*)::int AS n FROM agent_commands WHERE id = ANY($1::text[]) AND delivered_at IS NOT NULL AND NOT delivered_late', [owed]);
      return r.rows[0].n === owed.length ? true : undefined;
    }, 30_000, 'every stored result delivered');
    const deliveredIn = (Date.now() - answeredAt) / 1000;
    console.log(`[recovery] Temporal back: ${owed.length} stored results delivered ${deliveredIn.toFixed(1)} s after it answered`);

    // The worker may have given up while its server was away: a fresh one carries on.
    if (h.worker?.getState() !== 'RUNNING') { await h.stopWorker().catch(() => undefined); await h.startWorker(); }
    const results = (await Promise.all(workflowIds.map((id) => h.client.workflow.getHandle(id).result()))) as InstallResult[];
    expect(results.map((r) => r.outcome)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    for (const d of devices) expect(d.device.executionCount(SSU)).toBe(1);
    // Each execute step finished on its first attempt: no timeout, no retry.
    for (const id of workflowIds) expect((await firstStepStart(h, id, 'execute_patches')).attempt).toBe(1);
  });
});

describe('a result re-posted after a 500 is delivered by the re-post (issue 18.1)', () => {
  let h: Harness;
  beforeAll(async () => {
    // The completer sweeps once on the gateway's kick and then not for ten minutes: whatever delivers
    // the answer after that is the re-post itself.
    h = await startHarness({ installTiming: LONG_STEPS, app: { recovery: { completerIntervalMs: 600_000, completerProbeIntervalMs: 600_000 } } });
  });
  afterAll(async () => { await h?.stop(); });

  test('Temporal refuses the first delivery, the agent gets a 500 and posts again: the duplicate is delivered, once', async () => {
    const { deviceId, enrollmentToken } = await h.createDevice('SRV-REPOST');
    // Temporal "unreachable" for this one answer until the agent posts it again.
    let executeId: string | undefined;
    let refusing = true;
    let refusedDeliveries = 0;
    const complete = h.client.activity.complete.bind(h.client.activity);
    h.client.activity.complete = (async (token: Uint8Array, result: unknown) => {
      if (refusing && executeId && (await h.db.query('SELECT 1 FROM agent_commands WHERE id = $1 AND task_token = $2', [executeId, Buffer.from(token)])).rowCount) {
        refusedDeliveries += 1;
        throw new Error('14 UNAVAILABLE: connection refused (test)');
      }
      return complete(token, result);
    }) as typeof h.client.activity.complete;
    const answers: { status: number; body: Record<string, unknown> }[] = [];
    const proxyFetch: typeof fetch = async (input, init) => {
      const url = String(input);
      const result = /\/agent\/v1\/commands\/([^/]+)\/result$/.exec(url);
      const id = result ? decodeURIComponent(result[1]!) : undefined;
      const isExecute = id !== undefined && (id === executeId
        || (!executeId && (await h.db.query(`SELECT 1 FROM agent_commands WHERE id = $1 AND type = 'execute_patches'`, [id])).rowCount === 1));
      if (isExecute) {
        executeId = id;
        if (answers.length > 0) {
          // The re-post, after the kick's sweep (refused too, or not yet due): Temporal answers again.
          expect(refusedDeliveries).toBeGreaterThanOrEqual(1);
          refusing = false;
        }
        const res = await fetch(input, init);
        answers.push({ status: res.status, body: (await res.clone().json()) as Record<string, unknown> });
        // The first answer is lost on the way back: the agent sees a 500 and keeps its result.
        if (answers.length === 1) return new Response(JSON.stringify({ error: 'internal error (test proxy)' }), { status: 500, headers: { 'content-type': 'application/json' } });
        return res;
      }
      return fetch(input, init);
    };
    const device = new SimulatedWindowsDevice({ id: 'srv-repost', name: 'SRV-REPOST', sandboxDir: fs.mkdtempSync(path.join(h.scratch, 'SRV-REPOST-')), os: 'server2022', seed: 7, rebootDurationMs: 1000, missingKbs: [SSU] });
    const fleet = startSimulatedFleet({ baseUrl: h.server.url, devices: [{ device, enrollmentToken }], pollWaitSeconds: 2, fetch: proxyFetch });
    fleets.push(fleet);
    await fleet.ready;
    try {
      const workflowId = await install(h, deviceId);
      await eventually(async () => (answers.length >= 2 ? true : undefined), 60_000, 'the re-post answered');
      // First post: stored, not delivered (Temporal refused). Re-post: a duplicate, delivered by it.
      expect(answers.map((a) => [a.status, a.body.delivered, a.body.duplicate ?? false])).toEqual([[200, false, false], [200, true, true]]);
      const result = (await h.client.workflow.getHandle(workflowId).result()) as InstallResult;
      expect(result.outcome).toBe('succeeded');
    } finally {
      h.client.activity.complete = complete;
    }
    const row = (await h.db.query('SELECT status, attempt, delivered_at IS NOT NULL AS delivered, delivered_late FROM agent_commands WHERE id = $1', [executeId])).rows[0];
    expect(row).toEqual({ status: 'succeeded', attempt: 1, delivered: true, delivered_late: false });
    expect(device.executionCount(SSU)).toBe(1);
  });
});
