/**
 * A small typed client of the operators' API (/api/v1). HTTP(S) only: the CLI never talks to Temporal
 * or PostgreSQL. Row types are imported as types from the server's modules, so they cannot drift.
 */
import type { InstallView } from '../api/install-service';
import type { ClientRow, DeviceRow, SiteRow } from '../db/fleet-repository';
import type { DevicePatchRow } from '../db/patch-repository';
import type { PatchStatus } from '../domain/patch-status';
import type { InstallStep } from '../workflows/install.contract';
import { pinnedFetch } from '../agent/transport';

/** The API answered with an error status; `message` is its `{ error }` text. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** The API could not be reached at all (refused, DNS, reset). */
export class ConnectionError extends Error {
  constructor(readonly url: string, readonly reason: string) {
    super(`cannot reach the Patchflow API at ${url}: ${reason}`);
  }
}

export interface CreatedDevice { device: DeviceRow; enrollmentToken: string }
export interface StartedInstall { workflowId: string; key: string; location: string }

export interface PatchflowApiOptions {
  baseUrl: string;
  apiKey: string;
  /** PEM of the certificate (or CA) an https:// API must present; only it is trusted (e.g. npm start's dev certificate) */
  caCert?: string;
  fetch?: typeof fetch;
}

export class PatchflowApi {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: PatchflowApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    // Idle pinned connections do not keep the process alive (undici unrefs them): nothing to close.
    this.fetch = options.fetch ?? (options.caCert ? pinnedFetch(options.caCert).fetch : globalThis.fetch);
  }

  get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
    const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    return this.request<T>('GET', q ? `${path}?${q}` : path);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('PUT', path, body);
  }

  patch<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  /** DELETE, with a body where the route names what to remove in one (a policy's member or default). */
  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  /** A body that is not JSON (a CSV file), sent as is. */
  async postText<T>(path: string, text: string, contentType: string): Promise<T> {
    return this.read<T>(await this.send('POST', path, undefined, 'application/json', { text, contentType }), 'POST', path);
  }

  /**
   * A GET whose body is not JSON (a report): the Response, its body unread, once the status is OK.
   * An error answer is read (it is JSON) and thrown as ApiError, like every other call.
   */
  async stream(path: string, query: Record<string, string | undefined> = {}): Promise<Response> {
    const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined)).toString();
    const res = await this.send('GET', q ? `${path}?${q}` : path, undefined, '*/*');
    if (!res.ok) await this.read(res, 'GET', path);
    return res;
  }

  private async send(method: string, path: string, body: unknown, accept = 'application/json', raw?: { text: string; contentType: string }): Promise<Response> {
    const url = `${this.baseUrl}/api/v1${path}`;
    try {
      return await this.fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept,
          ...(raw ? { 'content-type': raw.contentType } : body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: raw ? raw.text : body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      // fetch hides the socket error in `cause` (ECONNREFUSED, ENOTFOUND, DEPTH_ZERO_SELF_SIGNED_CERT, ...)
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const reason = cause?.code ?? cause?.message ?? (err as Error).message;
      const certificate = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME/.test(reason);
      throw new ConnectionError(this.baseUrl, certificate ? `its TLS certificate is not trusted (${reason}): pass --ca-cert or set PATCHFLOW_CA_CERT` : reason);
    }
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.read<T>(await this.send(method, path, body), method, path);
  }

  private async read<T>(res: Response, method: string, path: string): Promise<T> {
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError(res.status, `${method} ${path}: the answer is not JSON (${truncateText(text)})`);
    }
    if (!res.ok) {
      const message = (json as { error?: unknown }).error;
      throw new ApiError(res.status, typeof message === 'string' ? message : `${method} ${path} failed`);
    }
    return json as T;
  }

  // ---- the routes of api/operators-api.ts ----

  listClients = () => this.get<{ clients: ClientRow[] }>('/clients').then((r) => r.clients);
  createClient = (name: string) => this.post<ClientRow>('/clients', { name });

  listSites = (clientId?: string) => this.get<{ sites: SiteRow[] }>('/sites', { clientId }).then((r) => r.sites);
  createSite = (clientId: string, name: string, fileSource?: SiteRow['fileSource']) => this.post<SiteRow>(`/clients/${enc(clientId)}/sites`, { name, ...(fileSource ? { fileSource } : {}) });
  setSiteFileSource = (siteId: string, fileSource: SiteRow['fileSource']) => this.patch<SiteRow>(`/sites/${enc(siteId)}`, { fileSource });

  listDevices = (filter: { clientId?: string; siteId?: string; needsAttention?: 'true' | 'false' } = {}) =>
    this.get<{ devices: DeviceRow[] }>('/devices', filter).then((r) => r.devices);
  createDevice = (d: { siteId: string; name: string; deviceType: 'server' | 'workstation'; os?: string }) =>
    this.post<CreatedDevice>('/devices', d);
  getDevice = (deviceId: string) => this.get<DeviceRow>(`/devices/${enc(deviceId)}`);
  devicePatches = (deviceId: string, status?: PatchStatus) =>
    this.get<{ patches: DevicePatchRow[] }>(`/devices/${enc(deviceId)}/patches`, { status }).then((r) => r.patches);

  startInstall = (deviceId: string, body: { kbs?: string[]; rebootAllowed?: boolean }) =>
    this.post<StartedInstall>(`/devices/${enc(deviceId)}/installs`, body);
  getInstall = (deviceId: string, key: string) => this.get<InstallView>(`/devices/${enc(deviceId)}/installs/${enc(key)}`);
  cancelInstall = (deviceId: string, key: string, reason?: string) =>
    this.post<{ accepted: boolean; step: InstallStep }>(`/devices/${enc(deviceId)}/installs/${enc(key)}/cancel`, reason ? { reason } : {});
}

const enc = encodeURIComponent;
const truncateText = (t: string) => (t.length > 80 ? `${t.slice(0, 79)}…` : t);
