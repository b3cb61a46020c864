#!/usr/bin/env node
// Bundles the operators' CLI (cli/main.ts and everything it imports, npm packages included) into one
// CommonJS file with esbuild, so that `npx patchflow …` starts in a fraction of a second instead of
// compiling TypeScript through tsx on every call (about 2 s). cli/bin.js runs the bundle only while
// it is newer than every file it was built from (dist/cli/inputs.json lists them), else it falls back
// to tsx: an edited source is never run from a stale bundle. Plain Node: setup.js runs it after the
// npm packages are in place. `--force` rebuilds anyway.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'dist', 'cli');
const bundle = path.join(out, 'patchflow.cjs');
const manifest = path.join(out, 'inputs.json');

/** The repo's own sources in the bundle, and package-lock.json for the npm packages in it. */
function upToDate() {
  try {
    const built = fs.statSync(bundle).mtimeMs;
    const inputs = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    return [...inputs, path.relative(root, __filename)].every((f) => fs.statSync(path.join(root, f)).mtimeMs <= built);
  } catch {
    return false;
  }
}

async function buildCli({ force = false, quiet = false } = {}) {
  if (!force && upToDate()) return { skipped: true };
  const esbuild = require('esbuild');
  const started = Date.now();
  fs.mkdirSync(out, { recursive: true });
  const tmp = `${bundle}.${process.pid}.tmp`;
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [path.join(root, 'cli', 'main.ts')],
    bundle: true,
    outfile: tmp,
    format: 'cjs',
    platform: 'node',
    target: ['node20'],
    // Whitespace and syntax only: identifiers stay readable in a stack trace of an unexpected error.
    minifyWhitespace: true,
    minifySyntax: true,
    metafile: true,
    logLevel: quiet ? 'error' : 'warning',
  });
  // Sources as paths under the repo; npm packages (node_modules may be a symlink) are covered by the lock file.
  const own = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules')).map((f) => path.relative(root, path.resolve(root, f)));
  fs.writeFileSync(manifest, `${JSON.stringify([...own.sort(), 'package-lock.json'], null, 1)}\n`);
  // The bundle is dated when the build began: a source saved while esbuild ran counts as newer.
  const began = new Date(started);
  fs.utimesSync(tmp, began, began);
  fs.renameSync(tmp, bundle); // a CLI starting meanwhile runs the old bundle or the new one, never half of one
  if (!quiet) console.error(`[setup] CLI bundled into dist/cli/patchflow.cjs in ${Date.now() - started} ms`);
  return { skipped: false, bundle, inputs: own.length };
}

module.exports = { buildCli, upToDate, bundle, manifest };

if (require.main === module) {
  buildCli({ force: process.argv.includes('--force') }).catch((err) => {
    console.error(`[build-cli] failed: ${err.message}`);
    process.exit(1);
  });
}
