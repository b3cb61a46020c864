/**
 * One process of the soak's fault proxy (bench/soak-proxy.ts), a cluster worker: all of them accept on
 * the one port the primary listens on, so the fleet has one URL while its connections, two descriptors
 * each, are spread over processes. It forwards every request to the gateway and, for a share of them,
 * throws the answer away after the gateway acted on it. What the primary must know or decide goes over
 * IPC (ProxyMessage): each drop as it happens, the forwarded count when asked, and each accepted reboot
 * acknowledgement, whose answer waits until the primary says go on (it may kill the agent first).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mulberry32 } from '../agent/prng';
import type { ProxyDrop } from './soak-proxy';

/** Worker → primary. */
export type ProxyMessage =
  | { t: 'listening'; port: number }
  | { t: 'drop'; drop: ProxyDrop }
  | { t: 'reboot-acknowledged'; id: number; deviceId: string }
  | { t: 'counts'; id: number; forwarded: number };
/** Primary → worker. */
export type ProxyCommand = { t: 'active'; active: boolean } | { t: 'go-on'; id: number } | { t: 'counts'; id: number };

export interface ProxyWorkerSettings {
  target: string;
  dropResults: number;
  dropPolls: number;
  seed: number;
  active: boolean;
}

const deviceIdOf = (authorization: string | undefined) => /^Bearer\s+([0-9a-f-]{36})\./i.exec(authorization ?? '')?.[1] ?? '';

function runProxyWorker(o: ProxyWorkerSettings): void {
  const send = (m: ProxyMessage) => process.send!(m);
  const random = mulberry32(o.seed);
  const target = new URL(o.target);
  let active = o.active;
  let forwarded = 0;
  let nextId = 0;
  const waiting = new Map<number, () => void>();
  process.on('message', (m: ProxyCommand) => {
    if (m.t === 'active') active = m.active;
    else if (m.t === 'go-on') { waiting.get(m.id)?.(); waiting.delete(m.id); }
    else if (m.t === 'counts') send({ t: 'counts', id: m.id, forwarded });
  });
  const rebootAcknowledged = (deviceId: string) => new Promise<void>((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    send({ t: 'reboot-acknowledged', id, deviceId });
  });
  const dropped = (req: http.IncomingMessage, deviceId: string, kind: ProxyDrop['kind']) => {
    send({ t: 'drop', drop: { atMs: Date.now(), deviceId, kind } });
    req.socket.destroy();
  };

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
          forwarded++;
          const text = Buffer.concat(answer);
          const deviceId = deviceIdOf(req.headers.authorization);
          const isResult = req.method === 'POST' && /\/commands\/[^/]+\/result$/.test(req.url ?? '');
          const isPollWithCommands = req.method === 'GET' && /\/commands\?/.test(req.url ?? '') && text.includes('"id"');
          if (isResult && up.statusCode === 200 && body.includes('"acknowledged"')) await rebootAcknowledged(deviceId);
          if (active && isResult && random() < o.dropResults) return dropped(req, deviceId, 'result');
          if (active && isPollWithCommands && random() < o.dropPolls) return dropped(req, deviceId, 'poll');
          if (req.socket.destroyed) return;
          res.writeHead(up.statusCode ?? 502, up.headers);
          res.end(text);
        })());
      });
      upstream.on('error', () => {
        if (res.headersSent || req.socket.destroyed) return;
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end('{"error":"gateway unreachable through the soak proxy"}');
      });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => send({ t: 'listening', port: (server.address() as AddressInfo).port }));
}

if (process.env.SOAK_PROXY_SETTINGS && process.send) runProxyWorker(JSON.parse(process.env.SOAK_PROXY_SETTINGS) as ProxyWorkerSettings);
