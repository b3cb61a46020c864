#!/usr/bin/env node
// Builds the operators' dashboard (web/src, React) into web/dist with esbuild, which the project
// already installs (tsx runs on it): one bundle, no dev server, well under a second. Skipped when
// web/dist is newer than every source it is built from (web/src, and the API schemas and domain
// modules the dashboard imports so that its calls are typed by the API's own zod schemas).
// Plain Node: setup.js runs it after the npm packages are in place. `--force` rebuilds anyway.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'web', 'dist');
const stamp = path.join(out, '.built');
const sourceDirs = ['web/src', 'api', 'domain'].map((d) => path.join(root, d));

function newestMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function upToDate() {
  try {
    const built = fs.statSync(stamp).mtimeMs;
    return sourceDirs.every((d) => newestMtime(d) < built) && fs.statSync(__filename).mtimeMs < built;
  } catch { return false; }
}

async function buildWeb({ force = false, quiet = false } = {}) {
  if (!force && upToDate()) return { skipped: true };
  const esbuild = require('esbuild');
  const started = Date.now();
  fs.mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(root, 'web', 'src', 'main.tsx')],
    bundle: true,
    outdir: out,
    entryNames: 'app',
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    jsx: 'automatic',
    minify: true,
    sourcemap: true,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: quiet ? 'error' : 'warning',
  });
  fs.copyFileSync(path.join(root, 'web', 'src', 'index.html'), path.join(out, 'index.html'));
  fs.copyFileSync(path.join(root, 'web', 'src', 'styles.css'), path.join(out, 'styles.css'));
  fs.writeFileSync(stamp, new Date().toISOString());
  if (!quiet) console.error(`[setup] dashboard built into web/dist in ${Date.now() - started} ms`);
  return { skipped: false };
}

module.exports = { buildWeb };

if (require.main === module) {
  buildWeb({ force: process.argv.includes('--force') }).catch((err) => {
    console.error(`[build-web] failed: ${err.message}`);
    process.exit(1);
  });
}
