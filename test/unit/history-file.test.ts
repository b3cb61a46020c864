import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saveNewHistory } from '../history-file';

describe('the history recorder', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-hist-')); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  test('writes a new history', () => {
    const file = saveNewHistory(dir, 'deviceInstallWorkflow-x', { events: [1] });
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ events: [1] });
  });

  test('refuses to overwrite an existing history, naming the file, and leaves it as it was', () => {
    const file = saveNewHistory(dir, 'deviceInstallWorkflow-x', { events: [1] });
    expect(() => saveNewHistory(dir, 'deviceInstallWorkflow-x', { events: [2] }))
      .toThrow(`refusing to overwrite the recorded history ${file}`);
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ events: [1] });
  });
});
