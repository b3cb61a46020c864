/**
 * The soak's fault proxy on 127.0.0.1, between the agents and the gateway (plain HTTP on loopback).
 * It forwards every request, and for a share of them throws the answer away after the gateway has
 * acted on it (the socket is destroyed instead of answering): result posts (the agent acted but never
 * hears back) and poll replies that carry commands (claimed, never delivered). It can also call back
 * when a device acknowledges a reboot, so the soak can kill that agent right then, and it keeps a
 * list of what it dropped (device and time) for the soak's recovery breakdown.
 *
 * It runs as cluster workers (bench/soak-proxy-child.ts) on one port: each agent holds two of the
 * proxy's descriptors (its connection and the upstream one), so 10,000 agents need more than one
 * process's open-file limit (proxyProcesses).
 */
import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { openFileLimit, proxyProcesses } from '../agent/fleet-budget';
import type { ProxyCommand, ProxyMessage, ProxyWorkerSettings } from './soak-proxy-child';

export interface FaultProxyOptions {
  target: string;
  /** share (0–1) of result posts whose answer is dropped */
  dropResults: number;
  /** share (0–1) of poll replies carrying commands that are dropped */
  dropPolls: number;
  seed: number;
  /** how many agents will connect through it: sets how many processes it needs */
  devices: number;
  /**
   * a device (by its credential's device id) posted `{ status: "acknowledged" }` for a reboot and the
   * gateway accepted it; when this returns a promise, the answer waits for it (the soak kills the agent
   * then, so it dies knowing nothing of the answer, as a machine that crashed right then would)
   */
  onRebootAcknowledged?: (deviceId: string) => void | Promise<void>;
}

/** One answer the proxy threw away (times in ms since the epoch), for the soak's recovery breakdown. */
export interface ProxyDrop {
  atMs: number;
  deviceId: string;
  kind: 'result' | 'poll';
}

export interface FaultProxy {
  url: string;
  /** its processes */
  processes: number;
  /** what was dropped so far (each drop is reported as it happens) */
  drops: ProxyDrop[];
  /** the counts now, asked of every process */
  counts(): Promise<{ forwarded: number; droppedResults: number; droppedPolls: number }>;
  /** while false, nothing is dropped (the fault-free run, and the drain after the timetable) */
  setActive(active: boolean): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(o: FaultProxyOptions): Promise<FaultProxy> {
  const n = proxyProcesses(o.devices, openFileLimit() ?? 1024);
  const drops: ProxyDrop[] = [];
  let nextId = 0;
  const countWaits = new Map<number, { left: number; forwarded: number; resolve: (forwarded: number) => void }>();
  cluster.setupPrimary({ exec: path.join(__dirname, 'soak-proxy-child.ts'), execArgv: ['--import', 'tsx'], args: [] });
  const workers: Worker[] = [];
  const ports: Promise<number>[] = [];
  for (let i = 0; i < n; i++) {
    const settings: ProxyWorkerSettings = { target: o.target, dropResults: o.dropResults, dropPolls: o.dropPolls, seed: o.seed + i, active: true };
    const worker = cluster.fork({ SOAK_PROXY_SETTINGS: JSON.stringify(settings) });
    workers.push(worker);
    ports.push(new Promise<number>((resolve, reject) => {
      worker.once('exit', (code) => reject(new Error(`soak proxy process ${i} exited (${code}) before it listened`)));
      worker.on('message', (m: ProxyMessage) => {
        if (m.t === 'listening') resolve(m.port);
        else if (m.t === 'drop') drops.push(m.drop);
        else if (m.t === 'reboot-acknowledged') {
          void Promise.resolve(o.onRebootAcknowledged?.(m.deviceId)).catch(() => undefined)
            .finally(() => { if (worker.isConnected()) worker.send({ t: 'go-on', id: m.id } satisfies ProxyCommand); });
        } else if (m.t === 'counts') {
          const wait = countWaits.get(m.id);
          if (!wait) return;
          wait.forwarded += m.forwarded;
          if (--wait.left === 0) { countWaits.delete(m.id); wait.resolve(wait.forwarded); }
        }
      });
    }));
  }
  const [port] = await Promise.all(ports);
  const broadcast = (c: ProxyCommand) => { for (const w of workers) if (w.isConnected()) w.send(c); };
  return {
    url: `http://127.0.0.1:${port}`,
    processes: n,
    drops,
    counts: async () => {
      const id = nextId++;
      const forwarded = await new Promise<number>((resolve) => {
        countWaits.set(id, { left: workers.length, forwarded: 0, resolve });
        broadcast({ t: 'counts', id });
      });
      return { forwarded, droppedResults: drops.filter((d) => d.kind === 'result').length, droppedPolls: drops.filter((d) => d.kind === 'poll').length };
    },
    setActive: (active) => broadcast({ t: 'active', active }),
    stop: async () => {
      await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        w.once('exit', () => resolve());
        w.process.kill('SIGKILL');
      })));
    },
  };
}
