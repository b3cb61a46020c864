/**
 * Pure pieces of the apt/dpkg executor (agent/apt-executor.ts) and the apt feed adapter
 * (cli/apt-feed.ts): Debian name and version rules, the update ids both sides agree on, and parsers
 * for what apt, apt-cache and dpkg-query print. Nothing here runs a program.
 *
 * Update ids: "apt:<suite>:<package>:<arch>:<version>", revision 1. A Debian archive never publishes
 * two different files as one package version, so a (package, version) is one update that is never
 * revised; a newer version is a new update, which is what it is to dpkg. (catalog-feed.ts' header
 * sketched "apt:<suite>:<package>:<arch>" with a revision growing with the version; but the device must
 * report the catalog's exact revision, and no integer can be computed from a Debian version that grows
 * with dpkg's order for every version, so the version is part of the id instead.)
 */
import { Classification, RebootBehavior, Severity } from './device-protocol';
import type { CatalogFeedEntry } from './catalog-feed';
import { packagePatchId } from './patch-id';

/** Debian policy 5.6.1: lower case letters, digits, + - . ; at least two characters, starting alphanumeric. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** Debian policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit. */
const VERSION = /^(?:\d+:)?\d[A-Za-z0-9.+~-]*$/;
const ARCH = /^[a-z0-9][a-z0-9-]*$/;
/** A suite or codename as apt prints it (bookworm, bookworm-security, jammy-updates, stable). */
const SUITE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export const isPackageName = (s: string) => s.length <= 100 && PACKAGE_NAME.test(s);
export const isDebianVersion = (s: string) => s.length <= 100 && VERSION.test(s);
export const isSecuritySuite = (suite: string) => /-security$/.test(suite);

export interface AptPackageVersion {
  suite: string;
  name: string;
  arch: string;
  version: string;
}

export const APT_REVISION = 1;

export function aptUpdateId(p: AptPackageVersion): string {
  return `apt:${p.suite}:${p.name}:${p.arch}:${p.version}`;
}

/** The parts of an apt update id, or undefined when it is not one (or breaks Debian's rules). */
export function parseAptUpdateId(id: string): AptPackageVersion | undefined {
  const m = /^apt:([^:]+):([^:]+):([^:]+):(.+)$/.exec(id);
  if (!m) return undefined;
  const [, suite, name, arch, version] = m as unknown as [string, string, string, string, string];
  if (!SUITE.test(suite) || !isPackageName(name) || !ARCH.test(arch) || !isDebianVersion(version)) return undefined;
  return { suite, name, arch, version };
}

export interface UpgradablePackage {
  name: string;
  current: string;
  candidate: string;
  arch: string;
  /** the suites apt names for the candidate, e.g. ["bookworm-security"] */
  suites: string[];
}

/**
 * `apt-get -s upgrade` / `--just-print upgrade`: its "Inst" lines, e.g.
 * `Inst libc6 [2.36-9] (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [amd64])`.
 * A release is "Origin:Suite" or "Origin:Version/Suite": the suite is after the last "/" or ":".
 * Lines that do not parse, and names or versions that break Debian's rules, are left out.
 */
export function parseSimulatedUpgrade(text: string): UpgradablePackage[] {
  const out: UpgradablePackage[] = [];
  for (const line of text.split('\n')) {
    const m = /^Inst (\S+) \[([^\]]+)\] \((\S+) (.*) \[([^\]]+)\]\)\s*$/.exec(line);
    if (!m) continue;
    const [, name, current, candidate, releases, arch] = m as unknown as [string, string, string, string, string, string];
    if (!isPackageName(name) || !isDebianVersion(current) || !isDebianVersion(candidate) || !ARCH.test(arch)) continue;
    const suites = releases.split(',').map((r) => r.trim().split(/[/:]/).pop()!).filter((s) => SUITE.test(s));
    out.push({ name, current, candidate, arch, suites });
  }
  return out;
}

export interface PolicyEntry {
  installed: string | null;
  candidate: string | null;
  /** each version apt knows, with the suites it comes from ("now" left out: that is dpkg's status file) */
  versions: { version: string; suites: string[] }[];
}

/**
 * `apt-cache policy name…`: per package, the installed and candidate versions and where each version
 * comes from (`500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages`).
 */
export function parseAptCachePolicy(text: string): Map<string, PolicyEntry> {
  const out = new Map<string, PolicyEntry>();
  let entry: PolicyEntry | undefined;
  let version: { version: string; suites: string[] } | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+?)(?::[a-z0-9-]+)?:$/.exec(line);
    if (head) {
      entry = { installed: null, candidate: null, versions: [] };
      version = undefined;
      if (isPackageName(head[1]!)) out.set(head[1]!, entry);
      continue;
    }
    if (!entry) continue;
    const field = /^ {2}(Installed|Candidate): (\S+)$/.exec(line);
    if (field) {
      const v = field[2] === '(none)' ? null : field[2]!;
      if (field[1] === 'Installed') entry.installed = v;
      else entry.candidate = v;
      continue;
    }
    const ver = /^ (?:\*{3}| {3}) (\S+) -?\d+$/.exec(line);
    if (ver) {
      version = { version: ver[1]!, suites: [] };
      entry.versions.push(version);
      continue;
    }
    const source = /^ {8}-?\d+ \S+ (\S+?)\/\S+ \S+ Packages$/.exec(line) ?? /^ {8}-?\d+ \S+ (\S+?) \S+ Packages$/.exec(line);
    if (source && version && SUITE.test(source[1]!)) version.suites.push(source[1]!);
  }
  return out;
}

export interface DpkgQueryRow {
  name: string;
  version: string;
  arch: string;
  /** dpkg's want/status/error abbreviation, e.g. "ii " (installed), "iU " (unpacked), "iF " (half-configured) */
  status: string;
}

/** The format the executor asks dpkg-query for. */
export const DPKG_QUERY_FORMAT = '${Package}\\t${Version}\\t${Architecture}\\t${db:Status-Abbrev}\\n';

export function parseDpkgQuery(text: string): DpkgQueryRow[] {
  return text.split('\n').flatMap((line) => {
    const [name, version, arch, status] = line.split('\t');
    if (!name || !version || !arch || status === undefined || !isPackageName(name)) return [];
    return [{ name, version, arch, status }];
  });
}

/** "ii": installed and configured. */
export const isInstalledStatus = (status: string) => status.startsWith('ii');

/** Debian control-file stanzas (Packages, Release): fields by name, continuation lines joined with "\n". */
export function parseDeb822(text: string): Record<string, string>[] {
  const stanzas: Record<string, string>[] = [];
  let current: Record<string, string> = {};
  let last: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (Object.keys(current).length) stanzas.push(current);
      current = {};
      last = undefined;
      continue;
    }
    if (/^\s/.test(line) && last) {
      current[last] += `\n${line.trim()}`;
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):\s?(.*)$/.exec(line);
    if (m) {
      last = m[1]!;
      current[last] = m[2]!;
    }
  }
  if (Object.keys(current).length) stanzas.push(current);
  return stanzas;
}

/** The SHA256 section of a Release file: path (e.g. "main/binary-amd64/Packages") → digest and size. */
export function releaseSha256s(releaseText: string): Map<string, { sha256: string; size: number }> {
  const out = new Map<string, { sha256: string; size: number }>();
  const release = parseDeb822(releaseText)[0] ?? {};
  for (const line of (release.SHA256 ?? '').split('\n')) {
    const m = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(line.trim());
    if (m) out.set(m[3]!, { sha256: m[1]!, size: Number(m[2]) });
  }
  return out;
}

export interface AptFeedOptions {
  suite: string;
  /** where the archive is served; `Filename` is relative to it */
  baseUrl: string;
  /** the distribution, as operators see it: "Debian 12 (bookworm)" */
  product: string;
  /** ISO date for every entry (a Packages file carries none) */
  releaseDate: string;
}

/**
 * One catalog entry per package version of a `Packages` file (whose SHA-256 the caller checked against
 * Release). Stanzas with a bad name, version, file name, size or SHA256 are refused, named in `refused`.
 */
export function aptFeedEntries(packagesText: string, options: AptFeedOptions): { entries: CatalogFeedEntry[]; refused: string[] } {
  const entries: CatalogFeedEntry[] = [];
  const refused: string[] = [];
  const security = isSecuritySuite(options.suite);
  for (const s of parseDeb822(packagesText)) {
    const name = s.Package ?? '';
    const version = s.Version ?? '';
    const arch = s.Architecture ?? '';
    const filename = s.Filename ?? '';
    const size = Number(s.Size);
    const sha256 = (s.SHA256 ?? '').toLowerCase();
    const what = `${name || '(no Package)'} ${version}`;
    if (!isPackageName(name) || !isDebianVersion(version) || !ARCH.test(arch)) { refused.push(`${what}: name, version or architecture breaks Debian's rules`); continue; }
    if (!/^[0-9a-f]{64}$/.test(sha256) || !Number.isSafeInteger(size) || size < 0) { refused.push(`${what}: no valid SHA256 and Size`); continue; }
    if (!filename || filename.split('/').some((seg) => seg === '..' || seg === '') || !filename.endsWith('.deb')) { refused.push(`${what}: Filename "${filename}" is not a relative .deb path`); continue; }
    const fileName = filename.split('/').pop()!;
    entries.push({
      updateId: aptUpdateId({ suite: options.suite, name, arch, version }),
      revision: APT_REVISION,
      kb: packagePatchId(name, version),
      title: `${name} ${version} (${options.suite})${s.Description ? `: ${s.Description.split('\n')[0]}` : ''}`.slice(0, 500),
      classification: security ? Classification.SecurityUpdate : Classification.Update,
      product: options.product,
      severity: Severity.Unrated,
      releaseDate: options.releaseDate,
      supersededBy: null,
      fileName,
      sizeBytes: size,
      sha256,
      downloadUrl: `${options.baseUrl.replace(/\/+$/, '')}/${filename}`,
      rebootBehavior: RebootBehavior.CanRequestReboot,
      installType: 'normal',
      uninstallable: false,
      securityBulletin: null,
    });
  }
  return { entries, refused };
}

export type AptInstallVerdict =
  | { kind: 'installed' }
  | { kind: 'busy'; message: string }
  | { kind: 'failed'; exitCode: number; message: string };

/**
 * What `apt-get install ./file.deb` ended in. dpkg's own status is taken from apt's
 * "Sub-process /usr/bin/dpkg returned an error code (N)" (the patch failed with dpkg's N); a held
 * lock ("Could not get lock", after DPkg::Lock::Timeout) is busy: nothing ran, try later.
 */
export function interpretAptInstall(exitCode: number, output: string): AptInstallVerdict {
  if (exitCode === 0) return { kind: 'installed' };
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  // Another dpkg holds the lock, or one is mid-way (its journal in /var/lib/dpkg/updates is not yet
  // integrated: it is still running, or it died and `dpkg --configure` must finish it first).
  const busy = lines.find((l) => /Could not get lock|Unable to acquire the dpkg frontend lock|dpkg frontend lock was locked|lock was locked by another process|dpkg was interrupted/.test(l));
  if (busy) return { kind: 'busy', message: busy.slice(0, 500) };
  const dpkg = /Sub-process \/usr\/bin\/dpkg returned an error code \((\d+)\)/.exec(output);
  const errors = lines.filter((l) => /^(E:|dpkg: error|dpkg:)/.test(l) || /returned error exit status/.test(l));
  const message = (errors.length ? errors : lines.slice(-3)).join(' | ').slice(0, 1000);
  return { kind: 'failed', exitCode: dpkg ? Number(dpkg[1]) : exitCode, message };
}
