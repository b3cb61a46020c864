import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseWorkflowBundle, workflowSourceDigest } from '../../worker/workflow-bundle';

describe('choosing the worker\'s workflow bundle', () => {
  let dir: string;
  let bundle: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-bundle-'));
    bundle = path.join(dir, 'workflow-bundle.js');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('uses a prebuilt bundle whose digest matches today\'s sources', () => {
    fs.writeFileSync(bundle, '/* code */');
    fs.writeFileSync(`${bundle}.json`, JSON.stringify({ sourceDigest: workflowSourceDigest() }));
    expect(chooseWorkflowBundle(undefined, bundle)).toEqual({ kind: 'prebuilt', path: bundle });
  });

  it('bundles at start, saying why, when the prebuilt bundle is stale, unstamped or missing', () => {
    expect(chooseWorkflowBundle(undefined, bundle)).toEqual({ kind: 'build-at-start', reason: expect.stringMatching(/no prebuilt bundle/) });
    fs.writeFileSync(bundle, '/* code */');
    expect(chooseWorkflowBundle(undefined, bundle)).toEqual({ kind: 'build-at-start', reason: expect.stringMatching(/no readable/) });
    fs.writeFileSync(`${bundle}.json`, JSON.stringify({ sourceDigest: 'f'.repeat(64) }));
    expect(chooseWorkflowBundle(undefined, bundle)).toEqual({ kind: 'build-at-start', reason: expect.stringMatching(/older than the workflow sources/) });
  });

  it('takes an explicitly named bundle as given, and refuses one that does not exist', () => {
    fs.writeFileSync(bundle, '/* code */');
    expect(chooseWorkflowBundle(bundle, path.join(dir, 'other.js'))).toEqual({ kind: 'prebuilt', path: bundle });
    expect(() => chooseWorkflowBundle(path.join(dir, 'missing.js'))).toThrow(/PATCHFLOW_WORKFLOW_BUNDLE names .*missing\.js, which does not exist/);
  });

  it('the digest is stable for the same sources', () => {
    expect(workflowSourceDigest()).toMatch(/^[0-9a-f]{64}$/);
    expect(workflowSourceDigest()).toBe(workflowSourceDigest());
  });
});
