import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../config/config';

type TemporalSettings = Pick<Config, 'TEMPORAL_NAMESPACE' | 'TEMPORAL_TLS' | 'TEMPORAL_TLS_CERT_PATH' | 'TEMPORAL_TLS_KEY_PATH' | 'TEMPORAL_API_KEY'>;

function tlsOptions(cfg: TemporalSettings) {
  if (!cfg.TEMPORAL_TLS && !cfg.TEMPORAL_TLS_CERT_PATH) return undefined;
  if (cfg.TEMPORAL_TLS_CERT_PATH && cfg.TEMPORAL_TLS_KEY_PATH) {
    return { clientCertPair: { crt: fs.readFileSync(cfg.TEMPORAL_TLS_CERT_PATH), key: fs.readFileSync(cfg.TEMPORAL_TLS_KEY_PATH) } };
  }
  return true as const;
}

/** A client for the API and CLI (starting, querying and completing workflows and activities). */
export async function connectClient(address: string, cfg: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect({ address, tls: tlsOptions(cfg), apiKey: cfg.TEMPORAL_API_KEY });
  return new Client({ connection, namespace: cfg.TEMPORAL_NAMESPACE });
}

/** The worker's connection (native, shared by workers of one process). */
export async function connectWorker(address: string, cfg: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect({ address, tls: tlsOptions(cfg), apiKey: cfg.TEMPORAL_API_KEY });
}
