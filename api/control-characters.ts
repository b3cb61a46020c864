import type { RequestHandler } from 'express';
import { HttpError } from './errors';

/**
 * C0 control characters other than tab, line feed and carriage return, plus DEL. NUL in particular:
 * PostgreSQL refuses 0x00 in text and jsonb, so a NUL that slipped past the schemas failed a write
 * half way through a request (a spent enrollment token, a cancelled install with no audit row).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Where the first string with a control character sits in `value` ("body.bootId"), if anywhere. */
export function findControlCharacter(value: unknown, where: string, depth = 0): string | undefined {
  if (typeof value === 'string') return CONTROL.test(value) ? where : undefined;
  if (value === null || typeof value !== 'object' || depth > 64) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findControlCharacter(value[i], `${where}.${i}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, v] of Object.entries(value)) {
    if (CONTROL.test(key)) return `${where} (a member name)`;
    const found = findControlCharacter(v, `${where}.${key}`, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Refuses, before any handler runs, a request whose path, query or body holds a control character:
 * one check for every route and every text field, so nothing is written from such a request.
 */
export const refuseControlCharacters: RequestHandler = (req, _res, next) => {
  let path: string;
  try {
    path = decodeURIComponent(req.path);
  } catch {
    next(new HttpError(400, 'the URL is not valid: malformed %-escape'));
    return;
  }
  if (CONTROL.test(path)) {
    next(new HttpError(400, 'the URL path must not contain NUL or other control characters'));
    return;
  }
  const found = findControlCharacter(req.query, 'query') ?? findControlCharacter(req.body, 'body');
  if (found) {
    next(new HttpError(400, `${found}: must not contain NUL or other control characters`));
    return;
  }
  next();
};
