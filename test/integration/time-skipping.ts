/**
 * Temporal's time-skipping test server for a test file, set up once: the pinned server binary (the one
 * tools/setup.js installs, so no download at test time), Patchflow's search attributes registered,
 * workers that run the prebuilt workflow bundle (test/global-setup.ts builds it once per run) with
 * fake activities, and teardown after the file's last test.
 *
 *   const env = useTimeSkippingEnvironment();
 *   const { worker, taskQueue } = await env.fakeWorker('rollout-ts', createFakeActivities(...).activities);
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { SearchAttributeType } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { PATCHFLOW_SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import type { createFakeActivities } from './fake-activities';

const TEST_SERVER = path.resolve(__dirname, '../../.tools/venv/bin/temporal-test-server');

type FakeActivities = ReturnType<typeof createFakeActivities>['activities'];

/** What a test reads of the environment (valid from beforeAll on), plus a worker factory. */
export interface TimeSkippingEnvironment extends Pick<TestWorkflowEnvironment, 'client' | 'connection' | 'nativeConnection' | 'namespace' | 'sleep' | 'currentTimeMs'> {
  /** A worker on a task queue of its own (`<prefix>-<uuid>`), running the workflow bundle with these activities. */
  fakeWorker(taskQueuePrefix: string, activities: FakeActivities): Promise<{ worker: Worker; taskQueue: string }>;
}

/** Starts the time-skipping server with Patchflow's search attributes registered. */
export async function startTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // a Runtime already exists in this process: keep it
  }
  const env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: TEST_SERVER } } });
  // Install children carry DeviceId/ClientId/SiteId/Operation and upsert PatchKBs. The time-skipping
  // server refuses attributes it does not know (a child start then never happens, an upsert fails the task).
  const { IndexedValueType } = temporal.api.enums.v1;
  const indexed: Partial<Record<string, temporal.api.enums.v1.IndexedValueType>> = {
    [SearchAttributeType.KEYWORD]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    [SearchAttributeType.KEYWORD_LIST]: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(PATCHFLOW_SEARCH_ATTRIBUTES.map((k) => [k.name, indexed[k.type]!])),
  });
  return env;
}

/**
 * Registers this file's beforeAll (start) and afterAll (teardown) and returns the environment. Call it
 * at the top level of a test file.
 */
export function useTimeSkippingEnvironment(): TimeSkippingEnvironment {
  let started: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    started = await startTimeSkippingEnvironment();
  });
  afterAll(async () => {
    await started?.teardown();
  });
  const env = (): TestWorkflowEnvironment => {
    if (!started) throw new Error('the time-skipping environment is read before beforeAll started it');
    return started;
  };
  return {
    get client() { return env().client; },
    get connection() { return env().connection; },
    get nativeConnection() { return env().nativeConnection; },
    get namespace() { return env().namespace; },
    sleep: (duration) => env().sleep(duration),
    currentTimeMs: () => env().currentTimeMs(),
    async fakeWorker(taskQueuePrefix, activities) {
      const taskQueue = `${taskQueuePrefix}-${randomUUID()}`;
      const worker = await Worker.create({
        connection: env().nativeConnection, taskQueue, activities,
        workflowBundle: { codePath: process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE! },
      });
      return { worker, taskQueue };
    },
  };
}
