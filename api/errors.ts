import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { type ZodError } from 'zod';
import { PatchflowError } from '../domain/errors';

/** An error with an HTTP status, thrown by handlers for request problems. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly details?: unknown) {
    super(message);
  }
}

const STATUS_BY_TYPE: Record<string, number> = {
  DeviceBusy: 409,
  NotFound: 404,
  Conflict: 409,
  Unprocessable: 422,
  UnsafeFolder: 422,
};

/** Names each wrong field: "body.kbs.0: must look like KB5034441". */
export function describeZodError(err: ZodError, where: string): string {
  return err.issues.map((i) => `${[where, ...i.path].join('.')}: ${i.message}`).join('; ');
}

/** Maps every error to a JSON answer in one place; unknown errors are 500 and logged. */
export function errorMiddleware(log: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, ...(err.details ? { details: err.details } : {}) });
      return;
    }
    if (err instanceof PatchflowError) {
      res.status(STATUS_BY_TYPE[err.type] ?? 400).json({ error: err.message, type: err.type });
      return;
    }
    if (err && (err.type === 'entity.parse.failed' || err instanceof SyntaxError)) {
      res.status(400).json({ error: `request body is not valid JSON: ${err.message}` });
      return;
    }
    if (err && err.type === 'entity.too.large') {
      res.status(413).json({ error: 'request body is too large' });
      return;
    }
    // Postgres: unique violation → 409, invalid text representation (e.g. a bad uuid) → 400.
    if (err && err.code === '23505') {
      res.status(409).json({ error: `already exists: ${err.detail ?? err.message}` });
      return;
    }
    log.error({ err, method: req.method, url: req.originalUrl }, 'unhandled error');
    res.status(500).json({ error: 'internal error' });
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: `no route ${req.method} ${req.path}` });
};
