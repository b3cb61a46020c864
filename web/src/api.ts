import type { z } from 'zod';

// Every call carries the operator's key as a bearer token (the contract for both the shared admin
// key and personal keys), and every answer is parsed with the API's own zod schema: a route whose
// shape drifts fails here, loudly, not as a half-drawn page.

const KEY = 'patchflow.apiKey';

export const session = {
  key(): string | null { return sessionStorage.getItem(KEY); },
  set(key: string): void { sessionStorage.setItem(KEY, key); },
  clear(): void { sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

async function call(method: string, path: string, body?: unknown): Promise<Response> {
  const key = session.key();
  const res = await fetch(path, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    session.clear();
    window.dispatchEvent(new Event('patchflow:signed-out'));
  }
  if (!res.ok) {
    const text = await res.text();
    let message = text;
    try { message = (JSON.parse(text) as { error?: string }).error ?? text; } catch { /* plain text */ }
    throw new ApiError(res.status, `${res.status}: ${message}`);
  }
  return res;
}

export async function getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.output<S>> {
  const res = await call('GET', path);
  return schema.parse(await res.json());
}

export async function sendJson<S extends z.ZodType>(method: 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body: unknown, schema: S): Promise<z.output<S>> {
  const res = await call(method, path, body);
  return schema.parse(await res.json());
}

/** Downloads an authenticated file: fetched with the key, handed to the browser as a blob. */
export async function download(path: string, fallbackName: string): Promise<void> {
  const res = await call('GET', path);
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? fallbackName;
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
