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
  BadRequest: 400,
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
    const answer = errorAnswer(err, log, { method: req.method, url: req.originalUrl });
    res.status(answer.status).json(answer.body);
  };
}

/**
 * The answer an error gets, for any door (express's, and the poll's own: api/poll-fast-path.ts): its
 * status and JSON body. What is not the client's fault is logged with its trace.
 */
export function errorAnswer(err: any, log: Logger, request: { method?: string; url?: string }): { status: number; body: Record<string, unknown> } {
  if (err instanceof HttpError) return { status: err.status, body: { error: err.message, ...(err.details ? { details: err.details } : {}) } };
  if (err instanceof PatchflowError) return { status: STATUS_BY_TYPE[err.type] ?? 400, body: { error: err.message, type: err.type } };
  if (err && (err.type === 'entity.parse.failed' || err instanceof SyntaxError)) return { status: 400, body: { error: `request body is not valid JSON: ${err.message}` } };
  // Postgres: unique violation → 409.
  if (err && err.code === '23505') return { status: 409, body: { error: `already exists: ${err.detail ?? err.message}` } };
  const client = clientFault(err);
  if (client) {
    // The client's fault, not ours: the trace stays in the log at warn, the answer names the problem.
    log.warn({ err, ...request, status: client.status }, 'request refused');
    return { status: client.status, body: { error: client.message } };
  }
  log.error({ err, ...request }, 'unhandled error');
  return { status: 500, body: { error: 'internal error' } };
}

/** Body-parser's error types (express.json) and what each tells the client. */
const BODY_ERRORS: Record<string, { status: number; message: (err: any) => string }> = {
  'entity.too.large': { status: 413, message: () => 'request body is too large' },
  'encoding.unsupported': { status: 415, message: (e) => `Content-Encoding is not supported: ${e.message}` },
  'charset.unsupported': { status: 415, message: (e) => `charset is not supported (use utf-8): ${e.message}` },
  'request.aborted': { status: 400, message: () => 'request body was cut off' },
  'request.size.invalid': { status: 400, message: () => 'request body is shorter or longer than its Content-Length' },
  'entity.verify.failed': { status: 400, message: (e) => `request body was refused: ${e.message}` },
};

/** PostgreSQL data exceptions (class 22: bad uuid, NUL byte, out of range...) come from a value the client sent. */
const PG_DATA_EXCEPTION = /^22[0-9A-Z]{3}$/;

/**
 * The status and message for an error the client caused, or undefined for our own faults:
 * body-parser's typed errors, any http-errors style error with a 4xx status (express's URIError for a
 * malformed %-escape in the path is one), a stream that could not be decompressed, and PostgreSQL
 * refusing a value (a safety net: schemas should refuse it first, before anything is written).
 */
function clientFault(err: any): { status: number; message: string } | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const known = typeof err.type === 'string' ? BODY_ERRORS[err.type] : undefined;
  if (known) return { status: known.status, message: known.message(err) };
  // zlib errors while inflating a gzip/deflate/br body that is not what it claims to be.
  if (typeof err.code === 'string' && err.code.startsWith('Z_')) return { status: 400, message: `request body could not be decompressed: ${err.message}` };
  const status = Number(err.status ?? err.statusCode);
  if (Number.isInteger(status) && status >= 400 && status < 500) {
    return { status, message: err instanceof URIError ? `the URL is not valid: ${err.message}` : String(err.message || 'bad request') };
  }
  if (typeof err.code === 'string' && PG_DATA_EXCEPTION.test(err.code)) return { status: 400, message: `a value was refused by the database: ${err.message}` };
  return undefined;
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: `no route ${req.method} ${req.path}` });
};
