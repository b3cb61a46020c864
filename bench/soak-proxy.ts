/**
 * The soak's fault proxy on 127.0.0.1, between the agents and the gateway (plain HTTP on loopback).
 * It forwards every request, and for a share of them throws the answer away after the gateway has
 * acted on it (the socket is destroyed instead of answering): result posts (the agent acted but never
 * hears back) and poll replies that carry commands (claimed, never delivered). It can also call back
 * when a device acknowledges a reboot, so the soak can kill that agent right then, and it keeps a
 * list of what it dropped (device and time) for the soak's recovery breakdown.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mulberry32 } from '../agent/prng';

export interface FaultProxyOptions {
  target: string;
  /** share (0–1) of result posts whose answer is dropped */
  dropResults: number;
  /** share (0–1) of poll replies carrying commands that are dropped */
  dropPolls: number;
  seed: number;
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
  counts: { forwarded: number; droppedResults: number; droppedPolls: number };
  drops: ProxyDrop[];
  /** while false, nothing is dropped (the fault-free run, and the drain after the timetable) */
  setActive(active: boolean): void;
  stop(): Promise<void>;
}

const deviceIdOf = (authorization: string | undefined) => /^Bearer\s+([0-9a-f-]{36})\./i.exec(authorization ?? '')?.[1] ?? '';

export async function startFaultProxy(o: FaultProxyOptions): Promise<FaultProxy> {
  const random = mulberry32(o.seed);
  const counts = { forwarded: 0, droppedResults: 0, droppedPolls: 0 };
  const drops: ProxyDrop[] = [];
  let active = true;
  const target = new URL(o.target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const upstream = http.request({
        host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
      }, (up) => {
        const answer: Buffer[] = [];
        up.on('data', (c: Buffer) => answer.push(c));
        up.on('end', () => void (async () => {
          counts.forwarded++;
          const text = Buffer.concat(answer);
          const deviceId = deviceIdOf(req.headers.authorization);
          const isResult = req.method === 'POST' && /\/commands\/[^/]+\/result$/.test(req.url ?? '');
          const isPollWithCommands = req.method === 'GET' && /\/commands\?/.test(req.url ?? '') && text.includes('"id"');
          if (isResult && up.statusCode === 200 && body.includes('"acknowledged"')) {
            await Promise.resolve(o.onRebootAcknowledged?.(deviceId)).catch(() => undefined);
          }
          if (active && isResult && random() < o.dropResults) {
            counts.droppedResults++;
            drops.push({ atMs: Date.now(), deviceId, kind: 'result' });
            req.socket.destroy();
            return;
          }
          if (active && isPollWithCommands && random() < o.dropPolls) {
            counts.droppedPolls++;
            drops.push({ atMs: Date.now(), deviceId, kind: 'poll' });
            req.socket.destroy();
            return;
          }
          if (req.socket.destroyed) return;
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(text);
        })());
      });
      upstream.on('error', () => { res.writeHead(502, { 'content-type': 'application/json' }); res.end('{"error":"gateway unreachable through the soak proxy"}'); });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    drops,
    setActive: (a) => { active = a; },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
