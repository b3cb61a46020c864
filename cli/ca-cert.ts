import fs from 'node:fs';
import path from 'node:path';
import { isLoopbackHost } from '../agent/transport';
import { devCertificateDir } from '../config/tls';
import { UsageError } from './format';

/**
 * The certificate an https:// API must present: --ca-cert, else PATCHFLOW_CA_CERT, else (for an API on
 * this machine) the dev certificate `npm start` made in DATA_DIR/tls. None: the system's CAs.
 */
export function resolveCaCert(apiUrl: string, given: string | undefined, dataDir = process.env.DATA_DIR ?? '.data'): string | undefined {
  if (given) {
    try {
      return fs.readFileSync(given, 'utf8');
    } catch (err) {
      throw new UsageError(`--ca-cert / PATCHFLOW_CA_CERT: cannot read ${given}: ${(err as Error).message}`);
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
