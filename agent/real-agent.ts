/**
 * `patchflow agent --server URL --enroll TOKEN`: the agent an MSP installs on an endpoint. It enrolls
 * once, keeps what it needs in its state directory (default /var/lib/patchflow-agent, mode 0700):
 *
 * - agent.json (0600): the server URL, the pinned CA certificate, the device credential and the pinned
 *   command keys (updated when a trust_keys command rotates them);
 * - journal.jsonl: the command journal (agent/command-journal.ts);
 * - outbox.json: results finished but not yet delivered (agent/result-outbox.ts);
 *
 * then runs the agent loop (agent/agent-runner.ts) with the chosen executor until SIGTERM or SIGINT,
 * reconnecting with backoff and jitter whenever the server cannot be reached.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { problemWithKeyList, type PinnedCommandKey } from '../domain/command-envelope';
import { runAgent, type AgentLog } from './agent-runner';
import { AptExecutor } from './apt-executor';
import { FileCommandJournal } from './command-journal';
import { createWindowsUpdateExecutor } from './windows';
import type { DeviceExecutor } from './executor';
import { FileResultOutbox, writeFileDurably } from './result-outbox';
import { SimulatedWindowsDevice } from './simulated-device';
import { jitteredBackoffMs } from './timing';
import { checkTransport } from './transport';

/** Where the agent keeps its state: /var/lib/patchflow-agent, or %ProgramData%\Patchflow\Agent on Windows. */
export const DEFAULT_STATE_DIR = process.platform === 'win32'
  ? path.join(process.env.ProgramData ?? 'C:\\ProgramData', 'Patchflow', 'Agent')
  : '/var/lib/patchflow-agent';

export const agentConfigSchema = z.object({
  server: z.string().url(),
  caCert: z.string().min(1).optional(),
  deviceId: z.string().min(1).optional(),
  credential: z.string().min(1),
  commandKeys: z.array(z.object({ keyId: z.string().min(1), publicKey: z.string().min(1) })).min(1),
}).strict();
export type AgentConfig = z.infer<typeof agentConfigSchema>;

export class AgentConfigError extends Error {}

export interface RealAgentOptions {
  /** required unless the config file already holds an enrolled agent */
  server?: string;
  enrollmentToken?: string;
  /** default <stateDir>/agent.json */
  configFile?: string;
  /** PEM the https:// server must present (pinned into the config at enrollment) */
  caCert?: string;
  /** apt (Debian/Ubuntu), windows (Windows Update Agent), or a simulated Windows device */
  executor: 'apt' | 'windows' | 'simulate';
  stateDir: string;
  /** apt: run the package tools in this Debian root (chroot); default the machine itself */
  root?: string;
  allowInsecureHttp?: boolean;
  pollWaitSeconds?: number;
  log: AgentLog;
  signal: AbortSignal;
}

export function readAgentConfig(file: string): AgentConfig | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const st = fs.statSync(file);
  // POSIX mode bits only: on Windows the state folder's access list protects it (README "Windows agent").
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw new AgentConfigError(`${file} holds the device credential and is readable by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AgentConfigError(`${file} is not JSON: ${(err as Error).message}`);
  }
  const r = agentConfigSchema.safeParse(parsed);
  if (!r.success) throw new AgentConfigError(`${file}: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
  const keyProblem = problemWithKeyList(r.data.commandKeys);
  if (keyProblem) throw new AgentConfigError(`${file}: commandKeys: ${keyProblem}`);
  return r.data;
}

export function writeAgentConfig(file: string, config: AgentConfig): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileDurably(file, `${JSON.stringify(config, null, 2)}\n`, 0o600);
}

/** Runs until `signal` aborts; rejects when the server refuses the device for good or the setup is wrong. */
export async function runRealAgent(o: RealAgentOptions): Promise<void> {
  fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(o.stateDir, 0o700);
  const configFile = o.configFile ?? path.join(o.stateDir, 'agent.json');
  const saved = readAgentConfig(configFile);
  if (saved && o.server && o.server.replace(/\/+$/, '') !== saved.server.replace(/\/+$/, '')) {
    throw new AgentConfigError(`${configFile} is enrolled with ${saved.server}, not ${o.server}: remove it to enroll again`);
  }
  const server = saved?.server ?? o.server;
  if (!server) throw new AgentConfigError(`no server: give --server URL --enroll TOKEN (no enrolled agent in ${configFile})`);
  if (!saved && !o.enrollmentToken) throw new AgentConfigError(`not enrolled yet: give --enroll TOKEN (from \`patchflow devices create\`)`);
  const caCert = saved?.caCert ?? o.caCert;
  checkTransport(server, { caCert, allowInsecureHttp: o.allowInsecureHttp });

  const executor: DeviceExecutor = o.executor === 'apt'
    ? new AptExecutor({ stateDir: o.stateDir, root: o.root, log: o.log })
    : o.executor === 'windows'
      ? await createWindowsUpdateExecutor({ hostname: os.hostname(), stateDir: o.stateDir, journal: new FileCommandJournal(path.join(o.stateDir, 'journal.jsonl')) })
      : new SimulatedWindowsDevice({ id: 'local-simulated', sandboxDir: path.join(o.stateDir, 'sandbox'), stateFile: path.join(o.stateDir, 'simulated-device.json') });
  if (executor instanceof AptExecutor) for (const p of executor.journal.problems) o.log({ problem: p }, 'command journal damaged; the line is ignored');
  const outbox = new FileResultOutbox(path.join(o.stateDir, 'outbox.json'));
  if (outbox.problem) o.log({ problem: outbox.problem }, 'result outbox unreadable');

  let config: AgentConfig | undefined = saved;
  await runAgent({
    baseUrl: server,
    caCert,
    allowInsecureHttp: o.allowInsecureHttp,
    executor,
    outbox,
    credential: saved?.credential,
    commandKeys: saved?.commandKeys,
    enrollmentToken: saved ? undefined : o.enrollmentToken,
    pollWaitSeconds: o.pollWaitSeconds,
    backoff: (attempt) => jitteredBackoffMs(attempt),
    log: o.log,
    signal: o.signal,
    onEnrolled: (e) => {
      if (saved) return;
      config = { server, caCert, deviceId: e.deviceId, credential: e.credential, commandKeys: e.commandKeys };
      writeAgentConfig(configFile, config);
      o.log({ deviceId: e.deviceId, config: configFile }, 'enrolled; credential saved');
    },
    onCommandKeys: (keys: PinnedCommandKey[]) => {
      if (!config) return;
      config = { ...config, commandKeys: keys };
      writeAgentConfig(configFile, config);
    },
  });
}
