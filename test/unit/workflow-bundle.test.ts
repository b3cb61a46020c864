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

/**
 * The worker's reusable V8 context evaluates every workflow module (and what it imports) once per
 * cached workflow; zod cost about 750 KiB each (README "Benchmarks", open-workflows). Its schemas live
 * in *-schema.ts modules that workflow code never reaches. This follows the value imports from the
 * bundle's entry point (an import of types only is erased and does not count).
 */
describe('the workflow bundle', () => {
  const root = path.resolve(__dirname, '..', '..');
  const valueImports = (file: string): string[] => {
    const text = fs.readFileSync(file, 'utf8');
    const out: string[] = [];
    for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)'/gms)) {
      const [, typeOnly, what, from] = m;
      const braces = /^\{([^}]*)\}$/s.exec(what!.trim())?.[1];
      const onlyTypes = braces !== undefined && braces.split(',').map((s) => s.trim()).filter(Boolean).every((n) => n.startsWith('type '));
      if (typeOnly || onlyTypes) continue;
      out.push(from!);
    }
    for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) out.push(m[1]!);
    return out;
  };

  it('reaches no zod from workflows/ (the schemas stay in *-schema.ts modules)', () => {
    const seen = new Map<string, string>();
    const queue = [path.join(root, 'workflows', 'index.ts')];
    const zodFrom: string[] = [];
    while (queue.length) {
      const file = queue.pop()!;
      for (const spec of valueImports(file)) {
        if (spec === 'zod' || spec.startsWith('zod/')) zodFrom.push(path.relative(root, file));
        if (!spec.startsWith('.')) continue;
        const base = path.resolve(path.dirname(file), spec);
        const target = [`${base}.ts`, path.join(base, 'index.ts')].find((f) => fs.existsSync(f));
        if (target && !seen.has(target)) {
          seen.set(target, file);
          queue.push(target);
        }
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(zodFrom).toEqual([]);
  });
});
