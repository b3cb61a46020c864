import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { guardPosixFolder } from '../../agent/folder-guard';
import { FolderRole, posixOwnershipProblem, type PosixPathComponent } from '../../domain/folders';

const dir = (p: string, uid: number, perm: number): PosixPathComponent => ({ path: p, uid, mode: 0o40000 | perm, isDirectory: true, isSymbolicLink: false });

describe('posixOwnershipProblem (pure)', () => {
  const ok = [dir('/', 0, 0o755), dir('/var', 0, 0o755), dir('/var/lib/patchflow', 0, 0o755), dir('/var/lib/patchflow/working', 0, 0o700)];
  test('root-owned, not writable by others: fine', () => expect(posixOwnershipProblem(ok, 0)).toBeUndefined());
  test('owned by the agent\'s own user: fine', () => expect(posixOwnershipProblem([...ok.slice(0, 3), dir('/var/lib/patchflow/working', 998, 0o700)], 998)).toBeUndefined());
  test('a component owned by another user', () =>
    expect(posixOwnershipProblem([...ok.slice(0, 2), dir('/var/lib/patchflow', 1000, 0o755), ok[3]!], 0)?.rule).toBe('foreign-owner'));
  test('the folder writable by its group or by everyone', () => {
    expect(posixOwnershipProblem([...ok.slice(0, 3), dir('/var/lib/patchflow/working', 0, 0o770)], 0)?.rule).toBe('writable-by-others');
    expect(posixOwnershipProblem([...ok.slice(0, 3), dir('/var/lib/patchflow/working', 0, 0o1777)], 0)?.rule).toBe('writable-by-others');
  });
  test('a world-writable parent only when sticky and owned by root or the agent', () => {
    expect(posixOwnershipProblem([dir('/', 0, 0o755), dir('/tmp', 0, 0o1777), dir('/tmp/pf', 0, 0o700)], 0)).toBeUndefined();
    expect(posixOwnershipProblem([dir('/', 0, 0o755), dir('/tmp', 0, 0o777), dir('/tmp/pf', 0, 0o700)], 0)?.rule).toBe('writable-by-others');
    expect(posixOwnershipProblem([dir('/', 0, 0o755), dir('/tmp', 1000, 0o1777), dir('/tmp/pf', 0, 0o700)], 0)?.rule).toBe('foreign-owner');
  });
  test('a symbolic link or a file on the way', () => {
    expect(posixOwnershipProblem([dir('/', 0, 0o755), { ...dir('/x', 0, 0o777), isSymbolicLink: true }], 0)?.rule).toBe('not-directory');
    expect(posixOwnershipProblem([dir('/', 0, 0o755), { ...dir('/x', 0, 0o644), isDirectory: false }], 0)?.rule).toBe('not-directory');
  });
});

const asRoot = process.getuid?.() === 0 ? describe : describe.skip;

asRoot('guardPosixFolder on the real file system (a device root in a temp folder)', () => {
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-guard-'));
    fs.mkdirSync(path.join(root, 'etc'), { mode: 0o755 });
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  test('creates a missing folder 0700 and answers its real path', async () => {
    const r = await guardPosixFolder('/var/lib/patchflow/working', FolderRole.Working, { root });
    expect(r).toEqual({ ok: true, folder: { canonical: '/var/lib/patchflow/working', local: path.join(root, 'var/lib/patchflow/working') } });
    expect(fs.statSync(path.join(root, 'var/lib/patchflow/working')).mode & 0o777).toBe(0o700);
  });
  test('refuses a system folder before touching the disk', async () => {
    const r = await guardPosixFolder('/etc/apt', FolderRole.Working, { root });
    expect(r).toMatchObject({ ok: false, problem: { rule: 'protected' } });
    expect(fs.existsSync(path.join(root, 'etc/apt'))).toBe(false);
  });
  test('refuses a folder another user owns, or can write to', async () => {
    fs.mkdirSync(path.join(root, 'srv/pf'), { recursive: true });
    fs.chownSync(path.join(root, 'srv/pf'), 1000, 1000);
    expect(await guardPosixFolder('/srv/pf/working', FolderRole.Working, { root })).toMatchObject({ ok: false, problem: { rule: 'foreign-owner' } });
    fs.mkdirSync(path.join(root, 'opt/pf'), { recursive: true });
    fs.chmodSync(path.join(root, 'opt/pf'), 0o777);
    expect(await guardPosixFolder('/opt/pf', FolderRole.Install, { root })).toMatchObject({ ok: false, problem: { rule: 'writable-by-others' } });
    expect(fs.readdirSync(path.join(root, 'opt/pf'))).toEqual([]);
  });
  test('refuses a link that leads to a system folder', async () => {
    fs.mkdirSync(path.join(root, 'srv'), { mode: 0o755 });
    fs.symlinkSync('../etc', path.join(root, 'srv', 'working'));
    expect(await guardPosixFolder('/srv/working', FolderRole.Working, { root })).toMatchObject({ ok: false, problem: { rule: 'protected' } });
  });
});
