import fs from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
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

  test.each(files)('%s replays without a determinism error', async (file) => {
    const history = loadHistory(file);
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: process.env.PATCHFLOW_TEST_WORKFLOW_BUNDLE! } },
      history,
      path.basename(file, '.json'),
    );
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
