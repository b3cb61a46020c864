import { loadConfig, workerTuningOf } from '../../config/config';

describe('worker tuning configuration', () => {
  test('defaults: 1,000 cached workflows, the SDK\'s slots', () => {
    expect(workerTuningOf(loadConfig({} as NodeJS.ProcessEnv))).toEqual({ maxCachedWorkflows: 1000, maxConcurrentWorkflowTaskExecutions: undefined, maxConcurrentActivityTaskExecutions: undefined });
  });

  test('set values come through; 0 turns the cache off', () => {
    expect(workerTuningOf(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '250', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20', WORKER_MAX_CONCURRENT_ACTIVITIES: '50' } as NodeJS.ProcessEnv)))
      .toEqual({ maxCachedWorkflows: 250, maxConcurrentWorkflowTaskExecutions: 20, maxConcurrentActivityTaskExecutions: 50 });
    expect(workerTuningOf(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '0', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '200' } as NodeJS.ProcessEnv)).maxCachedWorkflows).toBe(0);
  });

  test('wrong values are refused, naming the variable', () => {
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '-1' } as NodeJS.ProcessEnv)).toThrow(/WORKER_MAX_CACHED_WORKFLOWS/);
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '1' } as NodeJS.ProcessEnv)).toThrow(/WORKER_MAX_CACHED_WORKFLOWS must be 0 \(no cache\) or at least 2/);
    expect(() => loadConfig({ WORKER_MAX_CONCURRENT_ACTIVITIES: 'many' } as NodeJS.ProcessEnv)).toThrow(/WORKER_MAX_CONCURRENT_ACTIVITIES/);
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '100', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '200' } as NodeJS.ProcessEnv))
      .toThrow(/WORKER_MAX_CONCURRENT_WORKFLOW_TASKS \(200\) must be at most WORKER_MAX_CACHED_WORKFLOWS \(100\)/);
  });
});
