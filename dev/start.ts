import fs from 'node:fs';
import path from 'node:path';
import { newSecret } from '../api/credentials';
import { pinnableKeys } from '../config/command-keys';
import { loadConfig } from '../config/config';
import { createLogger } from '../worker/logger';
import { startDemoFleet } from './demo-fleet';
import { demoApi, ensureDemoPolicies, ensureDemoReleasePlan, ensureDemoSchedules, scanFleet } from './demo-policy';
import { startDevStack } from './stack';
import { removeLocalApi, writeLocalApi } from '../cli/local-api';

/**
 * The bootstrap admin's key (user "admin", key "bootstrap"; README "Operators' access"):
 * PATCHFLOW_API_KEY, else one generated on the first start and kept in DATA_DIR/api-key (mode 0600).
 */
function apiKeyFor(dataDir: string, configured?: string): string {
  if (configured) return configured;
  const file = path.join(dataDir, 'api-key');
  if (fs.existsSync(file)) {
    fs.chmodSync(file, 0o600); // a key file copied in with wider permissions is narrowed again
    return fs.readFileSync(file, 'utf8').trim();
  }
  const key = `pf_dev_${newSecret()}`;
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, key, { mode: 0o600 });
  return key;
}

/**
 * `npm start`: embedded PostgreSQL, the Temporal dev server with its Web UI, the worker, the API and
 * a simulated demo fleet that starts installing at once. Ctrl-C stops everything; the data under
 * DATA_DIR (default .data/) is there again on the next start.
 */
async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = loadConfig();
  const dataDir = path.resolve(config.DATA_DIR);
  // The terminal shows the banner and progress lines; the full structured log goes to a file.
  const logFile = path.join(dataDir, 'patchflow.log');
  const log = createLogger(config.LOG_LEVEL, 'patchflow-dev', logFile);
  const say = (msg: string) => process.stdout.write(`${msg}\n`);
  say(`Starting Patchflow: PostgreSQL, Temporal dev server, worker, API${config.DEMO_DEVICES ? `, ${config.DEMO_DEVICES} simulated devices` : ''} (log: ${logFile})`);
  const apiKey = apiKeyFor(dataDir, config.PATCHFLOW_API_KEY);

  const stack = await startDevStack(config, log, {
    apiKey,
    // Demo pacing: an unanswered step is offered again within half a minute, so the demo's
    // offline device visibly catches up instead of waiting out production-length timeouts.
    installTiming: {
      commandTimeoutSeconds: { scan: 60, download: 15, copy: 60, execute: 120, reboot: 120, cleanup: 60 },
      retryInitialSeconds: 2,
      retryMaxSeconds: 15,
      busyBackoffSeconds: 5,
    },
  });
  // The CLI in this folder finds this API (whatever PORT was) and the certificate to pin through this file.
  writeLocalApi(dataDir, { url: stack.apiUrl, caCertPath: stack.caCertPath });
  const cs = stack.catalogSync;
  if (cs) say(`Catalog feed ${cs.feedId}: ${cs.outcome}${cs.sequence !== null ? ` (sequence ${cs.sequence})` : ''}${cs.reason ? `: ${cs.reason}` : ''}.`);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await demo?.stop().catch(() => undefined);
    removeLocalApi(dataDir, stack.apiUrl);
    await stack.stop();
    log.info('stopped; data kept in %s', dataDir);
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  let demo: Awaited<ReturnType<typeof startDemoFleet>> | undefined;
  if (config.DEMO_DEVICES > 0) {
    demo = await startDemoFleet({
      apiUrl: stack.apiUrl, apiKey, dataDir, count: config.DEMO_DEVICES, log, commandKeys: pinnableKeys(stack.commandKeys), caCert: stack.caCert, fetch: stack.fetch,
    });
    const api = demoApi(stack.apiUrl, apiKey, stack.fetch);
    await ensureDemoPolicies(api);
    const scanned = await scanFleet(api, stack.client);
    say(`Scanned ${scanned.scanned} devices under the demo approval policies${scanned.unfinished ? ` (${scanned.unfinished} still scanning)` : ''}.`);
    let started = 0;
    for (const deviceId of demo.deviceIds) {
      const res = await stack.fetch(`${stack.apiUrl}/api/v1/devices/${deviceId}/installs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: '{}',
      });
      if (res.status === 202) started++;
      else log.info({ deviceId, status: res.status, answer: await res.json() }, 'demo install not started');
    }
    for (const deviceId of demo.newMachineIds) {
      const res = await stack.fetch(`${stack.apiUrl}/api/v1/devices/${deviceId}/initial-update`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: '{}',
      });
      say(`New machine ${deviceId}: Initial Update ${res.status === 202 ? 'started' : res.status === 200 ? 'already running' : `not started (${res.status})`} (initial-update/${deviceId}).`);
    }
    const demoSchedules = await ensureDemoSchedules(api);
    for (const s of demoSchedules) say(`Schedule "${s.name}" (${s.id}): trigger it with  npx patchflow schedules trigger ${s.id}`);
    const plan = await ensureDemoReleasePlan(api);
    if (plan) say(`Release plan "${plan.name}" (${plan.id}): npx patchflow release-plans show ${plan.id}; start a release with  npx patchflow release start ${plan.id} --cycle 2026-12 --kb KB5034441`);
    log.info({ devices: demo.deviceIds.length, installsStarted: started }, 'demo fleet running');
    say(`Demo fleet: ${demo.deviceIds.length + demo.newMachineIds.length} simulated devices, ${started} installs started.`);
  }

  // Short when it is under the working folder (.data/tls/dev-cert.pem), else absolute.
  const relative = path.relative(process.cwd(), stack.caCertPath);
  const cacert = relative && !relative.startsWith('..') ? relative : stack.caCertPath;
  const ui = stack.temporalUiUrl ? `${stack.temporalUiUrl}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows` : `(existing server at ${stack.temporalAddress})`;
  // The banner says where the key is, never the key: terminals are scrolled back, logged and shared.
  const keyFile = path.relative(process.cwd(), path.join(config.DATA_DIR, 'api-key'));
  const auth = config.PATCHFLOW_API_KEY ? '"Authorization: Bearer $PATCHFLOW_API_KEY"' : `"Authorization: Bearer $(cat ${keyFile})"`;
  const lines = [
    '',
    `Patchflow is running (ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s).`,
    `  Dashboard            ${stack.apiUrl}/#login=${stack.loginCodes.issue()}   (a one-time sign-in link, valid 15 min; later: paste the API key)`,
    `  API + agent gateway  ${stack.apiUrl}   (admin's API key in ${config.PATCHFLOW_API_KEY ? 'PATCHFLOW_API_KEY' : path.join(config.DATA_DIR, 'api-key')})`,
    `  TLS certificate      ${cacert}   (self-signed for 127.0.0.1 and localhost unless TLS_CERT_PATH: pin it with --cacert; a browser asks once)`,
    `  Temporal Web UI      ${ui}`,
    `  Temporal frontend    ${stack.temporalAddress}`,
    `  Metrics              ${stack.apiUrl}/metrics   (same API key)`,
    `  Data                 ${dataDir}`,
    `  Log                  ${logFile}`,
    '',
    'Try:',
    `  curl -s --cacert ${cacert} -H ${auth} ${stack.apiUrl}/api/v1/devices`,
    `  curl -s --cacert ${cacert} -H ${auth} ${stack.apiUrl}/api/v1/devices/<deviceId>/patches`,
    `  curl -s --cacert ${cacert} -X POST -H ${auth} -H 'content-type: application/json' \\`,
    `       -d '{"kbs":["KB5034439"]}' ${stack.apiUrl}/api/v1/devices/<deviceId>/installs`,
    `  In the Web UI, filter with:  Operation = "install"   or   DeviceId = "<deviceId>"`,
    '',
    'Ctrl-C stops everything; the next `npm start` finds the same data again.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((err) => {
  console.error(`npm start failed: ${err?.stack ?? err}`);
  process.exit(1);
});
