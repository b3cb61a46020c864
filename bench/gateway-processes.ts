import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { devCertificateDir } from '../config/tls';
import { freePort } from '../db/embedded-postgres';
import type { DevStack } from '../dev/stack';
import { BENCH_API_KEY } from './bench-stack';

/**
 * `npm run bench -- gateway --gateway-processes N`: the production API process (api/main.ts) with
 * GATEWAY_PROCESSES=N (node:cluster, one port), on the bench stack's PostgreSQL, Temporal, dev
 * certificate and command key, so the load goes to it instead of the bench process's own gateway.
 * Resolves once all N processes listen; `stop()` ends them (SIGTERM, then SIGKILL after 10 s).
 */
export async function startGatewayProcesses(stack: DevStack, scratch: string, processes: number): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const port = await freePort();
  const tlsDir = devCertificateDir(path.resolve(scratch));
  const env = {
    ...process.env,
    DATABASE_URL: stack.databaseUrl, TEMPORAL_ADDRESS: stack.temporalAddress, PORT: String(port), GATEWAY_PROCESSES: String(processes),
    TLS_CERT_PATH: path.join(tlsDir, 'dev-cert.pem'), TLS_KEY_PATH: path.join(tlsDir, 'dev-key.pem'),
    COMMAND_SIGNING_KEY_PATH: path.join(path.resolve(scratch), 'command-signing-key.pem'),
    PATCHFLOW_API_KEY: BENCH_API_KEY, DATA_DIR: scratch, REPORTS_DIR: path.join(scratch, 'reports'), LOG_LEVEL: 'warn',
  };
  const child: ChildProcess = fork(path.join(__dirname, '..', 'api', 'main.ts'), [], { env, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    let listening = 0;
    const timer = setTimeout(() => reject(new Error(`api/main.ts with ${processes} gateway processes did not listen within 120 s`)), 120_000);
    child.on('message', (m: { listening?: string }) => {
      if (m.listening && ++listening === processes) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`api/main.ts exited (${code}) before listening`)); });
  });
  return {
    url: `https://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    },
  };
}
