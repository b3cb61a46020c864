import type { z } from 'zod';
import { describeZodError, HttpError } from './errors';

/** Parses a request part with a schema or throws a 400 naming every wrong field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: 'body' | 'query' | 'params'): z.infer<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new HttpError(400, describeZodError(r.error, where));
  return r.data;
}
