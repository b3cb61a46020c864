import { problemWithKeyList, type PinnedCommandKey } from '../domain/command-envelope';
import { NotStartedReason, type AgentCommand, type CommandOutcome, type GoAhead, type PatchStart } from '../domain/device-protocol';
import { checkTransport, pinnedFetch, type TransportOptions } from './transport';

/** The gateway answered with a status other than 2xx; `message` is the JSON body's `error`. */
export class GatewayError extends Error {
  constructor(readonly status: number, message: string, readonly body?: unknown) {
    super(message);
    this.name = 'GatewayError';
  }
}

export interface EnrollRequest {
  enrollmentToken: string;
  hostname: string;
  bootId: string;
  /** the same for every try of one enrollment (a retry after a lost answer) */
  enrollmentNonce?: string;
  /** which try under that nonce, from 1: a late earlier try then cannot replace the credential a later one returned */
  enrollmentAttempt?: number;
}
export interface EnrollResponse {
  deviceId: string;
  credential: string;
  /** the server's command keys: the agent pins them beside its credential */
  commandKeys: PinnedCommandKey[];
}
export interface Progress {
  message: string;
  percent?: number;
}

export interface GatewayClientOptions extends TransportOptions {
  /**
   * e.g. "https://127.0.0.1:3000" (no trailing /agent/v1). https:// with `caCert` trusts that certificate
   * only; https:// without it, the system's CAs (a proxy with a public certificate); http:// only to
   * loopback unless `allowInsecureHttp`: the constructor throws InsecureTransportError otherwise.
   */
  baseUrl: string;
  /** the device credential from enrollment; set later with `setCredential` */
  credential?: string;
  /** the device's current boot id, sent with every call: a new one tells the gateway a reboot finished */
  bootId: () => string;
  /** a request that takes longer than this (beyond a long poll's wait) is abandoned; default 15 s */
  requestTimeoutMs?: number;
  /** replaces the transport (tests inject faults with it); the URL is checked all the same */
  fetch?: typeof fetch;
}

const BOOT_ID_HEADER = 'X-Patchflow-Boot-Id';

/**
 * HTTP client for the agent gateway (/agent/v1). Every call after enrollment carries the device's
 * credential and boot id, so every call is also a check-in.
 */
export class GatewayClient {
  private credential: string | undefined;
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly closeTransport: () => Promise<void>;

  constructor(private readonly options: GatewayClientOptions) {
    // Checked before anything can be sent: the enrollment token and the credential it buys are secrets.
    checkTransport(options.baseUrl, options);
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.credential = options.credential;
    const pinned = !options.fetch && options.caCert ? pinnedFetch(options.caCert) : undefined;
    this.fetch = options.fetch ?? pinned?.fetch ?? globalThis.fetch;
    this.closeTransport = pinned ? pinned.close : async () => undefined;
    this.timeoutMs = options.requestTimeoutMs ?? 15_000;
  }

  /** Closes the pinned connections (when the agent stops). */
  close(): Promise<void> {
    return this.closeTransport();
  }

  setCredential(credential: string): void {
    this.credential = credential;
  }

  /** Exchanges a one-time enrollment token for the device's id and credential (201). */
  async enroll(request: EnrollRequest, signal?: AbortSignal): Promise<EnrollResponse> {
    const body = await this.call('POST', '/agent/v1/enroll', { body: request, signal, authenticated: false });
    const { deviceId, credential, commandKeys } = (body ?? {}) as Partial<EnrollResponse>;
    if (typeof deviceId !== 'string' || typeof credential !== 'string') {
      throw new GatewayError(201, 'enrollment answer lacks deviceId or credential', body);
    }
    // Without keys to pin the agent could accept no command at all: an old or foreign server.
    const problem = problemWithKeyList(commandKeys);
    if (problem) throw new GatewayError(201, `enrollment answer has no usable command keys: ${problem}`, body);
    this.credential = credential;
    return { deviceId, credential, commandKeys: commandKeys! };
  }

  /** Long-polls for commands; an empty list when nothing arrived within `waitSeconds`. */
  async pollCommands(waitSeconds: number, signal?: AbortSignal, options: { restarted?: boolean } = {}): Promise<AgentCommand[]> {
    const body = await this.call('GET', `/agent/v1/commands?wait=${encodeURIComponent(waitSeconds)}${options.restarted ? '&restarted=true' : ''}`, {
      signal,
      extraTimeoutMs: waitSeconds * 1000,
    });
    const commands = (body as { commands?: unknown })?.commands;
    if (!Array.isArray(commands)) throw new GatewayError(200, 'poll answer lacks a commands array', body);
    return commands as AgentCommand[];
  }

  /** Posts a command's outcome (200). */
  async postResult(commandId: string, outcome: CommandOutcome, signal?: AbortSignal): Promise<unknown> {
    return this.call('POST', `/agent/v1/commands/${encodeURIComponent(commandId)}/result`, { body: outcome, signal });
  }

  /** Posts progress of a running command (202); the gateway turns it into an activity heartbeat. */
  async postProgress(commandId: string, progress: Progress, signal?: AbortSignal): Promise<void> {
    await this.call('POST', `/agent/v1/commands/${encodeURIComponent(commandId)}/progress`, { body: progress, signal });
  }

  /**
   * Asks whether the next patch of an execute_patches command may start: progress naming it, answered
   * with the install's go-ahead. A gateway that answers without one (an older server) gives no go-ahead.
   */
  async askToStart(commandId: string, progress: Progress & { starting: PatchStart }, signal?: AbortSignal): Promise<GoAhead> {
    const body = await this.call('POST', `/agent/v1/commands/${encodeURIComponent(commandId)}/progress`, { body: progress, signal });
    const goAhead = (body as { goAhead?: Partial<GoAhead> } | undefined)?.goAhead;
    if (goAhead?.proceed === true) return { proceed: true };
    if (goAhead?.proceed === false && typeof goAhead.message === 'string') {
      // A reason this agent does not know is still a no (and its answer must fit the result schema).
      const known = (Object.values(NotStartedReason) as string[]).includes(goAhead.reason as string);
      return { proceed: false, reason: known ? goAhead.reason! : NotStartedReason.NoGoAhead, message: goAhead.message.slice(0, 2000) || 'no go-ahead' };
    }
    return { proceed: false, reason: NotStartedReason.NoGoAhead, message: 'the gateway gave no go-ahead (a server older than execute_patches)' };
  }

  /**
   * A patch file from the Patchflow cache, by the catalog's SHA-256 (the response, for the caller to
   * stream and hash). Non-2xx: GatewayError with the server's reason.
   */
  async fetchFile(sha256: string, signal?: AbortSignal): Promise<Response> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error('a cached file is asked for by its lower-case SHA-256 only');
    if (!this.credential) throw new Error('the device has no credential yet: enroll first');
    // A file may take longer than a JSON call: the deadline is for the answer's start (headers); the
    // body is read by the caller under its own signal.
    const headersDeadline = new AbortController();
    const timer = setTimeout(() => headersDeadline.abort(new Error(`no answer within ${this.timeoutMs * 4} ms`)), this.timeoutMs * 4);
    let response: Response;
    try {
      response = await this.fetch(`${this.baseUrl}/agent/v1/files/${sha256}`, {
        method: 'GET',
        headers: { accept: 'application/octet-stream', authorization: `Bearer ${this.credential}`, [BOOT_ID_HEADER]: this.options.bootId() },
        signal: signal ? AbortSignal.any([signal, headersDeadline.signal]) : headersDeadline.signal,
      });
    } finally {
      clearTimeout(timer);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => '');
      let error: unknown;
      try { error = (JSON.parse(text) as { error?: unknown }).error; } catch { error = undefined; }
      throw new GatewayError(response.status, `GET /agent/v1/files/${sha256} answered ${response.status}${typeof error === 'string' ? `: ${error}` : ''}`);
    }
    return response;
  }

  private async call(
    method: 'GET' | 'POST',
    route: string,
    opts: { body?: unknown; signal?: AbortSignal; authenticated?: boolean; extraTimeoutMs?: number },
  ): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.authenticated !== false) {
      if (!this.credential) throw new Error('the device has no credential yet: enroll first');
      headers.authorization = `Bearer ${this.credential}`;
      headers[BOOT_ID_HEADER] = this.options.bootId();
    }
    // A dead connection must not hang an agent forever: every request has a deadline.
    const timeout = AbortSignal.timeout(this.timeoutMs + (opts.extraTimeoutMs ?? 0));
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const response = await this.fetch(`${this.baseUrl}${route}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal,
    });
    const text = await response.text();
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    if (!response.ok) {
      const error = (parsed as { error?: unknown })?.error;
      const message = typeof error === 'string' ? error : `${method} ${route} answered ${response.status}`;
      throw new GatewayError(response.status, message, parsed);
    }
    return parsed;
  }
}

/**
 * Whether a failed call is worth repeating as is: network failures, timeouts, 5xx, 429 and 408. A
 * 408 is the server's own request timeout (api/app.ts requestTimeout): under load it did not read the
 * request in time, which says nothing about the request, so the agent backs off and sends it again
 * (it stopped for good on one before, taking a device out of a 10,000-device rollout). Any other 4xx
 * means the request itself is wrong (or no longer wanted), so repeating cannot help.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof GatewayError) return err.status >= 500 || err.status === 429 || err.status === 408;
  return true;
}
