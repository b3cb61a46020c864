/**
 * A throwaway Debian root and a local apt repository for the apt executor's real test
 * (test/integration/apt-agent.test.ts). The root is bookworm minbase built by mmdebstrap from Debian's
 * mirror once and cached as a tarball under .data/apt-agent/; each test run unpacks a fresh copy. The
 * host's own packages are never touched: every package tool runs inside the root (chroot).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_MIRROR = process.env.PATCHFLOW_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';
const CACHE_DIR = path.resolve(__dirname, '..', '..', '.data', 'apt-agent');
export const ROOT_TARBALL = path.join(CACHE_DIR, `${DEBIAN_SUITE}-minbase.tar`);

const has = (program: string) => spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;

/** Why the real test cannot run here, or undefined when it can (builds the cached root if needed). */
export function debianRootUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'needs root: chroot and dpkg inside the Debian root run as root';
  for (const tool of ['mmdebstrap', 'dpkg-deb', 'apt-ftparchive', 'chroot', 'tar']) {
    if (!has(tool)) return `${tool} is not installed (apt-get install mmdebstrap apt-utils)`;
  }
  if (fs.existsSync(ROOT_TARBALL)) return undefined;
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const partial = `${ROOT_TARBALL}.partial.tar`;
  const r = spawnSync('mmdebstrap', ['--variant=minbase', '--format=tar', DEBIAN_SUITE, partial, DEBIAN_MIRROR], { encoding: 'utf8', timeout: 15 * 60_000 });
  if (r.status !== 0) {
    fs.rmSync(partial, { force: true });
    const tail = `${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ');
    return `mmdebstrap could not build a ${DEBIAN_SUITE} root from ${DEBIAN_MIRROR} (exit ${r.status ?? r.signal}): ${tail}`;
  }
  fs.renameSync(partial, ROOT_TARBALL);
  return undefined;
}

/** A fresh root from the cached tarball, in a 0700 folder of its own (the agent's folder rules hold). */
export function unpackRoot(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-debian-'));
  execFileSync('tar', ['-xf', ROOT_TARBALL, '-C', dir]);
  return dir;
}

export interface DemoPackage {
  name: string;
  version: string;
  suite: string;
  /** shell of the postinst script (after "#!/bin/sh\nset -e") */
  postinst?: string;
}

/** The repository the test serves: `pf-demo` 1.0 and 1.1 (reboot), `pf-broken` 1.0 and 1.1 (postinst exits 1). */
export const DEMO_PACKAGES: DemoPackage[] = [
  { name: 'pf-demo', version: '1.0', suite: DEBIAN_SUITE },
  { name: 'pf-broken', version: '1.0', suite: DEBIAN_SUITE },
  {
    name: 'pf-demo', version: '1.1', suite: `${DEBIAN_SUITE}-security`,
    // What Debian's kernel and libc packages do, and a pause so the test can kill the agent mid-install.
    postinst: 'touch /var/run/reboot-required\necho pf-demo >> /var/run/reboot-required.pkgs\nsleep "$(cat /etc/pf-demo-postinst-sleep 2>/dev/null || echo 0)"',
  },
  { name: 'pf-broken', version: '1.1', suite: `${DEBIAN_SUITE}-security`, postinst: 'echo "pf-broken: configuration failed" >&2\nexit 1' },
];

/**
 * Builds the .debs with dpkg-deb and a repository with apt-ftparchive: dists/<suite>/main/binary-amd64/
 * Packages and dists/<suite>/Release (with the SHA256 of Packages), pool/<suite>/*.deb.
 */
export function buildRepository(dir: string, packages: DemoPackage[] = DEMO_PACKAGES): { dir: string; suites: string[] } {
  const suites = [...new Set(packages.map((p) => p.suite))];
  for (const p of packages) {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), `pf-src-${p.name}-`));
    fs.mkdirSync(path.join(src, 'DEBIAN'));
    fs.mkdirSync(path.join(src, 'usr', 'share', 'doc', p.name), { recursive: true });
    fs.writeFileSync(path.join(src, 'usr', 'share', 'doc', p.name, 'VERSION'), `${p.version}\n`);
    fs.writeFileSync(path.join(src, 'DEBIAN', 'control'), [
      `Package: ${p.name}`, `Version: ${p.version}`, 'Architecture: amd64', 'Maintainer: Patchflow Tests <tests@patchflow.invalid>',
      'Section: misc', 'Priority: optional', `Description: Patchflow test package ${p.name} ${p.version}`, '',
    ].join('\n'));
    if (p.postinst) {
      fs.writeFileSync(path.join(src, 'DEBIAN', 'postinst'), `#!/bin/sh\nset -e\n${p.postinst}\n`, { mode: 0o755 });
    }
    const pool = path.join(dir, 'pool', p.suite);
    fs.mkdirSync(pool, { recursive: true });
    execFileSync('dpkg-deb', ['--root-owner-group', '--build', src, path.join(pool, `${p.name}_${p.version}_amd64.deb`)], { stdio: 'ignore' });
    fs.rmSync(src, { recursive: true, force: true });
  }
  for (const suite of suites) {
    const binary = path.join(dir, 'dists', suite, 'main', 'binary-amd64');
    fs.mkdirSync(binary, { recursive: true });
    const packagesText = execFileSync('apt-ftparchive', ['packages', `pool/${suite}`], { cwd: dir, encoding: 'utf8' });
    fs.writeFileSync(path.join(binary, 'Packages'), packagesText);
    const release = execFileSync('apt-ftparchive', [
      '-o', `APT::FTPArchive::Release::Suite=${suite}`, '-o', `APT::FTPArchive::Release::Codename=${suite}`,
      '-o', 'APT::FTPArchive::Release::Origin=Patchflow-Test', '-o', 'APT::FTPArchive::Release::Label=Patchflow-Test',
      '-o', 'APT::FTPArchive::Release::Architectures=amd64', '-o', 'APT::FTPArchive::Release::Components=main',
      'release', '.',
    ], { cwd: path.join(dir, 'dists', suite), encoding: 'utf8' });
    fs.writeFileSync(path.join(dir, 'dists', suite, 'Release'), release);
  }
  return { dir, suites };
}

/** Points the root's apt at the repository (copied into the root, read as file:) and installs the 1.0s. */
export function prepareRoot(root: string, repoDir: string, suites: string[], install: string[]): void {
  fs.cpSync(repoDir, path.join(root, 'srv', 'pf-repo'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc', 'apt', 'sources.list.d', 'pf-repo.list'),
    suites.map((s) => `deb [trusted=yes] file:/srv/pf-repo ${s} main\n`).join(''));
  // minbase ships Debian's sources; the test needs nothing from the network inside the root.
  fs.rmSync(path.join(root, 'etc', 'apt', 'sources.list'), { force: true });
  fs.rmSync(path.join(root, 'etc', 'apt', 'sources.list.d', 'debian.sources'), { force: true });
  execFileSync('chroot', [root, 'apt-get', 'update', '-q'], { stdio: 'ignore' });
  execFileSync('chroot', [root, 'apt-get', 'install', '-y', '-q', ...install.map((n) => `${n}=1.0`)], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

/** How many times dpkg unpacked a package, from the root's /var/log/dpkg.log. */
export function unpackCount(root: string, pkg: string, version: string): number {
  const log = fs.readFileSync(path.join(root, 'var', 'log', 'dpkg.log'), 'utf8');
  return log.split('\n').filter((l) => new RegExp(`\\bupgrade ${pkg}:amd64 \\S+ ${version.replace(/\./g, '\\.')}$`).test(l) || new RegExp(`\\binstall ${pkg}:amd64 \\S+ ${version.replace(/\./g, '\\.')}$`).test(l)).length;
}
