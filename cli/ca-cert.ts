import fs from 'node:fs';
import path from 'node:path';
import { isLoopbackHost } from '../agent/transport';
import { devCertificateDir } from '../config/tls';
import { UsageError } from './format';

/**
 * The certificate an https:// API must present: --ca-cert, else PATCHFLOW_CA_CERT, else the one
 * `npm start` named in DATA_DIR/api.json for that API (`discovered`), else (for an API on this machine)
 * the dev certificate `npm start` made in DATA_DIR/tls. None: the system's CAs.
 */
export function resolveCaCert(apiUrl: string, given: string | undefined, dataDir = process.env.DATA_DIR ?? '.data', discovered?: string): string | undefined {
  if (given) {
    try {
      return fs.readFileSync(given, 'utf8');
    } catch (err) {
      throw new UsageError(`--ca-cert / PATCHFLOW_CA_CERT: cannot read ${given}: ${(err as Error).message}`);
    }
  }
  if (discovered && apiUrl.startsWith('https:')) {
    try {
      return fs.readFileSync(discovered, 'utf8');
    } catch (err) {
      throw new UsageError(`the certificate npm start named in ${dataDir}/api.json cannot be read (${(err as Error).message}): pass --ca-cert`);
    }
  }
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new UsageError(`--api-url: ${JSON.stringify(apiUrl)} is not a URL`);
  }
  const devCert = path.join(devCertificateDir(dataDir), 'dev-cert.pem');
  if (url.protocol === 'https:' && isLoopbackHost(url.hostname) && fs.existsSync(devCert)) return fs.readFileSync(devCert, 'utf8');
  return undefined;
}
