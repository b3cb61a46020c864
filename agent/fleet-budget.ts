import fs from 'node:fs';

/**
 * File descriptors one simulated agent can hold at once: its long poll, a result or progress post
 * beside it (pooled sockets are reused, so this is the peak, not the sum), and a state or outbox file
 * being replaced.
 */
export const FDS_PER_AGENT = 3;
/** Descriptors a fleet process needs before its first agent: Node itself, stdio, IPC, libuv, the TLS context. */
export const FDS_RESERVED_PER_PROCESS = 128;
/** Descriptors the gateway process needs beside one socket per polling agent: PostgreSQL, Temporal, the worker, logs. */
export const FDS_RESERVED_FOR_GATEWAY = 512;

/** Descriptors a proxy in front of the gateway holds per agent: the agent's connection and its own upstream. */
export const FDS_PER_PROXIED_AGENT = 2;

/**
 * How many processes a proxy between `devices` agents and the gateway needs to stay inside `fdLimit`
 * (each agent's connection and its upstream, with a fifth of the limit kept spare: connections of
 * agents that restart linger a moment). The 10,000-device soak's proxy, in one process, died of
 * EMFILE at 20,000 open files.
 */
export function proxyProcesses(devices: number, fdLimit: number): number {
  const perProcess = Math.floor((fdLimit * 0.8 - FDS_RESERVED_PER_PROCESS) / FDS_PER_PROXIED_AGENT);
  if (perProcess < 1) throw new FleetBudgetError(`the open-file limit (ulimit -n) is ${fdLimit}: too low for a proxy process; raise it (e.g. ulimit -n 65536)`);
  return Math.max(1, Math.ceil(devices / perProcess));
}

/** Thrown when the fleet (or the gateway that serves it) cannot fit in the open-file limit. */
export class FleetBudgetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FleetBudgetError';
  }
}

/**
 * The soft open-file limit of this process (children inherit it), from /proc/self/limits; undefined
 * where there is none (not Linux).
 */
export function openFileLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = fs.readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(text);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

export interface FleetPlan {
  /** how many agents each child process runs, in order (they differ by at most one) */
  shares: number[];
  /** the most agents one process may run under the limit */
  agentsPerProcessMax: number;
}

/**
 * Splits `devices` agents over child processes so each stays inside `fdLimit`: at least `processes`
 * (when given, exactly that many, and an error if they cannot hold the fleet), else as many as the
 * budget needs, and never fewer than `minProcesses`.
 */
export function planFleet(o: { devices: number; fdLimit: number; processes?: number; minProcesses?: number }): FleetPlan {
  const agentsPerProcessMax = Math.floor((o.fdLimit - FDS_RESERVED_PER_PROCESS) / FDS_PER_AGENT);
  if (agentsPerProcessMax < 1) {
    throw new FleetBudgetError(
      `the open-file limit (ulimit -n) is ${o.fdLimit}: a fleet process needs ${FDS_RESERVED_PER_PROCESS + FDS_PER_AGENT} for even one agent; raise it (e.g. ulimit -n 65536)`,
    );
  }
  const needed = Math.ceil(o.devices / agentsPerProcessMax);
  if (o.processes !== undefined && o.processes < needed) {
    throw new FleetBudgetError(
      `${o.devices} agents in ${o.processes} process(es) need ${Math.ceil(o.devices / o.processes) * FDS_PER_AGENT + FDS_RESERVED_PER_PROCESS} open files each, `
      + `but ulimit -n is ${o.fdLimit} (${agentsPerProcessMax} agents per process): use ${needed} processes or raise ulimit -n`,
    );
  }
  const count = Math.max(1, Math.min(o.devices, o.processes ?? Math.max(needed, o.minProcesses ?? 1)));
  const shares = Array.from({ length: count }, (_, i) => Math.floor(o.devices / count) + (i < o.devices % count ? 1 : 0));
  return { shares, agentsPerProcessMax };
}

/**
 * The gateway holds one socket per polling agent: refuses, naming `ulimit -n`, a fleet larger than the
 * process serving it can accept (the 10,000-device bench once died of TooManyOpenFiles there).
 */
export function checkGatewayBudget(devices: number, fdLimit: number | undefined): void {
  if (fdLimit === undefined) return;
  const need = devices + FDS_RESERVED_FOR_GATEWAY;
  if (need > fdLimit) {
    throw new FleetBudgetError(
      `the gateway needs about ${need} open files for ${devices} polling agents, but ulimit -n is ${fdLimit}: raise it (ulimit -n ${Math.max(65536, need * 2)}) or run fewer devices`,
    );
  }
}
