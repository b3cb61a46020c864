import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { runSimulatedAgent } from '../../agent/agent-runner';
import { GatewayClient } from '../../agent/gateway-client';
import { SimulatedWindowsDevice } from '../../agent/simulated-device';
import { checkTransport, InsecureTransportError, isLoopbackHost } from '../../agent/transport';
import { resolveCaCert } from '../../cli/ca-cert';
import { loadConfig } from '../../config/config';
import { devCertificateDir, ensureDevCertificate, loadServerTls } from '../../config/tls';

const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'pf-tls-'));

describe('loopback hosts', () => {
  test.each([
    ['127.0.0.1', true], ['127.8.9.10', true], ['localhost', true], ['LOCALHOST', true], ['agent.localhost', true], ['[::1]', true],
    ['10.0.0.5', false], ['192.168.1.10', false], ['128.0.0.1', false], ['patchflow.example.com', false], ['localhost.example.com', false],
    ['[::ffff:10.0.0.5]', false], ['0.0.0.0', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('the agent refuses to send its credential over http:// to another machine', () => {
  test.each([
    ['http://10.0.0.5:3000', {}, 'refusing to send credentials over plain http:// to 10.0.0.5:3000'],
    ['http://patchflow.example.com', {}, 'refusing to send credentials over plain http:// to patchflow.example.com'],
    ['http://127.0.0.1:3000', { caCert: 'PEM' }, 'a pinned certificate is given but the gateway URL is http://'],
    ['ftp://127.0.0.1', {}, 'must be https://'],
    ['not a url', {}, 'is not a URL'],
  ])('%s %j is refused', (url, options, message) => {
    expect(() => checkTransport(url, options)).toThrow(InsecureTransportError);
    expect(() => checkTransport(url, options)).toThrow(message);
  });

  test.each([
    ['http://127.0.0.1:3000', {}],
    ['http://localhost:3000', {}],
    ['http://[::1]:3000', {}],
    ['http://10.0.0.5:3000', { allowInsecureHttp: true }],
    ['https://patchflow.example.com', {}],
    ['https://10.0.0.5:3000', { caCert: 'PEM' }],
  ])('%s %j is allowed', (url, options) => {
    expect(checkTransport(url, options).href).toBe(new URL(url).href);
  });

  test('the gateway client throws before any request, enrollment token and credential included', () => {
    const fetchSpy = jest.fn();
    expect(() => new GatewayClient({ baseUrl: 'http://10.0.0.5:3000', credential: 'dev.secret', bootId: () => 'b', fetch: fetchSpy })).toThrow(InsecureTransportError);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(() => new GatewayClient({ baseUrl: 'http://10.0.0.5:3000', allowInsecureHttp: true, bootId: () => 'b', fetch: fetchSpy })).not.toThrow();
  });

  test('a simulated agent pointed at http:// on another machine stops with the refusal and sends nothing', async () => {
    const fetchSpy = jest.fn();
    const device = new SimulatedWindowsDevice({ id: 'srv-http', name: 'SRV-HTTP', sandboxDir: scratch(), os: 'server2022', seed: 1 });
    const run = runSimulatedAgent({ baseUrl: 'http://10.0.0.5:3000', device, enrollmentToken: 'token', signal: new AbortController().signal, fetch: fetchSpy });
    await expect(run).rejects.toThrow(/refusing to send credentials over plain http:\/\/ to 10\.0\.0\.5:3000.*--insecure-http/);
    expect(fetchSpy).not.toHaveBeenCalled();
  });
});

describe('TLS settings', () => {
  test('TLS_CERT_PATH and TLS_KEY_PATH go together', () => {
    expect(() => loadConfig({ TLS_CERT_PATH: '/x/cert.pem' })).toThrow('TLS_CERT_PATH and TLS_KEY_PATH go together (TLS_KEY_PATH is not set)');
    expect(() => loadConfig({ TLS_KEY_PATH: '/x/key.pem' })).toThrow('TLS_CERT_PATH and TLS_KEY_PATH go together (TLS_CERT_PATH is not set)');
    expect(loadConfig({ TLS_CERT_PATH: '/x/cert.pem', TLS_KEY_PATH: '/x/key.pem' })).toMatchObject({ TLS_CERT_PATH: '/x/cert.pem' });
    expect(loadServerTls({})).toBeUndefined();
  });

  test('a missing or wrong file fails naming its variable, never printing the key', async () => {
    const dir = scratch();
    const dev = await ensureDevCertificate(dir);
    expect(() => loadServerTls({ TLS_CERT_PATH: path.join(dir, 'nope.pem'), TLS_KEY_PATH: dev.keyPath })).toThrow(/^TLS_CERT_PATH: cannot read/);
    const messageOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    };
    const certIsKey = messageOf(() => loadServerTls({ TLS_CERT_PATH: dev.keyPath, TLS_KEY_PATH: dev.keyPath }));
    expect(certIsKey).toMatch(/^TLS_CERT_PATH: .* is not a PEM certificate/);
    expect(certIsKey).not.toContain('BEGIN');
    const keyIsCert = messageOf(() => loadServerTls({ TLS_CERT_PATH: dev.certPath, TLS_KEY_PATH: dev.certPath }));
    expect(keyIsCert).toMatch(/^TLS_KEY_PATH: .* is not a PEM private key/);
    expect(keyIsCert).not.toContain('BEGIN');
    expect(loadServerTls({ TLS_CERT_PATH: dev.certPath, TLS_KEY_PATH: dev.keyPath })).toEqual({ cert: fs.readFileSync(dev.certPath, 'utf8'), key: fs.readFileSync(dev.keyPath, 'utf8') });
  });
});

describe('the dev certificate', () => {
  test('is made once for 127.0.0.1, ::1 and localhost, key mode 0600, and reused on the next start', async () => {
    const dir = scratch();
    const first = await ensureDevCertificate(dir);
    expect(first.generated).toBe(true);
    expect(fs.statSync(first.keyPath).mode & 0o777).toBe(0o600);
    const x509 = new X509Certificate(fs.readFileSync(first.certPath));
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkIP('::1')).toBeTruthy();
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.ca).toBe(false);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(Date.parse(x509.validTo) - Date.now()).toBeGreaterThan(360 * 86_400_000);
    const pem = fs.readFileSync(first.certPath, 'utf8');

    const second = await ensureDevCertificate(dir);
    expect(second.generated).toBe(false);
    expect(fs.readFileSync(second.certPath, 'utf8')).toBe(pem);
  });

  test('is renewed when fewer than 30 days are left, and when its files do not match', async () => {
    const dir = scratch();
    const first = await ensureDevCertificate(dir);
    const pem = fs.readFileSync(first.certPath, 'utf8');
    expect((await ensureDevCertificate(dir, Date.now() + 300 * 86_400_000)).generated).toBe(false);
    const renewed = await ensureDevCertificate(dir, Date.now() + 340 * 86_400_000);
    expect(renewed.generated).toBe(true);
    expect(fs.readFileSync(renewed.certPath, 'utf8')).not.toBe(pem);
    expect(fs.statSync(renewed.keyPath).mode & 0o777).toBe(0o600);

    // Another pair's key beside this certificate: made anew rather than served broken.
    fs.copyFileSync((await ensureDevCertificate(scratch())).keyPath, first.keyPath);
    expect((await ensureDevCertificate(dir)).generated).toBe(true);
  });
});

describe('the CLI finds the certificate to trust', () => {
  test('--ca-cert / PATCHFLOW_CA_CERT first, else npm start\'s dev certificate for an API on this machine', async () => {
    const dataDir = scratch();
    expect(resolveCaCert('https://127.0.0.1:3000', undefined, dataDir)).toBeUndefined();
    const dev = await ensureDevCertificate(devCertificateDir(dataDir));
    const pem = fs.readFileSync(dev.certPath, 'utf8');
    expect(resolveCaCert('https://127.0.0.1:3000', undefined, dataDir)).toBe(pem);
    expect(resolveCaCert('https://localhost:3000', undefined, dataDir)).toBe(pem);
    // Another machine's API: the system's CAs, not a dev certificate it cannot have.
    expect(resolveCaCert('https://patchflow.example.com', undefined, dataDir)).toBeUndefined();
    expect(resolveCaCert('http://127.0.0.1:3000', undefined, dataDir)).toBeUndefined();
    const other = path.join(dataDir, 'other.pem');
    fs.writeFileSync(other, 'OTHER PEM');
    expect(resolveCaCert('https://patchflow.example.com', other, dataDir)).toBe('OTHER PEM');
    expect(() => resolveCaCert('https://127.0.0.1:3000', path.join(dataDir, 'missing.pem'), dataDir)).toThrow(/--ca-cert \/ PATCHFLOW_CA_CERT: cannot read/);
  });
});
