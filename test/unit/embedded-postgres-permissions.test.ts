import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { grantPostgresUserTraverse } from '../../db/embedded-postgres';

const modeOf = (p: string) => fs.statSync(p).mode & 0o7777;

describe('embedded PostgreSQL as root: folder permissions', () => {
  let root: string;
  beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-perm-')); });
  afterEach(() => { fs.rmSync(root, { recursive: true, force: true }); });

  test('a data folder directly under a 1777 folder (like /tmp) leaves that folder 1777, sticky bit included', () => {
    const shared = path.join(root, 'shared-tmp');
    fs.mkdirSync(shared);
    fs.chmodSync(shared, 0o1777);
    grantPostgresUserTraverse(path.join(shared, 'pg'));
    expect(modeOf(shared).toString(8)).toBe('1777');
  });

  test('a private parent (0700) gains traverse only (0701), and its private parent too', () => {
    const outer = path.join(root, 'outer');
    const inner = path.join(outer, 'inner');
    fs.mkdirSync(inner, { recursive: true });
    fs.chmodSync(inner, 0o700);
    fs.chmodSync(outer, 0o700);
    fs.chmodSync(root, 0o700);
    grantPostgresUserTraverse(path.join(inner, 'pg'));
    expect([modeOf(root), modeOf(outer), modeOf(inner)].map((m) => m.toString(8))).toEqual(['701', '701', '701']);
  });

  test('a mode is never lowered: 0775 stays 0775, and a missing parent is created', () => {
    const group = path.join(root, 'group');
    fs.mkdirSync(group);
    fs.chmodSync(group, 0o775);
    grantPostgresUserTraverse(path.join(group, 'new', 'pg'));
    expect(modeOf(group).toString(8)).toBe('775');
    expect(fs.existsSync(path.join(group, 'new'))).toBe(true);
    expect(modeOf(path.join(group, 'new')) & 0o001).toBe(0o001);
  });
});
