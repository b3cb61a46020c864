import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import {
  aptFeedEntries, aptUpdateId, interpretAptInstall, isDebianVersion, isPackageName, parseAptCachePolicy, parseAptUpdateId, parseDeb822,
  parseDpkgQuery, parseSimulatedUpgrade, releaseSha256s,
} from '../../domain/apt';
import { isPatchId, packagePatchId, patchIdProblem } from '../../domain/patch-id';
import { AptFeedError, buildAptFeed } from '../../cli/apt-feed';
import { verifyCatalogFeed } from '../../domain/catalog-feed';
import { generateSigningKeyPair } from '../../domain/signatures';

describe('patch ids', () => {
  test.each([
    ['KB5034441', true], ['KB12345', false], ['KB123456789', false], ['kb5034441', false],
    ['DSA-5555-1', true], ['DLA-3600-1', true], ['USN-6500-1', true], ['USN-6500', false],
    ['PF-DEMO=1.1', true], ['OPENSSL=3.0.11-1~DEB12U2', true], ['LIBC6=2:2.36-9+DEB12U4', true],
    ['PF-DEMO=', false], ['PF DEMO=1.1', false], ['PF-DEMO=1.1;RM -RF /', false], ['=1.1', false], ['PF-DEMO=ABC', false],
  ])('%s → %s', (id, ok) => expect(isPatchId(id)).toBe(ok));
  test('a package version is upper-cased; a bad KB keeps the Windows message', () => {
    expect(packagePatchId('pf-demo', '1.1+deb12u1')).toBe('PF-DEMO=1.1+DEB12U1');
    expect(patchIdProblem('KB12')).toBe('must look like KB5034441');
    expect(patchIdProblem('nonsense')).toMatch(/package version/);
  });
});

describe('Debian names, versions and update ids', () => {
  test.each(['pf-demo', 'libc6', 'g++', 'lib.x-1'])('%s is a package name', (n) => expect(isPackageName(n)).toBe(true));
  test.each(['A', 'Pf', '-x', 'x;rm', 'x y', 'x$(id)', 'x`id`'])('%s is not', (n) => expect(isPackageName(n)).toBe(false));
  test.each(['1.0', '2:2.36-9+deb12u4', '1.1~rc1', '0'])('%s is a version', (v) => expect(isDebianVersion(v)).toBe(true));
  test.each(['', 'abc', '1.0 ', '1.0;id', ':1', '1.0$'])('"%s" is not', (v) => expect(isDebianVersion(v)).toBe(false));
  test('update ids round-trip, epochs included; anything else is refused', () => {
    const p = { suite: 'bookworm-security', name: 'libc6', arch: 'amd64', version: '2:2.36-9+deb12u4' };
    expect(parseAptUpdateId(aptUpdateId(p))).toEqual(p);
    expect(parseAptUpdateId('apt:bookworm:pf;rm:amd64:1.0')).toBeUndefined();
    expect(parseAptUpdateId('5a4f2c1e-0000-0000-0000-000000000000')).toBeUndefined();
  });
});

describe('parsers', () => {
  test('apt-get -s upgrade: Inst lines with suites', () => {
    const text = [
      'Reading package lists...',
      'Inst libc6 [2.36-9] (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [amd64])',
      'Inst pf-demo [1.0] (1.1 Patchflow-Test:bookworm-security [amd64])',
      'Conf pf-demo (1.1 Patchflow-Test:bookworm-security [amd64])',
      'Inst evil;rm [1.0] (1.1 X:y [amd64])',
    ].join('\n');
    expect(parseSimulatedUpgrade(text)).toEqual([
      { name: 'libc6', current: '2.36-9', candidate: '2.36-9+deb12u4', arch: 'amd64', suites: ['stable', 'stable-security'] },
      { name: 'pf-demo', current: '1.0', candidate: '1.1', arch: 'amd64', suites: ['bookworm-security'] },
    ]);
  });
  test('apt-cache policy: installed, candidate, and each version\'s suites', () => {
    const text = `pf-demo:
  Installed: 1.0
  Candidate: 1.1
  Version table:
     1.1 500
        500 file:/srv/pf-repo bookworm-security/main amd64 Packages
 *** 1.0 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
        100 /var/lib/dpkg/status
dpkg:
  Installed: 1.21.23
  Candidate: 1.21.23
  Version table:
 *** 1.21.23 100
        100 /var/lib/dpkg/status
`;
    const p = parseAptCachePolicy(text);
    expect(p.get('pf-demo')).toEqual({ installed: '1.0', candidate: '1.1', versions: [{ version: '1.1', suites: ['bookworm-security'] }, { version: '1.0', suites: ['bookworm'] }] });
    expect(p.get('dpkg')).toEqual({ installed: '1.21.23', candidate: '1.21.23', versions: [{ version: '1.21.23', suites: [] }] });
  });
  test('dpkg-query rows', () => {
    expect(parseDpkgQuery('pf-demo\t1.1\tamd64\tii \npf-broken\t1.1\tamd64\tiF \n\n')).toEqual([
      { name: 'pf-demo', version: '1.1', arch: 'amd64', status: 'ii ' },
      { name: 'pf-broken', version: '1.1', arch: 'amd64', status: 'iF ' },
    ]);
  });
  test('deb822 stanzas and Release SHA256 lines', () => {
    expect(parseDeb822('Package: a\nDescription: one\n two\n\nPackage: b\n')).toEqual([{ Package: 'a', Description: 'one\ntwo' }, { Package: 'b' }]);
    const sha = 'a'.repeat(64);
    expect(releaseSha256s(`Origin: X\nSHA256:\n ${sha} 123 main/binary-amd64/Packages\n`).get('main/binary-amd64/Packages')).toEqual({ sha256: sha, size: 123 });
  });
});

describe('apt-get install results', () => {
  test('success, dpkg\'s own failure status, and a held lock', () => {
    expect(interpretAptInstall(0, '')).toEqual({ kind: 'installed' });
    expect(interpretAptInstall(100, 'dpkg: error processing package pf-broken (--configure):\n installed pf-broken package post-installation script subprocess returned error exit status 1\nE: Sub-process /usr/bin/dpkg returned an error code (1)\n'))
      .toMatchObject({ kind: 'failed', exitCode: 1, message: expect.stringContaining('pf-broken') });
    expect(interpretAptInstall(100, 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n')).toMatchObject({ kind: 'busy' });
    expect(interpretAptInstall(100, "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem.\n")).toMatchObject({ kind: 'busy' });
    expect(interpretAptInstall(100, 'E: Unable to locate package x\n')).toMatchObject({ kind: 'failed', exitCode: 100 });
  });
});

describe('the apt feed adapter', () => {
  const packages = (sha: string) => `Package: pf-demo\nVersion: 1.1\nArchitecture: amd64\nFilename: pool/bookworm-security/pf-demo_1.1_amd64.deb\nSize: 908\nSHA256: ${sha}\nDescription: demo\n\nPackage: bad;rm\nVersion: 1\nArchitecture: amd64\nFilename: pool/x.deb\nSize: 1\nSHA256: ${sha}\n\nPackage: climb\nVersion: 1\nArchitecture: amd64\nFilename: ../../etc/x.deb\nSize: 1\nSHA256: ${sha}\n`;
  test('one entry per package version; a security suite is Security Updates; bad stanzas refused by name', () => {
    const sha = 'b'.repeat(64);
    const { entries, refused } = aptFeedEntries(packages(sha), { suite: 'bookworm-security', baseUrl: 'http://mirror/debian/', product: 'Debian 12', releaseDate: '2026-12-01' });
    expect(entries).toEqual([expect.objectContaining({
      updateId: 'apt:bookworm-security:pf-demo:amd64:1.1', revision: 1, kb: 'PF-DEMO=1.1', classification: 'Security Updates', product: 'Debian 12',
      fileName: 'pf-demo_1.1_amd64.deb', sizeBytes: 908, sha256: sha, downloadUrl: 'http://mirror/debian/pool/bookworm-security/pf-demo_1.1_amd64.deb',
    })]);
    expect(refused).toHaveLength(2);
  });

  const made: string[] = [];
  afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  function repo(tamper: boolean): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-aptfeed-'));
    made.push(dir);
    const bin = path.join(dir, 'dists', 'bookworm-security', 'main', 'binary-amd64');
    fs.mkdirSync(bin, { recursive: true });
    const text = packages('c'.repeat(64)).split('\n\n')[0]!;
    fs.writeFileSync(path.join(bin, 'Packages'), text);
    const sha = createHash('sha256').update(text).digest('hex');
    fs.writeFileSync(path.join(dir, 'dists', 'bookworm-security', 'Release'), `Codename: bookworm-security\nSHA256:\n ${sha} ${Buffer.byteLength(text)} main/binary-amd64/Packages\n`);
    if (tamper) fs.appendFileSync(path.join(bin, 'Packages'), '\n');
    return dir;
  }
  test('signs a feed the server verifies; a Packages file that differs from Release is refused', () => {
    const key = generateSigningKeyPair();
    const { feed } = buildAptFeed({ repoDir: repo(false), suites: ['bookworm-security'], baseUrl: 'http://m', privateKeyPem: key.privateKeyPem, feedId: 'debian', sequence: 3 });
    expect(verifyCatalogFeed(JSON.parse(JSON.stringify(feed)), { feedId: 'debian', pinnedPublicKeys: [key.publicKeyPem] })).toMatchObject({ ok: true });
    expect(feed.entries.map((e) => e.kb)).toEqual(['PF-DEMO=1.1']);
    expect(() => buildAptFeed({ repoDir: repo(true), suites: ['bookworm-security'], baseUrl: 'http://m', privateKeyPem: key.privateKeyPem, feedId: 'debian', sequence: 3 }))
      .toThrow(AptFeedError);
  });
});
