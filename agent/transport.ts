/**
 * How an agent (and the operators' CLI) reaches the server: HTTPS trusting only a pinned certificate, or
 * plain HTTP where nothing secret can be read on the way (loopback), or knowingly (`allowInsecureHttp`).
 */
import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';

/** Thrown when a client is set up to send a secret where it could be read or answered by anyone on the path. */
export class InsecureTransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InsecureTransportError';
  }
}

/** 127.0.0.0/8, ::1 and localhost: traffic that never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '0:0:0:0:0:0:0:1';
}

export interface TransportOptions {
  /**
   * PEM of the certificate (or the CA) the server must present over https://. Only it is trusted: the
   * system's CAs are not consulted, so no other certificate, however well signed, is accepted.
   */
  caCert?: string;
  /** send credentials over http:// to a host that is not loopback (a network the operator trusts, a proxy on the path) */
  allowInsecureHttp?: boolean;
}

/**
 * Refuses, before anything is sent, a base URL over which a credential would travel in clear text to
 * another machine, and a pinned certificate that could never be checked (http://). Returns the URL.
 */
export function checkTransport(baseUrl: string, options: TransportOptions, what = 'gateway'): URL {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new InsecureTransportError(`the ${what} URL ${JSON.stringify(baseUrl)} is not a URL`);
  }
  if (url.protocol === 'https:') return url;
  if (url.protocol !== 'http:') throw new InsecureTransportError(`the ${what} URL must be https:// (or http://), not ${url.protocol}`);
  if (options.caCert) {
    throw new InsecureTransportError(`a pinned certificate is given but the ${what} URL is http:// (${url.host}): use https://`);
  }
  if (!isLoopbackHost(url.hostname) && !options.allowInsecureHttp) {
    throw new InsecureTransportError(
      `refusing to send credentials over plain http:// to ${url.host}: use https:// with a pinned certificate, ` +
      'or allow it explicitly (--insecure-http) if a TLS-terminating proxy or a trusted network is on the path',
    );
  }
  return url;
}

export interface PinnedFetch {
  fetch: typeof fetch;
  /** closes the connections it keeps alive */
  close(): Promise<void>;
}

/**
 * A fetch that trusts only `caPem` (undici's own fetch with a dispatcher of its own): Node replaces its
 * CA store with `ca`, so a server presenting any other certificate fails the handshake before a request
 * (and its credential) is sent. The host name is still checked against the certificate.
 */
export function pinnedFetch(caPem: string): PinnedFetch {
  const dispatcher = new Agent({ connect: { ca: caPem, rejectUnauthorized: true } });
  const pinned = ((input: Parameters<typeof fetch>[0], init?: RequestInit) =>
    undiciFetch(input as never, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
  return { fetch: pinned, close: () => dispatcher.close() };
}
