/**
 * A simulated fleet spread over child processes (agent/fleet-child.ts), so a benchmark or soak measures
 * Patchflow and not one Node process running ten thousand agents. Each child runs a share of the
 * agents under a file-descriptor budget (agent/fleet-budget.ts) with one pooled HTTP connection pool.
 * A child can be killed (-9) and started again: it comes back with the credentials its agents enrolled
 * with, and with their on-disk state and outboxes when the members name files for them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import type { PinnedCommandKey } from '../domain/command-envelope';
import { openFileLimit, planFleet } from './fleet-budget';
import type { ChildFleetMember, ChildFleetOptions, FleetChildMessage, FleetParentMessage } from './fleet-messages';

export type { ChildFleetMember } from './fleet-messages';

export interface FleetProcessesOptions extends Omit<ChildFleetOptions, 'members'> {
  members: ChildFleetMember[];
  /** exactly this many child processes (an error naming `ulimit -n` when they cannot hold the fleet); default: one per core, more when the budget needs them */
  processes?: number;
  /** the open-file limit each child gets; default: this process's (children inherit it) */
  fdLimit?: number;
  /** a line for each agent that stopped on its own (a refused token or credential) */
  onAgentError?: (device: string, message: string) => void;
}

export interface FleetProcessAgent {
  deviceId?: string;
  credential?: string;
  commandKeys?: PinnedCommandKey[];
}

export interface FleetProcesses {
  /** one per member, in order, filled in as they enroll */
  agents: FleetProcessAgent[];
  /** the members each child runs, by index into `agents` */
  shares: number[][];
  /** resolves once every agent has enrolled; rejects when a child reports an agent that could not */
  ready: Promise<void>;
  pids(): number[];
  /** kill -9 child `i` (its agents vanish mid-request, as a crashed machine's would) */
  kill(i: number): Promise<void>;
  /** starts child `i` again with its members' credentials; resolves when its agents are back */
  restart(i: number): Promise<void>;
  /** stops every child (aborting open polls) and waits for them to exit */
  stop(): Promise<void>;
}

const CHILD = path.join(__dirname, 'fleet-child.ts');

interface Child {
  proc: ChildProcess;
  exited: Promise<void>;
  ready: Promise<void>;
}

export function startFleetProcesses(options: FleetProcessesOptions): FleetProcesses {
  const fdLimit = options.fdLimit ?? openFileLimit() ?? 1024;
  const plan = planFleet({ devices: options.members.length, fdLimit, processes: options.processes, minProcesses: Math.min(os.cpus().length, Math.ceil(options.members.length / 1000)) });
  const agents: FleetProcessAgent[] = options.members.map((m) => ({ credential: m.credential, commandKeys: m.commandKeys }));
  const shares: number[][] = [];
  let next = 0;
  for (const n of plan.shares) {
    shares.push(Array.from({ length: n }, (_, k) => next + k));
    next += n;
  }
  const children: Child[] = [];

  const spawn = (i: number): Child => {
    const indices = shares[i]!;
    const members: ChildFleetMember[] = indices.map((idx) => {
      const m = options.members[idx]!;
      const a = agents[idx]!;
      // After the first start: the credential it enrolled with (the token is spent).
      return a.credential ? { ...m, enrollmentToken: undefined, credential: a.credential, commandKeys: a.commandKeys } : m;
    });
    const proc = fork(CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const ready = new Promise<void>((resolve, reject) => {
      proc.on('message', (raw: unknown) => {
        const m = raw as FleetChildMessage;
        if (m.type === 'hello') {
          const start: FleetParentMessage = { type: 'start', options: { baseUrl: options.baseUrl, caCert: options.caCert, allowInsecureHttp: options.allowInsecureHttp, pollWaitSeconds: options.pollWaitSeconds, members } };
          proc.send(start);
        } else if (m.type === 'enrolled') {
          const a = agents[indices[m.index]!]!;
          a.deviceId ??= m.deviceId;
          a.credential = m.credential;
          a.commandKeys = m.commandKeys;
        } else if (m.type === 'ready') resolve();
        else if (m.type === 'failed') reject(new Error(`fleet process ${i} (pid ${proc.pid}): ${m.message}`));
        else if (m.type === 'agent-error') options.onAgentError?.(m.device, m.message);
      });
      proc.once('exit', (code, signal) => reject(new Error(`fleet process ${i} (pid ${proc.pid}) exited (${signal ?? code}) before its agents were ready`)));
    });
    ready.catch(() => undefined);
    return { proc, exited, ready };
  };

  for (let i = 0; i < shares.length; i++) children.push(spawn(i));
  const ready = Promise.all(children.map((c) => c.ready)).then(() => undefined);
  ready.catch(() => undefined);

  const stopChild = async (c: Child) => {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
    if (c.proc.connected) c.proc.send({ type: 'stop' } satisfies FleetParentMessage);
    // A child that does not stop within 15 s (a stuck request) is killed.
    const timer = setTimeout(() => c.proc.kill('SIGKILL'), 15_000);
    await c.exited;
    clearTimeout(timer);
  };

  return {
    agents,
    shares,
    ready,
    pids: () => children.map((c) => c.proc.pid!).filter((p) => p !== undefined),
    async kill(i) {
      const c = children[i]!;
      c.proc.kill('SIGKILL');
      await c.exited;
    },
    async restart(i) {
      await stopChild(children[i]!);
      children[i] = spawn(i);
      await children[i]!.ready;
    },
    async stop() {
      await Promise.all(children.map(stopChild));
    },
  };
}
