import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import type { Logger } from 'pino';
import type { AgentGateway } from './agent-gateway';
import { BOOT_ID_HEADER, pollQuerySchema } from './agent-schemas';
import { claimedDevice } from './auth-throttle';
import { findControlCharacter } from './control-characters';
import { errorAnswer, HttpError } from './errors';
import type { Metrics } from './metrics';

const POLL_PATH = '/agent/v1/commands';

export interface PollFastPathDeps {
  gateway: Pick<AgentGateway, 'checkInDevice' | 'longPoll'>;
  metrics: Metrics;
  log: Logger;
  /** the agents' door limiter: an address (and device) with a recent failure may be locked out, so express answers it */
  recentlyFailed(ip: string, deviceId?: string): boolean;
}

/**
 * `GET /agent/v1/commands` without express. Every agent sends it once per poll wait, and with a fleet
 * checking in it is nearly all the gateway's traffic: express's layers (its router, the URL and body
 * middleware, the door's limiter and audit hooks) were a fifth of a check-in's CPU.
 *
 * It takes only a poll it can answer exactly as the express route would: the exact path, no body, a
 * well-formed query with no control characters, a credential header, from an address (and claimed
 * device) with no failed authentication in the limiter's window. Anything else goes to express at once. So does a poll whose
 * check-in does not authenticate (or fails): the check-in wrote nothing for it, and express checks it
 * in again and answers it, and counts and audits the failure, as for any other route. Once the
 * device is authenticated the poll is answered here, with the gateway's own wait (`longPoll`), the
 * same JSON, the same request metrics and the same error answers (api/errors.ts errorAnswer).
 *
 * Returns false when it did not take the request (the caller passes it to express).
 */
export function pollFastPath(deps: PollFastPathDeps): (req: IncomingMessage, res: ServerResponse, express: RequestListener) => boolean {
  return (req, res, express) => {
    if (req.method !== 'GET') return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== POLL_PATH) return false;
    const authorization = req.headers.authorization;
    if (authorization === undefined || hasBody(req)) return false;
    const ip = req.socket.remoteAddress ?? 'unknown';
    if (deps.recentlyFailed(ip, claimedDevice(authorization))) return false;
    const rawQuery = q < 0 ? {} : parseQueryString(url.slice(q + 1));
    if (findControlCharacter(rawQuery, 'query') || !pollQuerySchema.safeParse(rawQuery).success) return false;
    const bootIdHeader = req.headers[BOOT_ID_HEADER];
    if (Array.isArray(bootIdHeader)) return false;

    const end = deps.metrics.httpRequests.startTimer({ method: 'GET' });
    let toExpress = false;
    res.once('finish', () => { if (!toExpress) end({ route: POLL_PATH, status: String(res.statusCode) }); });
    const answerError = (err: unknown) => {
      const a = errorAnswer(err, deps.log, { method: 'GET', url });
      if (!res.headersSent) sendJson(res, a.status, a.body);
      else res.destroy();
    };
    void deps.gateway.checkInDevice({ authorization, bootIdHeader, pollQuery: rawQuery }, res).then(
      async (device) => {
        try {
          const answer = await deps.gateway.longPoll(device, device.pollStart!.query, res);
          if (answer) sendJson(res, 200, answer);
        } catch (err) {
          answerError(err);
        }
      },
      (err) => {
        // Refused (401, 400): the check-in wrote nothing, and express answers it, its limiter counting
        // and its audit recording the failure. Any other failure is answered here, as express would.
        if (!(err instanceof HttpError)) return answerError(err);
        toExpress = true;
        express(req, res);
      },
    );
    return true;
  };
}

/** As express's `hasBody` rule: a Content-Length other than 0, or a Transfer-Encoding. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/** express's res.json, minus the ETag (a poll's answer is never one to revalidate). */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
