/**
 * A rollout's device list, stored in PostgreSQL and read a page at a time (issue 15): a rollout over
 * 6,000 devices used to carry them all in one activity result and failed on Temporal's 2 MiB payload
 * limit. Here the real activities run against real PostgreSQL: the listing answers only a count, the
 * pages cover every device once and each stays far below the limit, a retried listing keeps the first
 * list, and finishing the rollout drops it.
 */
import { randomUUID } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createRolloutActivities } from '../../activities/rollout-activities';
import { EMPTY_COUNTS, type RolloutDevice } from '../../workflows/automatic-update.contract';
import { startHarness, type Harness } from './harness';

jest.setTimeout(120_000);

const DEVICES = 6_000;
const PAGE = 1_000; // a run's devices (the rollout's batch size, 1,000 by default)
const TEMPORAL_PAYLOAD_LIMIT = 2 * 1024 * 1024;

let h: Harness;
let siteId: string;

beforeAll(async () => {
  h = await startHarness();
  await h.stopWorker(); // the activities run by hand
  siteId = (await h.createDevice('LIST-SEED')).siteId; // not enrolled: never in a rollout
  // Enrolled devices (a credential), written by PostgreSQL itself: the API would take minutes.
  await h.db.query(
    `INSERT INTO devices (id, site_id, name, device_type, os, working_folder, install_folder, credential_hash)
     SELECT gen_random_uuid(), $1::uuid, 'LIST-' || lpad(g::text, 5, '0'), 'workstation', 'win11',
            'C:\\ProgramData\\Patchflow\\Working', 'C:\\Windows\\Patches', 'hash-' || g
     FROM generate_series(1, $2::int) g`,
    [siteId, DEVICES],
  );
});

afterAll(async () => {
  await h?.stop();
});

test('6,000 devices: a count, then pages that cover each device once, each far below the payload limit; a retry keeps the list; finishing drops it', async () => {
  const a = createRolloutActivities({ db: h.db, log: pino({ level: 'silent' }) });
  const workflowId = `automatic-update/list-test/${randomUUID()}`;
  const env = () => new MockActivityEnvironment({ workflowExecution: { workflowId, runId: randomUUID() }, workflowType: 'automaticUpdateWorkflow' });
  const scope = { scopeType: 'site' as const, scopeId: siteId };

  const listed = await env().run(a.listRolloutDevices, { workflowId, scope }) as { total: number };
  expect(listed).toEqual({ total: DEVICES });

  const seen: string[] = [];
  let largestPage = 0;
  for (let offset = 0; offset < listed.total; offset += PAGE) {
    const page = await env().run(a.rolloutDevicePage, { workflowId, offset, limit: PAGE }) as RolloutDevice[];
    expect(page).toHaveLength(Math.min(PAGE, listed.total - offset));
    largestPage = Math.max(largestPage, Buffer.byteLength(JSON.stringify(page)));
    seen.push(...page.map((d) => d.deviceId));
  }
  expect(new Set(seen).size).toBe(DEVICES);
  expect(seen).toEqual([...seen].sort()); // the order resolveScopeDevices gave, stable across pages
  expect(largestPage).toBeLessThan(TEMPORAL_PAYLOAD_LIMIT / 4);
  // Each device carries what its install needs: names for the search attributes, canonical folders.
  const [first] = await env().run(a.rolloutDevicePage, { workflowId, offset: 0, limit: 1 }) as RolloutDevice[];
  expect(first).toMatchObject({ deviceName: expect.stringMatching(/^LIST-\d{5}$/), siteId, workingFolder: 'C:\\ProgramData\\Patchflow\\Working', installFolder: 'C:\\Windows\\Patches' });
  expect(await env().run(a.rolloutDevicePage, { workflowId, offset: DEVICES, limit: PAGE })).toEqual([]);

  // A device enrolled after the listing is not in this rollout, even when the listing is retried
  // (its answer lost): every page the rollout reads comes from the first list.
  await h.db.query(
    `INSERT INTO devices (id, site_id, name, device_type, os, working_folder, install_folder, credential_hash)
     VALUES (gen_random_uuid(), $1::uuid, 'LIST-LATE', 'workstation', 'win11', 'C:\\ProgramData\\Patchflow\\Working', 'C:\\Windows\\Patches', 'hash-late')`,
    [siteId],
  );
  expect(await env().run(a.listRolloutDevices, { workflowId, scope })).toEqual({ total: DEVICES });
  // Another rollout of the same scope lists it.
  const other = `automatic-update/list-test/${randomUUID()}`;
  expect(await env().run(a.listRolloutDevices, { workflowId: other, scope })).toEqual({ total: DEVICES + 1 });

  await env().run(a.finishRollout, { workflowId, counts: { ...EMPTY_COUNTS, devices: DEVICES, done: DEVICES } });
  const { rows } = await h.db.query('SELECT count(*)::int AS n FROM rollout_device_lists WHERE workflow_id = $1', [workflowId]);
  expect(rows[0].n).toBe(0);
  expect((await h.db.query('SELECT count(*)::int AS n FROM rollout_device_lists WHERE workflow_id = $1', [other])).rows[0].n).toBe(DEVICES + 1);
});

test('an empty scope is a list too: a retry finds it and does not resolve the scope again', async () => {
  const a = createRolloutActivities({ db: h.db, log: pino({ level: 'silent' }) });
  const workflowId = `automatic-update/list-test/${randomUUID()}`;
  const env = () => new MockActivityEnvironment({ workflowExecution: { workflowId, runId: randomUUID() }, workflowType: 'automaticUpdateWorkflow' });
  const emptySite = (await h.createDevice('LIST-EMPTY')).siteId; // its one device is not enrolled
  const scope = { scopeType: 'site' as const, scopeId: emptySite };
  expect(await env().run(a.listRolloutDevices, { workflowId, scope })).toEqual({ total: 0 });
  await h.db.query(`UPDATE devices SET credential_hash = 'hash-now' WHERE site_id = $1`, [emptySite]);
  expect(await env().run(a.listRolloutDevices, { workflowId, scope })).toEqual({ total: 0 });
  expect(await env().run(a.rolloutDevicePage, { workflowId, offset: 0, limit: PAGE })).toEqual([]);
});
