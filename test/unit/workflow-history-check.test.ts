import { checkWorkflowChanges, isWorkflowFile, parseGitLog, type CommitInfo } from '../../tools/workflow-history-check';

const commit = (files: string[], message = 'a change'): CommitInfo => ({ hash: `${files.length}abcdef0123456789`, message, files });

describe('CI check: workflow code changes come with a recorded history or an explanation', () => {
  test.each([
    ['workflows/device-install.ts', true],
    ['workflows/automatic-update.ts', true],
    ['workflows/index.ts', true],
    ['workflows/install.contract.ts', false],
    ['workflows/install-steps/download.ts', true],
    ['workflows/sub/thing.contract.ts', false],
    ['activities/install-bookkeeping.ts', false],
    ['test/replay/fixtures/changed-install-workflow.ts', false],
  ])('%s is workflow code: %s', (file, expected) => {
    expect(isWorkflowFile(file)).toBe(expected);
  });

  test.each<[string, CommitInfo[], boolean]>([
    ['no commits', [], true],
    ['no workflow change', [commit(['api/schedule-service.ts', 'workflows/install.contract.ts'])], true],
    ['a workflow change alone', [commit(['workflows/automatic-update.ts'])], false],
    ['a workflow change with a history in the same commit', [commit(['workflows/automatic-update.ts', 'test/histories/automaticUpdateWorkflow-x.json'])], true],
    ['a workflow change, the history in a later commit of the range', [commit(['workflows/device-install.ts']), commit(['test/histories/deviceInstallWorkflow-y.json'])], true],
    ['a workflow change explained', [commit(['workflows/device-install.ts'], 'Summary text\n\nWorkflow-Change: only the summary text changed; same commands')], true],
    ['the marker in another commit of the range', [commit(['workflows/device-install.ts']), commit(['README.md'], 'Docs\n\nWorkflow-Change: renamed a local variable')], true],
    ['a marker without a reason', [commit(['workflows/device-install.ts'], 'x\n\nWorkflow-Change:   ')], false],
    ['the marker not at the start of a line', [commit(['workflows/device-install.ts'], 'see Workflow-Change: later')], false],
    ['a changed fixture under test/, not a history', [commit(['workflows/device-install.ts', 'test/replay/fixtures/changed-install-workflow.ts'])], false],
  ])('%s → passes: %s', (_name, commits, ok) => {
    expect(checkWorkflowChanges(commits).ok).toBe(ok);
  });

  test('the failure names the file and the commit, and says what to do', () => {
    const result = checkWorkflowChanges([commit(['workflows/automatic-update.ts'], 'Batch size 1,000\n\nbody')]);
    expect(result.message).toMatch(/workflow code changed with no recorded history: workflows\/automatic-update\.ts/);
    expect(result.message).toMatch(/in 1abcdef012 Batch size 1,000/);
    expect(result.message).toMatch(/Workflow-Change: <why>/);
  });

  test('parses git log output (hash, message, files)', () => {
    const out = '\x1eaaa111\x1fFirst\n\nWorkflow-Change: why\x1f\n\nworkflows/a.ts\nREADME.md\n\x1ebbb222\x1fSecond\x1f\n\ntest/histories/x.json\n';
    expect(parseGitLog(out)).toEqual([
      { hash: 'aaa111', message: 'First\n\nWorkflow-Change: why', files: ['workflows/a.ts', 'README.md'] },
      { hash: 'bbb222', message: 'Second', files: ['test/histories/x.json'] },
    ]);
  });
});
