/**
 * Real, separate Patchflow processes for the benches that need them (the soak, the open-workflows
 * bench): `node --import tsx <script>` with its own environment and log file, stopped with -9 as a
 * crashed host would be, and the API's /healthz to wait on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Proc { name: string; child: ChildProcess; exited: Promise<void> }

/**
 * Starts `script` (relative to the repository root) in a new Node process; `env` is laid over this
 * process's environment; stdout and stderr are appended to `logFile`. `nodeArgs` go before the
 * script (e.g. `--max-old-space-size=1024`). `ipc`: a channel for the messages it sends (api/main.ts
 * says `{ listening }` once per gateway process).
 */
export function startProcess(name: string, script: string, env: NodeJS.ProcessEnv, logFile: string, nodeArgs: string[] = [], options: { ipc?: boolean } = {}): Proc {
  const out = fs.openSync(logFile, 'a');
  const prof = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...prof, ...nodeArgs, '--import', 'tsx', path.join(ROOT, script)], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: options.ipc ? ['ignore', out, out, 'ipc'] : ['ignore', out, out],
  });
  fs.closeSync(out);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { name, child, exited };
}

export async function kill9(p: Proc): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`: the way a bench ends what it started. */
export async function stopProcess(p: Proc, graceMs = 10_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await p.exited;
  clearTimeout(timer);
}

/** Waits until the API at `url` answers /healthz (it runs migrations and reconciles schedules first); `get`: a fetch pinning its certificate. */
export async function waitHealthy(url: string, ms = 120_000, get: typeof fetch = fetch): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if ((await get(`${url}/healthz`)).ok) return;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`the API at ${url} did not answer /healthz within ${ms / 1000} s`);
    await sleep(500);
  }
}
