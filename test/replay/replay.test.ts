import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, ReplayError, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import pino from 'pino';
import { installRuntimeLogger } from '../../worker/worker';
import * as workflows from '../../workflows';

installRuntimeLogger(pino({ level: 'silent' }));

jest.setTimeout(120_000);

const dir = path.resolve(__dirname, '..', 'histories');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

/** Histories are saved from `fetchHistory()` (protobufjs objects) or `temporal workflow show -o json` (proto3 JSON). */
function loadHistory(file: string): temporal.api.history.v1.IHistory {
  const json = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const first = json.events?.[0];
  if (first && typeof first.eventTime === 'string') return historyFromJSON(json);
  return temporal.api.history.v1.History.fromObject(json);
}

const workflowTypeOf = (h: temporal.api.history.v1.IHistory) =>
  h.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name;

describe('replay of recorded histories', () => {
  test('there is at least one history per workflow type', () => {
    const types = new Set(files.map((f) => workflowTypeOf(loadHistory(f))));
    // Every exported workflow type needs a recorded history, so a change that breaks it fails here.
    expect(types).toEqual(new Set(Object.keys(workflows)));
  });

  // One replay worker for every history (runReplayHistories): a worker per history cost about 0.3 s
  // each, most of the file's time. Each history still reports as its own test.
  const outcomes = new Map<string, Error | undefined>();
  beforeAll(async () => {
    const histories = files.map((file) => ({ workflowId: path.basename(file, '.json'), history: loadHistory(file) }));
    for await (const r of Worker.runReplayHistories({ workflowBundle: { codePath: process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE! } }, histories)) {
      outcomes.set(r.workflowId, r.error);
    }
  });

  test.each(files)('%s replays without a determinism error', (file) => {
    const id = path.basename(file, '.json');
    expect(outcomes.has(id)).toBe(true);
    const error = outcomes.get(id);
    if (error) throw error;
  });
});

/** `source` with its relative imports made absolute (as seen from `from`), except those `redirect` maps. */
function absoluteImports(source: string, from: string, redirect: Record<string, string> = {}): string {
  return source.replace(/from '(\.\.?\/[^']*)'/g, (_m, rel: string) => {
    const target = path.resolve(path.dirname(from), rel);
    return `from '${redirect[target] ?? target}'`;
  });
}

/**
 * A copy of a workflow module as it is now (a path under workflows/), with one change to its command
 * sequence made without patched(), bundled from a scratch folder: the kind of change the replay tests
 * exist to catch. A step module (workflows/install-steps/) is bundled through a copy of `workflow`, the
 * workflow file that imports it, so that the workflow runs the broken step.
 */
async function bundleBrokenCopy(file: string, change: { from: string; to: string }, workflow = file): Promise<string> {
  const root = path.resolve(__dirname, '..', '..');
  const original = path.join(root, 'workflows', file);
  const source = fs.readFileSync(original, 'utf8');
  // The change must still apply: a fixture that silently stops changing anything would prove nothing.
  if (!source.includes(change.from)) throw new Error(`workflows/${file} no longer contains ${JSON.stringify(change.from)}: update this test`);
  // Under the checkout (.data is ignored) so that @temporalio/workflow resolves from node_modules.
  fs.mkdirSync(path.join(root, '.data'), { recursive: true }); // a fresh clone has none yet
  const dir = fs.mkdtempSync(path.join(root, '.data', 'broken-workflow-'));
  try {
    const broken = absoluteImports(source.replace(change.from, change.to), original);
    if (workflow === file) fs.writeFileSync(path.join(dir, 'index.ts'), broken);
    else {
      fs.writeFileSync(path.join(dir, 'broken-step.ts'), broken);
      const entry = path.join(root, 'workflows', workflow);
      const redirect = { [original.replace(/\.ts$/, '')]: './broken-step' };
      fs.writeFileSync(path.join(dir, 'index.ts'), absoluteImports(fs.readFileSync(entry, 'utf8'), entry, redirect));
    }
    const { code } = await bundleWorkflowCode({
      workflowsPath: path.join(dir, 'index.ts'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
    });
    return code;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('a change to a command sequence without patched() fails replay', () => {
  test('the rollout without its maintenance-window wait fails on the recorded maintenance-wait rollout', async () => {
    const code = await bundleBrokenCopy('automatic-update.ts', { from: 'if (opens > 0) await sleep(opens);', to: 'void opens;' });
    const history = loadHistory('automaticUpdateWorkflow-maintenance-wait.json');
    await expect(Worker.runReplayHistory({ workflowBundle: { code } }, history, 'broken-rollout')).rejects.toThrow(DeterminismViolationError);
  });

  test('the install verifying a cancel during execute without its patched() guard fails on an install cancelled before that change', async () => {
    const code = await bundleBrokenCopy('install-steps/cleanup.ts', { from: '(run.batched || patched(CANCEL_VERIFY_PATCH))', to: 'true' }, 'device-install.ts');
    const history = loadHistory('deviceInstallWorkflow-cancelled.json');
    // Every device step is the same activity type, so Temporal does not see the extra scan as a
    // different command: the scan is handed the recorded cleanup's answer and the task fails on it.
    // Either way replay fails, which is what stops CI.
    await expect(Worker.runReplayHistory({ workflowBundle: { code } }, history, 'broken-install')).rejects.toThrow(ReplayError);
  });
});

test('a workflow change that breaks running workflows fails replay', async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/changed-install-workflow'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never,
  });
  const history = loadHistory('deviceInstallWorkflow-happy-path.json');
  await expect(Worker.runReplayHistory({ workflowBundle: { code } }, history, 'changed')).rejects.toThrow(DeterminismViolationError);
});
