import express, { type Request, type RequestHandler, type Response } from 'express';
import { refuseControlCharacters } from './control-characters';
import { HttpError } from './errors';

const MB = 1024 * 1024;
/** Operators' JSON bodies, in bytes (a catalog import's CSV has its own limit on its route). */
export const OPERATOR_BODY_LIMIT = 5 * MB;
/** An agent's answers: a scan report of 10,000 updates is about 2 MB. */
export const AGENT_BODY_LIMIT = 5 * MB;
/** An enrollment is a token, a host name and a boot id: it is read before anyone is known, so it is kept small. */
export const ENROLL_BODY_LIMIT = 16 * 1024;

/**
 * Parses a JSON body and refuses control characters in it. Mounted after authentication, so a
 * caller with no valid credential never gets a body read (or buffered) on its behalf.
 */
export function jsonBody(limitBytes: number): RequestHandler[] {
  return [refuseDeclaredTooLarge(limitBytes), express.json({ limit: limitBytes }), refuseControlCharacters];
}

/**
 * A body whose Content-Length is over the limit is refused from its headers, without reading it:
 * express.json also refuses it, but only answers once the whole body has arrived (it drains the
 * request first), so 5 MB would still be read for nothing.
 */
function refuseDeclaredTooLarge(limitBytes: number): RequestHandler {
  return (req, res, next) => {
    const declared = Number(req.headers['content-length']);
    // Only JSON, which is what this limit is for: a route's own parser has its own (a CSV import's 20 MB).
    if (Number.isFinite(declared) && declared > limitBytes && req.is('application/json')) {
      closeUnreadBody(req, res);
      next(new HttpError(413, `request body is too large: ${declared} bytes, at most ${limitBytes} here`));
      return;
    }
    next();
  };
}

/**
 * A refusal sent before the body was read: the connection is closed after the answer instead of
 * draining the rest of the body (Node would read and discard it to reuse the connection, which is
 * still reading it on the caller's behalf).
 */
export function closeUnreadBody(req: Request, res: Response): void {
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  if (hasBody && !req.complete) res.set('Connection', 'close');
}
