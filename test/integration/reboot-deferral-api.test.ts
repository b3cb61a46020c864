/**
 * The user-deferral reboot action at the API (issue 14 parts 3 and 4): an Automatic Update schedule
 * takes it with its postponements, deadline and grace; numbers out of range are 422s naming the field,
 * a grace without a deadline is refused, and nothing is written on a refusal.
 */
import { randomUUID } from 'node:crypto';
import { startHarness, type Harness } from './harness';

jest.setTimeout(60_000);

let h: Harness;
beforeAll(async () => { h = await startHarness({ startWorker: false }); });
afterAll(async () => { await h.stop(); });

const weekly = { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'Europe/London' };
const schedule = (rebootAction: unknown) => ({
  name: `Deferral AU ${randomUUID().slice(0, 6)}`, kind: 'automatic_update', scope: { scopeType: 'device_type', scopeId: 'workstation' },
  timing: weekly, distributionWindowMinutes: 60, rebootAction,
});
const count = async () => Number((await h.db.query('SELECT count(*) FROM update_schedules')).rows[0].count);

test('a schedule takes the user-deferral action and describes it', async () => {
  const action = { action: 'ask_user_allow_deferrals', deferrals: 3, minutes: 60, deadlineDays: 2, graceDays: 2 };
  const created = await h.api('POST', '/api/v1/schedules', schedule(action));
  expect(created.status).toBe(201);
  expect(created.body.rebootAction).toEqual(action);
  expect(created.body.rebootActionText).toBe('If user logged on, ask to reboot; allow up to 3 postponements of 60 minutes, then force the reboot; '
    + 'forced from 2 days after the patch became available (a device offline then gets 2 days from its return); reboot at once if nobody is logged on');
  const changed = await h.api('PATCH', `/api/v1/schedules/${created.body.id}`, { rebootAction: { action: 'ask_user_allow_deferrals', deferrals: 1, minutes: 15 } });
  expect(changed.status).toBe(200);
  expect(changed.body.rebootAction).toEqual({ action: 'ask_user_allow_deferrals', deferrals: 1, minutes: 15 });
  const refused = await h.api('PATCH', `/api/v1/schedules/${created.body.id}`, { rebootAction: { action: 'ask_user_allow_deferrals', deferrals: 1, minutes: 15, graceDays: 1 } });
  expect(refused.status).toBe(422);
  expect((await h.api('GET', `/api/v1/schedules/${created.body.id}`)).body.rebootAction).toEqual({ action: 'ask_user_allow_deferrals', deferrals: 1, minutes: 15 });
  expect((await h.api('DELETE', `/api/v1/schedules/${created.body.id}`)).status).toBe(204);
});

test('out of range is a 422 naming the field; a wrong type a 400; nothing is written', async () => {
  const before = await count();
  const base = { action: 'ask_user_allow_deferrals', deferrals: 3, minutes: 60 };
  const cases: [unknown, number, RegExp][] = [
    [{ ...base, deferrals: 0 }, 422, /^body\.rebootAction\.deferrals: must be a whole number of postponements from 1 to 10, got 0$/],
    [{ ...base, deferrals: 11 }, 422, /^body\.rebootAction\.deferrals: .*got 11$/],
    [{ ...base, minutes: 0 }, 422, /^body\.rebootAction\.minutes: must be a whole number of minutes from 1 to 1440, got 0$/],
    [{ ...base, minutes: 1441 }, 422, /^body\.rebootAction\.minutes: .*got 1441$/],
    [{ ...base, deadlineDays: 31 }, 422, /^body\.rebootAction\.deadlineDays: must be a whole number of days from 0 to 30, got 31$/],
    [{ ...base, deadlineDays: 2, graceDays: 8 }, 422, /^body\.rebootAction\.graceDays: must be a whole number of days from 0 to 7, got 8$/],
    [{ ...base, graceDays: 2 }, 422, /^body\.rebootAction\.graceDays: a grace period needs a deadline/],
    [{ ...base, deferrals: 'three' }, 400, /body\.rebootAction\.deferrals: must be a number/],
    [{ action: 'ask_user_allow_deferrals', minutes: 60 }, 400, /body\.rebootAction\.deferrals: is required/],
  ];
  for (const [action, status, error] of cases) {
    const r = await h.api('POST', '/api/v1/schedules', schedule(action));
    expect({ action, status: r.status }).toEqual({ action, status });
    expect(r.body.error).toMatch(error);
  }
  expect(await count()).toBe(before);
});

async function agent(method: string, path: string, credential: string | undefined, body?: unknown) {
  const res = await fetch(`${h.server.url}${path}`, {
    method,
    headers: {
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
      'x-patchflow-boot-id': 'boot-1',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

test("the gateway checks a postponement against the question: only an ask_defer that allowed one, for no longer than offered", async () => {
  const { deviceId, enrollmentToken } = await h.createDevice();
  const enrolled = await agent('POST', '/agent/v1/enroll', undefined, { enrollmentToken, hostname: 'x', bootId: 'boot-1' });
  expect(enrolled.status).toBe(201);
  const credential = enrolled.body.credential as string;
  // Reboot commands as an install's reboot step leaves them, claimed by the device (no workflow is needed
  // for a refusal: the answer is checked before anything is delivered).
  const commandOf = async (payload: unknown) => {
    const id = `test-reboot-${randomUUID()}`;
    await h.db.query(
      `INSERT INTO agent_commands (id, device_id, workflow_id, type, payload, task_token, attempt, status)
       VALUES ($1, $2::uuid, 'install/test', 'reboot', $3::jsonb, '\\x00'::bytea, 1, 'claimed')`,
      [id, deviceId, JSON.stringify(payload)],
    );
    return id;
  };
  const answer = (id: string, result: unknown) => agent('POST', `/agent/v1/commands/${encodeURIComponent(id)}/result`, credential, { status: 'succeeded', result });
  const postponed = (minutes?: number) => ({ previousBootId: 'boot-1', bootId: 'boot-1', skipped: { reason: 'user_deferred' }, ...(minutes === undefined ? {} : { deferredMinutes: minutes }) });

  const forced = await commandOf({ reason: 'forced', mode: { kind: 'immediate' } });
  const toForced = await answer(forced, postponed(30));
  expect(toForced.status).toBe(400);
  expect(toForced.body.error).toBe("body.result: \"user_deferred\" answers only an ask_defer reboot; this command's mode is immediate");

  const question = await commandOf({ reason: 'r', mode: { kind: 'ask_defer', minutes: 30, deferralsLeft: 1 } });
  const tooLong = await answer(question, postponed(45));
  expect(tooLong.status).toBe(400);
  expect(tooLong.body.error).toBe('body.result: deferredMinutes must be from 1 to the 30 minutes offered');
  const noMinutes = await answer(question, postponed());
  expect(noMinutes.status).toBe(400);
  expect(noMinutes.body.error).toMatch(/body\.result\.deferredMinutes: a postponed reboot says for how long/);
  const lastOne = await commandOf({ reason: 'r', mode: { kind: 'ask_defer', minutes: 30, deferralsLeft: 0 } });
  expect((await answer(lastOne, postponed(10))).body.error).toBe('body.result: the command allowed no more postponements');

  // Nothing was stored for any of them.
  const rows = (await h.db.query('SELECT status, result FROM agent_commands WHERE id = ANY($1::text[])', [[forced, question, lastOne]])).rows;
  expect(rows).toEqual([{ status: 'claimed', result: null }, { status: 'claimed', result: null }, { status: 'claimed', result: null }]);
  // Leave no open command behind for the other tests of the run (they share the database).
  await h.db.query('DELETE FROM agent_commands WHERE id = ANY($1::text[])', [[forced, question, lastOne]]);
});
