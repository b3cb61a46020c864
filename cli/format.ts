/**
 * Pure formatting and argument checks for the `patchflow` CLI: no I/O, so every function is unit
 * tested in test/unit/cli-format.test.ts.
 */
import { formatExitCode as formatDomainExitCode } from '../domain/exit-codes';
import { ALL_PATCH_STATUSES, type PatchStatus } from '../domain/patch-status';
import { isPatchId, normalisePatchId, PATCH_ID_HINT } from '../domain/patch-id';

/** A wrong command-line argument: printed as `error: <message>` without calling the API. */
export class UsageError extends Error {}

// ---- tables ----

export type Cell = string | number | boolean | null | undefined;

const cellText = (c: Cell): string => (c === null || c === undefined || c === '' ? '-' : String(c));

/**
 * Plain aligned columns: a header row, then one line per row, columns separated by two spaces.
 * Empty cells show '-'. Trailing spaces are trimmed so output diffs and greps cleanly.
 */
export function renderTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(headers), ...text.map(line)].join('\n');
}

/** "Label   value" lines, labels padded to the longest one (for `devices show`, `install show`). */
export function renderFields(fields: [label: string, value: Cell][]): string {
  const width = Math.max(0, ...fields.map(([l]) => l.length));
  return fields.map(([l, v]) => `${l.padEnd(width)}  ${cellText(v)}`.trimEnd()).join('\n');
}

/** Cuts text to `max` characters, ending with '…' when it was cut. */
export function truncate(text: string | null | undefined, max: number): string {
  if (!text) return '';
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

// ---- values ----

/**
 * An ISO timestamp as "2024-05-01 12:34:56 UTC", or '-'. UTC on purpose: the same output on every
 * operator's machine, and it matches the API, the Temporal Web UI and the logs.
 */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** An installer exit code the way Windows admins search for it: 3010, but 0x80070643; '-' when absent. */
export function formatExitCode(code: number | null | undefined): string {
  return code === null || code === undefined ? '-' : formatDomainExitCode(code);
}

/** The "last result" cell of a patch: exit code and error together, '-' when there is neither. */
export function formatLastResult(code: number | null | undefined, error: string | null | undefined, maxError = 50): string {
  const parts = [code === null || code === undefined ? '' : formatExitCode(code), truncate(error, maxError)].filter(Boolean);
  return parts.length ? parts.join(' ') : '-';
}

export const yesNo = (v: boolean | null | undefined): string => (v ? 'yes' : 'no');

// ---- argument checks (the API checks again; these give a clearer message before any call) ----

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The same rule as the API's install key (api/operator-schemas.ts). */
const INSTALL_KEY = /^[a-z0-9-]{1,64}$/;
/** The same rule as the API's device name. */
const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const DEVICE_TYPES = ['server', 'workstation'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

export function parseUuid(value: string, what: string): string {
  const v = value.trim();
  if (!UUID.test(v)) throw new UsageError(`${what} must be a UUID, got "${value}"`);
  return v.toLowerCase();
}

/** KBs from `--kb KB1 KB2` or `--kb KB1,KB2`: upper-cased, de-duplicated, each checked. */
export function parseKbs(values: string[]): string[] {
  const kbs = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (kbs.length === 0) throw new UsageError('--kb needs at least one KB number, e.g. KB5034441');
  const bad = kbs.filter((kb) => !isPatchId(normalisePatchId(kb)));
  if (bad.length) throw new UsageError(`not a KB number: ${bad.join(', ')} (expected e.g. KB5034441: "KB" and 6 to 8 digits; on Linux ${PATCH_ID_HINT.replace(/^must be /, '')})`);
  return [...new Set(kbs.map(normalisePatchId))];
}

export function parseDeviceType(value: string): DeviceType {
  const v = value.trim().toLowerCase();
  if (!(DEVICE_TYPES as readonly string[]).includes(v)) throw new UsageError(`--type must be server or workstation, got "${value}"`);
  return v as DeviceType;
}

export function parsePatchStatus(value: string): PatchStatus {
  const v = value.trim().toLowerCase().replace(/[ -]/g, '_'); // accept "reboot-required" and "Reboot Required"
  if (!(ALL_PATCH_STATUSES as readonly string[]).includes(v)) {
    throw new UsageError(`--status must be one of ${ALL_PATCH_STATUSES.join(', ')}, got "${value}"`);
  }
  return v as PatchStatus;
}

export function parseInstallKey(value: string): string {
  if (!INSTALL_KEY.test(value)) throw new UsageError(`"${value}" is not an install key (lower-case letters, digits and '-', as printed by install start)`);
  return value;
}

export function parseDeviceName(value: string): string {
  const v = value.trim();
  if (!HOST_NAME.test(v)) throw new UsageError(`device name must be a host name such as SRV-01 (letters, digits, '.', '_', '-'; at most 63), got "${value}"`);
  return v;
}

export function parseName(value: string, what: string): string {
  const v = value.trim();
  if (v.length === 0 || v.length > 200) throw new UsageError(`${what} must be 1 to 200 characters`);
  return v;
}

/** An integer option within [min, max]. */
export function parseIntOption(value: string, option: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

export type ScopeType = 'all' | 'device' | 'site' | 'client' | 'device_type' | 'policy';
export interface Scope { scopeType: ScopeType; scopeId: string }

/**
 * A scope as operators type it: `all`, `device_type:server`, or `site:<id>` (also client, device,
 * policy), limited to the types the route takes. `all` has the empty id the API stores for it.
 */
export function parseScope(value: string, option: string, allowed: readonly ScopeType[]): Scope {
  const v = value.trim();
  const colon = v.indexOf(':');
  const type = (colon === -1 ? v : v.slice(0, colon)).toLowerCase().replace(/-/g, '_') as ScopeType;
  const id = colon === -1 ? '' : v.slice(colon + 1).trim();
  const shapes = allowed.map((t) => (t === 'all' ? 'all' : t === 'device_type' ? 'device_type:server|workstation' : `${t}:<id>`)).join(', ');
  if (!allowed.includes(type)) throw new UsageError(`${option} must be one of ${shapes}, got "${value}"`);
  if (type === 'all') {
    if (id) throw new UsageError(`${option}: "all" takes no id, got "${value}"`);
    return { scopeType: 'all', scopeId: '' };
  }
  if (!id) throw new UsageError(`${option}: ${type} needs an id (${shapes}), got "${value}"`);
  if (type === 'device_type') return { scopeType: type, scopeId: parseDeviceType(id) };
  return { scopeType: type, scopeId: parseUuid(id, `${option} ${type} id`) };
}

export const APPROVAL_STATUSES = ['approved', 'pending_approval', 'denied'] as const;
export type ApprovalStatusArg = (typeof APPROVAL_STATUSES)[number];

/** approved, denied, pending_approval (also "pending" and "pending-approval", as the console says it). */
export function parseApprovalStatus(value: string, option: string): ApprovalStatusArg {
  const v = value.trim().toLowerCase().replace(/[ -]/g, '_');
  const s = v === 'pending' ? 'pending_approval' : v;
  if (!(APPROVAL_STATUSES as readonly string[]).includes(s)) throw new UsageError(`${option} must be approved, denied or pending_approval, got "${value}"`);
  return s as ApprovalStatusArg;
}

/** on/off for a policy switch (yes/no, true/false too). */
export function parseSwitch(value: string, option: string): boolean {
  const v = value.trim().toLowerCase();
  if (['on', 'yes', 'true'].includes(v)) return true;
  if (['off', 'no', 'false'].includes(v)) return false;
  throw new UsageError(`${option} must be on or off, got "${value}"`);
}
