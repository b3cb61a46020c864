/**
 * The certificate and key the API/agent gateway serves HTTPS with (TLS_CERT_PATH, TLS_KEY_PATH), read once
 * at startup, and the self-signed dev certificate `npm start` makes and keeps under DATA_DIR.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';

/** PEM text of the server's certificate (chain) and private key. */
export interface ServerTls {
  cert: string;
  key: string;
}

function readPem(file: string, variable: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${variable}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The configured certificate and key, or undefined (plain HTTP) when neither is set. Fails naming the
 * variable whose file is missing, unreadable or not PEM of the right kind; never prints the key.
 */
export function loadServerTls(config: { TLS_CERT_PATH?: string; TLS_KEY_PATH?: string }): ServerTls | undefined {
  if (!config.TLS_CERT_PATH && !config.TLS_KEY_PATH) return undefined;
  if (!config.TLS_CERT_PATH || !config.TLS_KEY_PATH) {
    throw new Error(`TLS_CERT_PATH and TLS_KEY_PATH go together (${config.TLS_CERT_PATH ? 'TLS_KEY_PATH' : 'TLS_CERT_PATH'} is not set)`);
  }
  const cert = readPem(config.TLS_CERT_PATH, 'TLS_CERT_PATH');
  const key = readPem(config.TLS_KEY_PATH, 'TLS_KEY_PATH');
  try {
    new X509Certificate(cert);
  } catch (err) {
    throw new Error(`TLS_CERT_PATH: ${config.TLS_CERT_PATH} is not a PEM certificate (${(err as Error).message})`, { cause: err });
  }
  try {
    createPrivateKey(key);
  } catch (err) {
    throw new Error(`TLS_KEY_PATH: ${config.TLS_KEY_PATH} is not a PEM private key (${(err as Error).message})`, { cause: err });
  }
  return { cert, key };
}

/** The names the dev certificate is valid for: what `npm start` prints, and what a browser on this machine types. */
const DEV_NAMES = { dns: ['localhost'], ip: ['127.0.0.1', '::1'] };
const DAY_MS = 24 * 60 * 60 * 1000;
/** Valid for a year; renewed on the start that finds fewer than 30 days left, so a running demo never sees it lapse. */
const DEV_CERT_DAYS = 365;
const DEV_CERT_RENEW_DAYS = 30;

export interface DevCertificate {
  certPath: string;
  keyPath: string;
  /** true when this call made it (first start, expiring, or for other names) */
  generated: boolean;
  notAfter: Date;
}

/** Whether the PEM at `certPath` is one we can keep: parseable, for the dev names, and not about to expire. */
function reusable(certPath: string, keyPath: string, now: number): X509Certificate | undefined {
  if (!fs.existsSync(certPath) || !fs.existsSync(keyPath)) return undefined;
  try {
    const x509 = new X509Certificate(fs.readFileSync(certPath, 'utf8'));
    if (!x509.checkPrivateKey(createPrivateKey(fs.readFileSync(keyPath, 'utf8')))) return undefined;
    if (Date.parse(x509.validTo) - now < DEV_CERT_RENEW_DAYS * DAY_MS) return undefined;
    const names = [...DEV_NAMES.dns.map((n) => x509.checkHost(n)), ...DEV_NAMES.ip.map((ip) => x509.checkIP(ip))];
    return names.every(Boolean) ? x509 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A self-signed certificate for 127.0.0.1, ::1 and localhost under `dir` (`dev-cert.pem`, and `dev-key.pem`
 * with mode 0600), made when missing, unreadable or within 30 days of expiry, else reused. It is its own
 * CA: agents and the CLI pin exactly this file. An end-entity certificate (CA:FALSE, serverAuth), ECDSA
 * P-256 signed with SHA-256, because browsers refuse SHA-1 and Firefox refuses a CA certificate served as
 * a site's; so the printed URL opens in a browser once the warning is accepted.
 */
export async function ensureDevCertificate(dir: string, now = Date.now()): Promise<DevCertificate> {
  const certPath = path.join(dir, 'dev-cert.pem');
  const keyPath = path.join(dir, 'dev-key.pem');
  const kept = reusable(certPath, keyPath, now);
  if (kept) return { certPath, keyPath, generated: false, notAfter: new Date(kept.validTo) };
  const notAfter = new Date(now + DEV_CERT_DAYS * DAY_MS);
  const pems = await generate([{ name: 'commonName', value: 'Patchflow dev (localhost)' }, { name: 'organizationName', value: 'Patchflow development' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    // A minute back, so a clock that is a little behind still sees it as valid.
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...DEV_NAMES.dns.map((value) => ({ type: 2 as const, value })), ...DEV_NAMES.ip.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  fs.mkdirSync(dir, { recursive: true });
  // The key first, created 0600 (never world-readable, not even for a moment); replaced whole, never
  // rewritten in place, so a reader sees either the old pair or the new one.
  const write = (file: string, text: string, mode: number) => {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text, { mode, flag: 'w' });
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  };
  write(keyPath, pems.private, 0o600);
  write(certPath, pems.cert, 0o644);
  return { certPath, keyPath, generated: true, notAfter };
}

/** Where `npm start` keeps its dev certificate: DATA_DIR/tls (the CLI looks there too). */
export const devCertificateDir = (dataDir: string): string => path.join(path.resolve(dataDir), 'tls');
