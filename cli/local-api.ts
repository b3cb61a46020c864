/**
 * Where the operators' API is and how to trust it, for a CLI given no address: `npm start` writes
 * DATA_DIR/api.json (its URL and the certificate it serves) and DATA_DIR/api-key, so `patchflow`
 * in the same folder finds the stack whatever PORT it chose. Explicit options always win.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './format';

/** The file `npm start` writes (dev/start.ts) and removes when it stops. */
export const LOCAL_API_FILE = 'api.json';
export const DEFAULT_API_URL = 'https://127.0.0.1:3000';

const localApiSchema = z.object({
  url: z.string().url(),
  /** the PEM the API serves, absolute; absent for a plain-HTTP API */
  caCertPath: z.string().min(1).optional(),
});
export type LocalApi = z.infer<typeof localApiSchema>;

/** DATA_DIR/api.json, or undefined when there is none; a file that is there but unreadable is an error naming it. */
export function readLocalApi(dataDir: string): LocalApi | undefined {
  const file = path.resolve(dataDir, LOCAL_API_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: ReturnType<typeof localApiSchema.safeParse>;
  try {
    parsed = localApiSchema.safeParse(JSON.parse(text));
  } catch (err) {
    throw new UsageError(`${file} is not JSON (${(err as Error).message}): delete it, or pass --api-url`);
  }
  if (!parsed.success) throw new UsageError(`${file} is not an address file of npm start (${parsed.error.issues[0]?.message}): delete it, or pass --api-url`);
  return parsed.data;
}

export interface ApiTarget {
  url: string;
  /** a certificate file to pin, when the address came from (or matches) npm start's file */
  caCertPath?: string;
  /** where the address came from, for error messages */
  source: 'option' | 'api.json' | 'default';
}

/**
 * --api-url / PATCHFLOW_API_URL, else DATA_DIR/api.json, else the default port. The certificate of
 * api.json is offered only for its own URL: a different --api-url is a different server.
 */
export function resolveApiTarget(given: string | undefined, dataDir: string): ApiTarget {
  const local = readLocalApi(dataDir);
  const sameServer = (url: string) => local !== undefined && url.replace(/\/+$/, '') === local.url.replace(/\/+$/, '');
  if (given) return { url: given, caCertPath: sameServer(given) ? local?.caCertPath : undefined, source: 'option' };
  if (local) return { url: local.url, caCertPath: local.caCertPath, source: 'api.json' };
  return { url: DEFAULT_API_URL, source: 'default' };
}

/** Writes DATA_DIR/api.json for the CLI (mode 0600: it is nobody else's business which port the key opens). */
export function writeLocalApi(dataDir: string, api: LocalApi): string {
  const file = path.resolve(dataDir, LOCAL_API_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(api, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file); // a CLI reading it meanwhile sees the old file or the new one, never half of one
  fs.chmodSync(file, 0o600);
  return file;
}

/** Removes DATA_DIR/api.json if it still names `url` (another start may have replaced it). */
export function removeLocalApi(dataDir: string, url: string): void {
  try {
    if (readLocalApi(dataDir)?.url === url) fs.unlinkSync(path.resolve(dataDir, LOCAL_API_FILE));
  } catch {
    // a file we cannot read or remove is left for the next start to replace
  }
}
