/**
 * CI check: a change to a workflow's code must come with a recorded history (test/histories/, which
 * the replay tests run), or say in a commit message why its command sequence is unchanged:
 *
 *   Workflow-Change: only a summary text changed; same commands in the same order
 *
 * Run by .ci/run before `npm test`: `node --import tsx tools/workflow-history-check.ts [<range>]`.
 * The default range is every commit since the last one that touched test/histories/ (on a fresh
 * clone, which has the full history): whatever changed a workflow since then has no history with it.
 */
import { execFileSync } from 'node:child_process';

export interface CommitInfo {
  hash: string;
  message: string;
  files: string[];
}

/** `Workflow-Change: <why>` on a line of its own, with a reason. */
export const WORKFLOW_CHANGE_MARKER = /^Workflow-Change:[ \t]*\S.*$/m;

/**
 * Workflow code: every .ts file under workflows/ (the install's steps live in workflows/install-steps/),
 * but not the contract files (ids, types, message definitions).
 */
export function isWorkflowFile(file: string): boolean {
  return /^workflows\/.+\.ts$/.test(file) && !file.endsWith('.contract.ts');
}

export function isHistoryFile(file: string): boolean {
  return file.startsWith('test/histories/') && file.endsWith('.json');
}

export interface CheckResult {
  ok: boolean;
  /** workflow files the range changed */
  workflowFiles: string[];
  /** histories the range added or changed */
  historyFiles: string[];
  /** the commit messages' explanations, if any */
  explanations: string[];
  message: string;
}

/** The rule, on the commits of a range: workflow files changed → a history changed too, or a marker says why not. */
export function checkWorkflowChanges(commits: CommitInfo[]): CheckResult {
  const workflowFiles = [...new Set(commits.flatMap((c) => c.files.filter(isWorkflowFile)))].sort();
  const historyFiles = [...new Set(commits.flatMap((c) => c.files.filter(isHistoryFile)))].sort();
  const explanations = commits.flatMap((c) => {
    const m = WORKFLOW_CHANGE_MARKER.exec(c.message);
    return m ? [`${c.hash.slice(0, 10)}: ${m[0]}`] : [];
  });
  if (workflowFiles.length === 0) return { ok: true, workflowFiles, historyFiles, explanations, message: 'no workflow file changed' };
  if (historyFiles.length > 0) return { ok: true, workflowFiles, historyFiles, explanations, message: `workflow changes come with ${historyFiles.length} recorded histories` };
  if (explanations.length > 0) return { ok: true, workflowFiles, historyFiles, explanations, message: `workflow changes explained: ${explanations.join('; ')}` };
  const culprits = commits.filter((c) => c.files.some(isWorkflowFile)).map((c) => `${c.hash.slice(0, 10)} ${c.message.split('\n')[0]}`);
  return {
    ok: false, workflowFiles, historyFiles, explanations,
    message: [
      `workflow code changed with no recorded history: ${workflowFiles.join(', ')}`,
      ...culprits.map((c) => `  in ${c}`),
      'Record the new path (RECORD_HISTORIES=1, under a new name in test/histories/) and guard the change with patched(),',
      'or, if the command sequence is unchanged, say why in a commit message line: "Workflow-Change: <why>".',
    ].join('\n'),
  };
}

/** Parses `git log --format=%x1e%H%x1f%B%x1f --name-only`. */
export function parseGitLog(output: string): CommitInfo[] {
  return output.split('\x1e').filter((chunk) => chunk.trim() !== '').map((chunk) => {
    const [hash, message, files] = chunk.split('\x1f');
    return {
      hash: hash!.trim(),
      message: (message ?? '').trim(),
      files: (files ?? '').split('\n').map((f) => f.trim()).filter(Boolean),
    };
  });
}

function git(args: string[]): string {
  return execFileSync('git', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

/** The default range: the commits since the last one that touched test/histories/ (all commits if none did). */
export function defaultRange(): string {
  const last = git(['log', '-1', '--format=%H', '--', 'test/histories']).trim();
  return last ? `${last}..HEAD` : 'HEAD';
}

function main(): void {
  const range = process.argv[2] ?? defaultRange();
  const commits = parseGitLog(git(['log', '--format=%x1e%H%x1f%B%x1f', '--name-only', '--no-renames', range]));
  const result = checkWorkflowChanges(commits);
  console.log(`workflow history check (${range}, ${commits.length} commits): ${result.ok ? 'ok' : 'FAILED'}: ${result.message}`);
  if (!result.ok) process.exitCode = 1;
}

if (require.main === module) main();
