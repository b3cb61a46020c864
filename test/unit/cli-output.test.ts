import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseApprovalStatus, parseScope, parseSwitch, UsageError } from '../../cli/format';
import { DEFAULT_API_URL, readLocalApi, removeLocalApi, resolveApiTarget, writeLocalApi } from '../../cli/local-api';
import { renderOutput, renderStreamItem, resolveOutputMode } from '../../cli/output';
import { installText } from '../../cli/views';
import type { InstallView } from '../../api/install-service';

describe('output modes (-o text|json|jsonl, --json)', () => {
  it.each([
    [undefined, undefined, 'text'],
    ['text', undefined, 'text'],
    ['json', undefined, 'json'],
    ['JSONL', undefined, 'jsonl'],
    [undefined, true, 'json'],
    ['json', true, 'json'],
    ['', undefined, 'text'],
  ] as const)('-o %p with --json %p is %p', (output, json, mode) => {
    expect(resolveOutputMode(output, json)).toBe(mode);
  });

  it('refuses an unknown mode, and --json with another mode, naming both', () => {
    expect(() => resolveOutputMode('xml', undefined)).toThrow(new UsageError('-o/--output must be one of text, json, jsonl, got "xml"'));
    expect(() => resolveOutputMode('jsonl', true)).toThrow(/--json is -o json; it cannot go with -o jsonl/);
  });

  const rows = [{ id: 'a', n: 1 }, { id: 'b', n: 2 }];
  const text = (r: typeof rows) => r.map((x) => x.id).join(',');

  it('text renders, json is one indented document, jsonl is one compact line per row', () => {
    expect(renderOutput('text', rows, text)).toBe('a,b');
    expect(JSON.parse(renderOutput('json', rows, text)!)).toEqual(rows);
    expect(renderOutput('json', rows, text)).toContain('\n  {');
    expect(renderOutput('jsonl', rows, text)!.split('\n')).toEqual(['{"id":"a","n":1}', '{"id":"b","n":2}']);
  });

  it('jsonl of an object is one line, of an empty list nothing (wc -l counts rows)', () => {
    expect(renderOutput('jsonl', { ok: true, nested: { x: [1, 2] } }, () => 'x')).toBe('{"ok":true,"nested":{"x":[1,2]}}');
    expect(renderOutput('jsonl', [], () => 'no rows')).toBeUndefined();
    expect(renderOutput('text', [], () => 'no rows')).toBe('no rows');
  });

  it('a stream item is one line in jsonl and a document in json', () => {
    expect(renderStreamItem('jsonl', { a: { b: 1 } }, () => 't')).toBe('{"a":{"b":1}}');
    expect(renderStreamItem('json', { a: 1 }, () => 't')).toBe('{\n  "a": 1\n}');
    expect(renderStreamItem('text', { a: 1 }, () => 't')).toBe('t');
  });
});

describe('argument checks of the console commands', () => {
  const id = '0b6c9a38-3f55-4a44-9d2e-6a1f1b3c2d4e';
  it.each([
    ['all', { scopeType: 'all', scopeId: '' }],
    [`site:${id.toUpperCase()}`, { scopeType: 'site', scopeId: id }],
    ['device-type:Server', { scopeType: 'device_type', scopeId: 'server' }],
    [`client:${id}`, { scopeType: 'client', scopeId: id }],
  ])('scope %p', (value, scope) => {
    expect(parseScope(value, '--scope', ['all', 'site', 'client', 'device_type'])).toEqual(scope);
  });

  it.each([
    ['policy:x', /--scope must be one of all, site:<id>, device_type:server\|workstation/],
    ['site', /--scope: site needs an id/],
    ['site:nope', /--scope site id must be a UUID, got "nope"/],
    ['all:x', /"all" takes no id/],
    ['device_type:laptop', /must be server or workstation, got "laptop"/],
  ])('refuses scope %p', (value, message) => {
    expect(() => parseScope(value, '--scope', ['all', 'site', 'device_type'])).toThrow(message);
  });

  it('approval statuses and switches as the console says them', () => {
    expect(parseApprovalStatus('Pending', '--status')).toBe('pending_approval');
    expect(parseApprovalStatus('pending-approval', '--status')).toBe('pending_approval');
    expect(parseApprovalStatus('DENIED', '--status')).toBe('denied');
    expect(() => parseApprovalStatus('maybe', '--status')).toThrow('--status must be approved, denied or pending_approval, got "maybe"');
    expect(parseSwitch('on', '--x')).toBe(true);
    expect(parseSwitch('No', '--x')).toBe(false);
    expect(() => parseSwitch('sometimes', '--deny-superseded')).toThrow('--deny-superseded must be on or off');
  });
});

describe('install show', () => {
  it('shows what approval left out, superseded patches, skipped reboots and removals', () => {
    const view = {
      workflowId: 'install/d/k', status: 'COMPLETED', startedAt: null, closedAt: null, failure: null, progress: null,
      result: {
        outcome: 'succeeded', step: 'done', cleanup: null, cancelRequested: false, rebooted: false, skippedKbs: [],
        patches: [{ updateId: 'u1', kb: 'KB5035857', title: 'Cumulative', status: 'installed' }],
        refused: [{ updateId: 'u2', kb: 'KB890830', decision: 'ignored', reason: 'Ignore set at site Leeds' }],
        supersededKbs: ['KB5034129'],
        removals: [{ updateId: 'u3', kb: 'KB5001', title: 'Old fix', status: 'missing' }],
        rebootSkipped: 'a user is logged on',
      },
    } as unknown as InstallView;
    const text = installText(view);
    expect(text).toMatch(/Superseded\s+KB5034129 \(skipped: a successor installs in this run\)/);
    expect(text).toMatch(/Reboot skipped\s+a user is logged on/);
    expect(text).toMatch(/Not installed \(approval\):\nKB\s+DECISION\s+WHY\nKB890830\s+ignored\s+Ignore set at site Leeds/);
    expect(text).toMatch(/Uninstalled:\nKB .*\nKB5001\s+Old fix\s+missing/);
  });
});

describe('finding the API npm start started (DATA_DIR/api.json)', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-local-api-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('is written mode 0600 and read back; an explicit URL wins, and gets the certificate only for the same server', () => {
    const file = writeLocalApi(dir, { url: 'https://127.0.0.1:41234', caCertPath: '/x/dev-cert.pem' });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(readLocalApi(dir)).toEqual({ url: 'https://127.0.0.1:41234', caCertPath: '/x/dev-cert.pem' });
    expect(resolveApiTarget(undefined, dir)).toEqual({ url: 'https://127.0.0.1:41234', caCertPath: '/x/dev-cert.pem', source: 'api.json' });
    expect(resolveApiTarget('https://127.0.0.1:41234/', dir).caCertPath).toBe('/x/dev-cert.pem');
    expect(resolveApiTarget('https://other.example:443', dir)).toEqual({ url: 'https://other.example:443', caCertPath: undefined, source: 'option' });
  });

  it('without the file: the default URL; a broken file is an error naming it', () => {
    expect(resolveApiTarget(undefined, dir)).toEqual({ url: DEFAULT_API_URL, source: 'default' });
    fs.writeFileSync(path.join(dir, 'api.json'), '{"url": 3000}');
    expect(() => resolveApiTarget(undefined, dir)).toThrow(/api\.json is not an address file of npm start .*delete it, or pass --api-url/);
    fs.writeFileSync(path.join(dir, 'api.json'), 'not json');
    expect(() => readLocalApi(dir)).toThrow(/api\.json is not JSON/);
  });

  it('is removed at shutdown only while it still names this server', () => {
    writeLocalApi(dir, { url: 'https://127.0.0.1:2' });
    removeLocalApi(dir, 'https://127.0.0.1:1');
    expect(readLocalApi(dir)?.url).toBe('https://127.0.0.1:2');
    removeLocalApi(dir, 'https://127.0.0.1:2');
    expect(readLocalApi(dir)).toBeUndefined();
  });
});

describe('errors: on stderr, exit 1, nothing on stdout', () => {
  const ROOT = path.resolve(__dirname, '../..');
  // As operators run it: the bundle when it is fresh, else from source through tsx.
  // None of the caller's PATCHFLOW_* settings: each case sets what it tests.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PATCHFLOW_')));
  const run = (args: string[], env: Record<string, string> = {}) => spawnSync(process.execPath, [path.join(ROOT, 'cli', 'bin.js'), ...args], {
    cwd: os.tmpdir(), encoding: 'utf8', env: { ...clean, DATA_DIR: path.join(os.tmpdir(), 'pf-no-data'), ...env }, timeout: 60_000,
  });

  it.each([
    [['-o', 'yaml', 'clients', 'list'], /argument 'yaml' is invalid\. Allowed choices are text, json, jsonl/],
    [['--json', '-o', 'jsonl', 'clients', 'list'], /^error: --json is -o json; it cannot go with -o jsonl/],
    [['policies', 'show', 'not-a-uuid', '--api-key', 'k'.repeat(20)], /^error: policy id must be a UUID, got "not-a-uuid"/],
    [['clients', 'list', '--api-url', 'http://127.0.0.1:9', '--api-key', 'k'.repeat(20)], /^error: cannot reach the Patchflow API at http:\/\/127\.0\.0\.1:9/],
    [['clients', 'list'], /^error: no API key/],
  ])('%p', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
  });

  it('PATCHFLOW_OUTPUT sets the mode (and is checked like -o)', () => {
    const r = run(['clients', 'list'], { PATCHFLOW_OUTPUT: 'yaml' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/value 'yaml' from env 'PATCHFLOW_OUTPUT' is invalid/);
  });
});
