import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { FileCommandJournal } from '../../agent/command-journal';
import type { AgentCommand, CommandOutcome } from '../../domain/device-protocol';

const command = (id: string): AgentCommand => ({ id, type: 'scan', payload: { reason: 'test' }, attempt: 1 });
const done: CommandOutcome = { status: 'succeeded', result: { removedFiles: 1, workingFolderEmpty: true, installFolderEmpty: true } };

let dir: string;
let file: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-journal-'));
  file = path.join(dir, 'journal.jsonl');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a finished outcome and an interrupted command are what a new process reads back', async () => {
  const j = new FileCommandJournal(file);
  await j.begin(command('a'));
  await j.finish('a', done);
  await j.begin(command('b'));
  j.close();
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);

  const again = new FileCommandJournal(file);
  expect(again.finished('a')).toEqual(done);
  expect(again.finished('b')).toBeUndefined();
  expect(again.interrupted().map((c) => c.id)).toEqual(['b']);
  expect(again.wasInterrupted('b')).toBe(true);
  expect(again.problems).toEqual([]);
  await again.abandon('b');
  again.close();
  expect(new FileCommandJournal(file).interrupted()).toEqual([]);
});

test('survives kill -9 of the process writing it: what was appended before the kill is there', async () => {
  const script = `
    const { FileCommandJournal } = require(${JSON.stringify(path.resolve(__dirname, '../../agent/command-journal.ts'))});
    const j = new FileCommandJournal(${JSON.stringify(file)});
    (async () => {
      await j.begin({ id: 'k', type: 'execute', payload: {}, attempt: 1 });
      await j.finish('k', { status: 'succeeded', result: { exitCode: 0 } });
      await j.begin({ id: 'running', type: 'execute', payload: {}, attempt: 1 });
      process.kill(process.pid, 'SIGKILL');
    })();`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8' });
  expect(r.signal).toBe('SIGKILL');
  const j = new FileCommandJournal(file);
  expect(j.finished('k')).toEqual({ status: 'succeeded', result: { exitCode: 0 } });
  expect(j.interrupted().map((c) => c.id)).toEqual(['running']);
});

test('a line cut short by a crash is ignored and reported; the next append starts on a line of its own', async () => {
  const j = new FileCommandJournal(file);
  await j.begin(command('a'));
  await j.finish('a', done);
  j.close();
  fs.appendFileSync(file, '{"finish":"b","outc');
  const again = new FileCommandJournal(file);
  expect(again.problems).toEqual(['line 3: cut short (a crash while writing); ignored']);
  expect(again.finished('a')).toEqual(done);
  await again.finish('c', done);
  again.close();
  const third = new FileCommandJournal(file);
  expect(third.finished('c')).toEqual(done);
  // Now a whole line in the middle: still skipped, still reported.
  expect(third.problems).toEqual(['line 3: not JSON; ignored']);
});

test('compaction keeps the newest finished commands and every unfinished one', async () => {
  const j = new FileCommandJournal(file, { compactAfter: 10, keepFinished: 3 });
  await j.begin(command('open'));
  for (let i = 0; i < 8; i++) {
    await j.begin(command(`c${i}`));
    await j.finish(`c${i}`, done);
  }
  j.close();
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  expect(lines.length).toBeLessThanOrEqual(10);
  const again = new FileCommandJournal(file);
  expect(again.interrupted().map((c) => c.id)).toEqual(['open']);
  expect(again.finished('c7')).toEqual(done);
  expect(again.finished('c0')).toBeUndefined();
});
