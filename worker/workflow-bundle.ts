/**
 * The workflow bundle: workflows/ (and the domain modules they import) as the one webpack bundle the
 * worker's sandbox runs. `npm run build` writes it once into dist/workflows/, as the Temporal samples
 * do for production, so a worker starts in a second instead of bundling for several, and every replica
 * runs byte-identical workflow code. Tests and benches build it through the same function.
 *
 * A bundle is only used while it matches the sources: beside it lies the digest of every file it was
 * built from, and a worker that finds a stale one says so and bundles afresh rather than run old code.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const root = path.resolve(__dirname, '..');

/** Where `npm run build` writes the bundle (and its digest, as `<bundle>.json`). */
export const DEFAULT_WORKFLOW_BUNDLE_PATH = path.join(root, 'dist', 'workflows', 'workflow-bundle.js');

/** The folders a bundle is built from: the workflows and the pure logic they import. */
const SOURCE_DIRS = ['workflows', 'domain'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** SHA-256 over the bundle's sources and the lock file (the SDK's version): equal digests, equal bundles. */
export function workflowSourceDigest(): string {
  const hash = crypto.createHash('sha256');
  const files = SOURCE_DIRS.flatMap((d) => sourceFiles(path.join(root, d))).sort();
  for (const f of files) hash.update(path.relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  hash.update(fs.readFileSync(path.join(root, 'package-lock.json')));
  return hash.digest('hex');
}

const quietLogger = { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} };

/** Bundles workflows/ now (several seconds of webpack); the code is what `workflowBundle.code` takes. */
export async function buildWorkflowBundle(): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: quietLogger as never });
  return code;
}

/** Builds and writes a bundle with its digest beside it; returns the digest. */
export async function writeWorkflowBundle(bundlePath: string = DEFAULT_WORKFLOW_BUNDLE_PATH): Promise<string> {
  const digest = workflowSourceDigest();
  const code = await buildWorkflowBundle();
  fs.mkdirSync(path.dirname(bundlePath), { recursive: true });
  fs.writeFileSync(bundlePath, code);
  fs.writeFileSync(`${bundlePath}.json`, `${JSON.stringify({ sourceDigest: digest, builtAt: new Date().toISOString() }, null, 2)}\n`);
  return digest;
}

export type BundleChoice =
  | { kind: 'prebuilt'; path: string }
  | { kind: 'build-at-start'; reason: string };

/**
 * Which bundle a worker should load. An explicitly named bundle (PATCHFLOW_WORKFLOW_BUNDLE) is used as
 * given, and must exist; otherwise `npm run build`'s bundle when its digest matches today's sources.
 */
export function chooseWorkflowBundle(explicitPath: string | undefined, defaultPath: string = DEFAULT_WORKFLOW_BUNDLE_PATH): BundleChoice {
  if (explicitPath) {
    if (!fs.existsSync(explicitPath)) throw new Error(`PATCHFLOW_WORKFLOW_BUNDLE names ${explicitPath}, which does not exist (run npm run build)`);
    return { kind: 'prebuilt', path: explicitPath };
  }
  if (!fs.existsSync(defaultPath)) return { kind: 'build-at-start', reason: 'no prebuilt bundle (npm run build writes one)' };
  let recorded: string | undefined;
  try {
    recorded = (JSON.parse(fs.readFileSync(`${defaultPath}.json`, 'utf8')) as { sourceDigest?: string }).sourceDigest;
  } catch {
    return { kind: 'build-at-start', reason: `the prebuilt bundle has no readable ${path.basename(defaultPath)}.json` };
  }
  if (recorded !== workflowSourceDigest()) return { kind: 'build-at-start', reason: 'the prebuilt bundle is older than the workflow sources (run npm run build)' };
  return { kind: 'prebuilt', path: defaultPath };
}
