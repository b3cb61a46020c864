/**
 * `patchflow`: the operators' command line. It speaks HTTP to the operators' API only (see
 * api/operators-api.ts); it never touches Temporal or PostgreSQL. Run it with `npx patchflow …`
 * (cli/bin.js) or `npm run patchflow -- …`.
 */
import type { FileSource } from '../domain/file-source';
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { ImportReport } from '../api/catalog-import-service';
import type { describeCatalogSync, listCatalogFeeds } from '../api/catalog-service';
import type { InstallView } from '../api/install-service';
import type { InitialUpdateView } from '../api/initial-update-service';
import type { ScheduleView } from '../api/schedule-service';
import type { RolloutRow } from '../db/rollout-repository';
import type { PatchTestRow } from '../db/patch-test-repository';
import { ApiError, ConnectionError, PatchflowApi } from './api-client';
import { resolveCaCert } from './ca-cert';
import { resolveApiTarget } from './local-api';
import { OUTPUT_MODES, renderOutput, renderStreamItem, resolveOutputMode, type OutputMode } from './output';
import type { CliContext } from './context';
import { registerPolicyCommands } from './policy-commands';
import { registerAlertCommands } from './alert-commands';
import { registerReleaseCommands } from './release-commands';
import { registerHaltCommands } from './halt-commands';
import { pendingText, type PendingAnswer } from './policy-views';
import { InsecureTransportError } from '../agent/transport';
import {
  parseDeviceName, parseDeviceType, parseInstallKey, parseIntOption, parseKbs, parseName, parsePatchStatus, parseScope, parseUuid, renderFields, UsageError,
} from './format';
import { runPatchOverviewReport } from './report';
import { AptFeedError, buildAptFeed } from './apt-feed';
import { AgentConfigError, DEFAULT_STATE_DIR, runRealAgent } from '../agent/real-agent';
import { runSimulatedAgents } from './simulate';
import { catalogFeedsText, catalogImportText, catalogSyncText } from './catalog-views';
import {
  approvalRequestsTable, auditLine, scanText, type ScanView, auditTable, clientsTable, keysTable, usersTable, deviceFields, devicePatchesTable, devicesTable, needsAttentionTable, initialUpdateText, installText, patchTestText, reportsTable, rolloutsText, schedulesText, sitesTable, fileSourceText, whatIfText, type WhatIfAnswer,
} from './views';
import type { ReportView } from '../api/report-service';
import type { AuditRow } from '../db/audit-repository';
import type { ApiKeyRow, UserRow } from '../db/access-repository';
import type { ApprovalRequestRow } from '../db/approval-request-repository';
import type { DeviceRow } from '../db/fleet-repository';

type CatalogFeedView = Awaited<ReturnType<typeof listCatalogFeeds>>[number];
type CatalogSyncView = Awaited<ReturnType<typeof describeCatalogSync>>;

interface GlobalOptions { apiUrl?: string; apiKey?: string; caCert?: string; dataDir?: string; output?: string; json?: boolean }

const say = (text: string) => process.stdout.write(`${text}\n`);
const warn = (text: string) => process.stderr.write(`${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The API key: --api-key, else PATCHFLOW_API_KEY, else the key `npm start` generated in
 * DATA_DIR/api-key (so the CLI works against a local dev stack with no setup).
 */
function resolveApiKey(given: string | undefined, dataDir: string): string {
  if (given) return given;
  const file = path.resolve(dataDir, 'api-key');
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  throw new UsageError('no API key: pass --api-key <key> or set PATCHFLOW_API_KEY');
}

/** The repo's package.json, found upwards from this file (cli/ under tsx, dist/cli/ in the bundle). */
function packageVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'patchflow') return pkg.version;
    } catch {
      // not here: one folder up
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

function buildProgram(): Command {
  const program = new Command('patchflow')
    .description('Operate Patchflow through its operators\' API: fleet, patch status and installs')
    .addOption(new Option('--api-url <url>', 'operators\' API base URL (default: the one npm start wrote to DATA_DIR/api.json, else https://127.0.0.1:3000)').env('PATCHFLOW_API_URL'))
    .addOption(new Option('--ca-cert <file>', 'PEM certificate (or CA) the https:// API must present (default: the one npm start named in DATA_DIR/api.json, or its DATA_DIR/tls/dev-cert.pem for a local API)').env('PATCHFLOW_CA_CERT'))
    .addOption(new Option('--api-key <key>', 'operators\' API key (default: npm start\'s DATA_DIR/api-key)').env('PATCHFLOW_API_KEY')) // .env(): help never prints the key
    .addOption(new Option('--data-dir <dir>', 'the folder npm start keeps its api.json, api-key and dev certificate in (default: DATA_DIR, else .data)').env('PATCHFLOW_DATA_DIR'))
    .addOption(new Option('-o, --output <mode>', 'text (tables), json (one document) or jsonl (one JSON value per line: a list\'s rows, a stream\'s changes)').choices(OUTPUT_MODES).env('PATCHFLOW_OUTPUT'))
    .option('--json', 'the same as -o json')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)');

  const globals = () => program.opts<GlobalOptions>();
  const dataDir = () => globals().dataDir ?? process.env.DATA_DIR ?? '.data';
  const target = () => resolveApiTarget(globals().apiUrl, dataDir());
  const caCert = () => resolveCaCert(target().url, globals().caCert, dataDir(), target().caCertPath);
  const api = () => new PatchflowApi({ baseUrl: target().url, apiKey: resolveApiKey(globals().apiKey, dataDir()), caCert: caCert() });
  const output = () => resolveOutputMode(globals().output, globals().json);
  /** The data in the chosen output mode: the text rendering, the JSON document, or one JSON value per line. */
  const emit = <T>(data: T, human: (d: T) => string) => {
    const text = renderOutput(output(), data, human);
    if (text !== undefined) say(text);
  };
  const ctx: CliContext = { api, output, emit, say, warn };
  // A wrong -o/--json pair is refused before the command calls anything (nothing is changed and then not shown).
  program.hook('preAction', () => { output(); });

  // ---- clients ----
  const clients = program.command('clients').description('MSP clients');
  clients.command('list').description('list clients').action(async () => {
    emit(await api().listClients(), clientsTable);
  });
  clients.command('create <name>').description('create a client').action(async (name: string) => {
    emit(await api().createClient(parseName(name, 'client name')), (c) => `created client ${c.name}: ${c.id}`);
  });

  // ---- sites ----
  const sites = program.command('sites').description('sites of a client');
  sites.command('list').description('list sites').option('--client <id>', 'only this client\'s sites').action(async (o: { client?: string }) => {
    emit(await api().listSites(o.client === undefined ? undefined : parseUuid(o.client, '--client')), sitesTable);
  });
  sites.command('create <name>').description('create a site').requiredOption('--client <id>', 'the client it belongs to')
    .action(async (name: string, o: { client: string }) => {
      const site = await api().createSite(parseUuid(o.client, '--client'), parseName(name, 'site name'));
      emit(site, (s) => `created site ${s.clientName} / ${s.name}: ${s.id}`);
    });
  sites.command('file-source <siteId> <source>')
    .description("set where a site's devices get patch files: internet, cache, lan-share or temp-most-free-drive (the server checks the value)")
    .option('--no-fallback', 'try only this source (default: fall back lan-share → cache → internet)')
    .action(async (siteId: string, source: string, o: { fallback: boolean }) => {
      const site = await api().setSiteFileSource(parseUuid(siteId, 'site id'), { source: source as FileSource, fallback: o.fallback });
      emit(site, (s) => `${s.clientName} / ${s.name}: file source ${fileSourceText(s.fileSource)}`);
    });

  // ---- devices ----
  const devices = program.command('devices').description('managed devices and their patches');
  devices.command('list').description('list devices').option('--client <id>', 'only this client').option('--site <id>', 'only this site')
    .option('--needs-attention', 'only devices an automatic rollback left needing attention')
    .action(async (o: { client?: string; site?: string; needsAttention?: boolean }) => {
      const filter = {
        clientId: o.client === undefined ? undefined : parseUuid(o.client, '--client'),
        siteId: o.site === undefined ? undefined : parseUuid(o.site, '--site'),
        needsAttention: o.needsAttention ? 'true' as const : undefined,
      };
      emit(await api().listDevices(filter), o.needsAttention ? needsAttentionTable : devicesTable);
    });
  devices.command('clear-attention <deviceId>').description('after fixing it: clear a device\'s "needs attention" (an automatic rollback could not finish)')
    .requiredOption('--note <text>', 'what you fixed (kept in the audit log)')
    .action(async (id: string, o: { note: string }) => {
      const d = await api().post<DeviceRow>(`/devices/${parseUuid(id, 'device id')}/needs-attention/clear`, { note: o.note });
      emit(d, (x) => `cleared "needs attention" on ${x.name} (${x.id})`);
    });
  devices.command('create <name>').description('register a device; prints its one-time enrollment token')
    .requiredOption('--site <id>', 'the site it belongs to').requiredOption('--type <type>', 'server or workstation')
    .option('--os <os>', 'operating system, e.g. server2022, win11')
    .action(async (name: string, o: { site: string; type: string; os?: string }) => {
      const body = { siteId: parseUuid(o.site, '--site'), name: parseDeviceName(name), deviceType: parseDeviceType(o.type), os: o.os?.trim() || undefined };
      emit(await api().createDevice(body), (c) => [
        `created device ${c.device.name}: ${c.device.id}`,
        `enrollment token: ${c.enrollmentToken}`,
        'warning: the enrollment token is shown only once (only its hash is stored). Give it to the device\'s agent now.',
      ].join('\n'));
    });
  devices.command('show <deviceId>').description('show one device').action(async (id: string) => {
    emit(await api().getDevice(parseUuid(id, 'device id')), deviceFields);
  });
  devices.command('patches <deviceId>').description('a device\'s patches and their status')
    .option('--status <status>', 'only patches with this status (missing, pending, installing, installed, failed, ignored, reboot_required)')
    .action(async (id: string, o: { status?: string }) => {
      const rows = await api().devicePatches(parseUuid(id, 'device id'), o.status ? parsePatchStatus(o.status) : undefined);
      emit(rows, (r) => (r.length ? devicePatchesTable(r) : 'no patches (the device has not been scanned yet, or none match)'));
    });

  // ---- installs ----
  const install = program.command('install').description('patch installs (one durable workflow per device install)');
  install.command('start <deviceId>').description('install patches on a device (default: every missing patch)')
    .option('--kb <KB...>', 'only these KBs (space or comma separated), e.g. KB5034441')
    .option('--no-reboot', 'never restart the device; patches needing a restart stay reboot_required')
    .action(async (id: string, o: { kb?: string[]; reboot: boolean }) => {
      const deviceId = parseUuid(id, 'device id');
      const started = await api().startInstall(deviceId, { kbs: o.kb ? parseKbs(o.kb) : undefined, rebootAllowed: o.reboot });
      emit(started, (s) => [
        `install started: ${s.workflowId}`,
        `key:      ${s.key}`,
        `location: ${s.location}`,
        `watch it: patchflow install show ${deviceId} ${s.key} --watch`,
      ].join('\n'));
    });
  install.command('show <deviceId> <key>').description('an install\'s status, step and per-patch state')
    .option('--watch', 'poll every 2 s until the install is no longer RUNNING')
    .action(async (id: string, key: string, o: { watch?: boolean }) => {
      await showInstall(api(), parseUuid(id, 'device id'), parseInstallKey(key), !!o.watch, output());
    });
  install.command('cancel <deviceId> <key>').description('ask a running install to stop (cleanup still runs)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (id: string, key: string, o: { reason?: string }) => {
      const answer = await api().cancelInstall(parseUuid(id, 'device id'), parseInstallKey(key), o.reason?.trim() || undefined);
      emit(answer, (a) => (a.accepted ? `cancel requested at step ${a.step}; cleanup still runs` : `cancel not accepted (step ${a.step})`));
    });

  // ---- Initial Update ----
  const iu = program.command('initial-update').description('patch a new machine to fully current (one per device)');
  iu.command('start <deviceId>').description('start the device\'s Initial Update (or show the running one)')
    .action(async (id: string) => {
      const deviceId = parseUuid(id, 'device id');
      const started = await api().post<{ workflowId: string; existing: boolean }>(`/devices/${deviceId}/initial-update`, {});
      emit(started, (s) => [
        s.existing ? `already running: ${s.workflowId}` : `Initial Update started: ${s.workflowId}`,
        `watch it: patchflow initial-update show ${deviceId} --watch`,
      ].join('\n'));
    });
  iu.command('show <deviceId>').description('cycle, step, installed / remaining / failed patches')
    .option('--watch', 'poll every 2 s until it is no longer RUNNING')
    .action(async (id: string, o: { watch?: boolean }) => {
      const deviceId = parseUuid(id, 'device id');
      let last = '';
      for (;;) {
        const view = await api().get<InitialUpdateView>(`/devices/${deviceId}/initial-update`);
        const text = renderStreamItem(output(), view, initialUpdateText);
        if (text !== last) { if (last && output() !== 'jsonl') say(''); say(text); last = text; }
        if (!o.watch || view.status !== 'RUNNING') return;
        await sleep(2000);
      }
    });
  iu.command('cancel <deviceId>').description('stop the Initial Update (the running install still cleans up)')
    .option('--reason <text>', 'why, for the audit log')
    .action(async (id: string, o: { reason?: string }) => {
      const answer = await api().post<{ accepted: boolean; cycle: number }>(
        `/devices/${parseUuid(id, 'device id')}/initial-update/cancel`, o.reason?.trim() ? { reason: o.reason.trim() } : {});
      emit(answer, (a) => (a.accepted ? `cancel requested during cycle ${a.cycle}` : 'cancel not accepted'));
    });

  // ---- Patch Test ----
  program.command('patch-test <deviceId>').description('a dry run of an install on a device (every step but execute and reboot); prints each check with its reason')
    .option('--show', 'only print the latest result, start nothing')
    .option('--timeout <seconds>', 'how long to wait for the result (default 600)', '600')
    .action(async (id: string, o: { show?: boolean; timeout: string }) => {
      const deviceId = parseUuid(id, 'device id');
      if (o.show) {
        emit(await api().get<PatchTestRow>(`/devices/${deviceId}/patch-test`), patchTestText);
        return;
      }
      const started = await api().post<{ workflowId: string; location: string }>(`/devices/${deviceId}/patch-test`, {});
      if (output() === 'text') say(`Patch Test started: ${started.workflowId}`);
      const deadline = Date.now() + Math.max(1, Number(o.timeout) || 600) * 1000;
      for (;;) {
        // The result is stored when the test has evaluated what the device saw: wait for this test's row.
        const latest = await api().get<PatchTestRow>(`/devices/${deviceId}/patch-test`).catch(() => undefined);
        if (latest?.workflowId === started.workflowId) {
          emit(latest, patchTestText);
          if (!latest.passed) process.exitCode = 1;
          return;
        }
        if (Date.now() > deadline) throw new Error(`no result yet from ${started.workflowId}; see it later with: patchflow patch-test ${deviceId} --show`);
        await sleep(2000);
      }
    });

  // ---- scans ----
  program.command('scan <deviceId>').description('scan a device for applicable updates (results processed only when they changed)')
    .action(async (id: string) => {
      const deviceId = parseUuid(id, 'device id');
      const started = await api().post<{ workflowId: string; location: string }>(`/devices/${deviceId}/scans`, {});
      emit(started, (s) => `scan started: ${s.workflowId}\nresult: GET ${s.location}`);
    });

  const scans = program.command('scans').description('scans of a scope (every device of it), and one scan\'s result');
  scans.command('start').description('scan every device of a scope (past the two-person threshold, a second person approves first)')
    .requiredOption('--scope <scope>', 'all, device_type:server|workstation, client:<id> or site:<id>')
    .action(async (o: { scope: string }) => {
      const scope = parseScope(o.scope, '--scope', ['all', 'client', 'site', 'device_type']);
      const answer = await api().post<PendingAnswer & { scans?: { deviceId: string; workflowId: string }[] }>('/scans', scope.scopeType === 'all' ? { scopeType: 'all' } : scope);
      emit(answer, (a) => pendingText(a) ?? `${a.scans!.length} scans started${a.scans!.length ? `:\n${a.scans!.map((x) => `  ${x.workflowId}`).join('\n')}` : ''}`);
    });
  scans.command('show <deviceId> <key>').description('one scan\'s status and result (the key is the end of the scan\'s workflow id)')
    .action(async (id: string, key: string) => {
      emit(await api().get<ScanView>(`/devices/${parseUuid(id, 'device id')}/scans/${encodeURIComponent(parseInstallKey(key))}`), scanText);
    });
  scans.command('last <deviceId>').description('the device\'s last processed scan').action(async (id: string) => {
    emit(await api().get<Record<string, unknown>>(`/devices/${parseUuid(id, 'device id')}/last-scan`), (v) => renderFields(Object.entries(v).map(([k, x]) => [k, typeof x === 'object' && x !== null ? JSON.stringify(x) : x as string])));
  });

  registerPolicyCommands(program, ctx);
  registerAlertCommands(program, ctx);
  registerReleaseCommands(program, ctx);
  registerHaltCommands(program, ctx);

  // ---- what-if ----
  program.command('what-if <proposal>').description('what the next Automatic Update runs would install where under a proposed change, against today (changes nothing)')
    .addHelpText('after', `
A proposal is JSON (or @file.json), in the shapes of the routes that would make the change, e.g.
  '{"approvals":[{"policyId":"all","kbs":["KB5034439"],"status":"approved"}]}'
  '{"patchActions":[{"scopeType":"site","scopeId":"<site id>","kbs":["KB890830"],"action":"ignore"}]}'
  '{"kbOverrides":[{"kb":"KB890830","status":"denied"}],"scheduleId":"<schedule id>"}'`)
    .action(async (proposal: string) => {
      const text = proposal.startsWith('@') ? readFileOption(proposal.slice(1), 'proposal') : proposal;
      const body = { includePredictions: false, ...(parseJsonOption(text, 'proposal') as Record<string, unknown>) };
      emit(await api().post<WhatIfAnswer>('/what-if', body), whatIfText);
    });

  // ---- schedules ----
  const schedules = program.command('schedules').description('scan and Automatic Update schedules (Temporal Schedules)');
  schedules.command('list').description('schedules with their next run times').action(async () => {
    const { schedules: rows } = await api().get<{ schedules: ScheduleView[] }>('/schedules');
    emit(rows, (r) => schedulesText(r));
  });
  schedules.command('create <name>').description('define a schedule')
    .requiredOption('--kind <kind>', 'scan or automatic_update')
    .requiredOption('--scope <scope>', 'all, device_type:server, client:<id>, site:<id> or policy:<id>')
    .requiredOption('--timing <json>', 'e.g. \'{"kind":"weekly","days":["wed"],"time":"02:00","timezone":"Europe/London"}\', {"kind":"monthly_patch_tuesday","offsetDays":1,...} or {"kind":"monthly_weekday","week":"last","weekday":"fri",...}')
    .option('--window <minutes>', 'distribution window in minutes', '0')
    .option('--maintenance <json>', 'maintenance window, e.g. \'{"start":"01:00","durationMinutes":240}\'')
    .option('--reboot <json>', 'reboot action, e.g. \'{"action":"warn_then_reboot","minutes":15}\' (default: skip if a user is logged on)')
    .option('--missed <policy>', 'a device offline at the run: skip, run_on_check_in, or run_asap (also catches up a run the server missed, for 7 days)', 'skip')
    .option('--no-missed-reboot', 'a missed run that starts late installs but never restarts the device (left Reboot Required)')
    .option('--kbs <KB...>', 'a per-patch schedule: install only these KBs at each run (automatic_update only; default: what policy approves)')
    .action(async (name: string, o: { kind: string; scope: string; timing: string; window: string; maintenance?: string; reboot?: string; missed: string; missedReboot: boolean; kbs?: string[] }) => {
      const scope = parseScope(o.scope, '--scope', ['all', 'device_type', 'client', 'site', 'policy']);
      const body = {
        name, kind: o.kind, scope: scope.scopeType === 'all' ? { scopeType: 'all' } : scope,
        ...(o.kbs ? { kbs: parseKbs(o.kbs) } : {}),
        distributionWindowMinutes: parseIntOption(o.window, '--window', 0, 1440),
        timing: parseJsonOption(o.timing, '--timing'),
        ...(o.maintenance ? { maintenanceWindow: parseJsonOption(o.maintenance, '--maintenance') } : {}),
        ...(o.reboot ? { rebootAction: parseJsonOption(o.reboot, '--reboot') } : {}),
        missedRun: o.missed, missedRunReboot: o.missedReboot,
      };
      emit(await api().post<ScheduleView>('/schedules', body), (v) => schedulesText([v]));
    });
  for (const verb of ['pause', 'resume', 'trigger'] as const) {
    schedules.command(`${verb} <scheduleId>`).description(`${verb} a schedule${verb === 'trigger' ? ' (run it now)' : ''}`)
      .action(async (id: string) => {
        const answer = await api().post<PendingAnswer>(`/schedules/${parseUuid(id, 'schedule id')}/${verb}`, {});
        emit(answer, (a) => pendingText(a) ?? `${verb}: done`);
      });
  }
  schedules.command('backfill <scheduleId>').description('run the actions that fell due in a past time range (a missed run)')
    .requiredOption('--from <iso>', 'start, e.g. 2026-11-18T00:00:00Z').requiredOption('--to <iso>', 'end')
    .action(async (id: string, o: { from: string; to: string }) => {
      emit(await api().post<PendingAnswer>(`/schedules/${parseUuid(id, 'schedule id')}/backfill`, { start: o.from, end: o.to }), (a: PendingAnswer) => pendingText(a) ?? 'backfill requested');
    });
  schedules.command('rollouts <scheduleId>').description('past rollouts of a schedule with their counts')
    .action(async (id: string) => {
      const { rollouts } = await api().get<{ rollouts: RolloutRow[] }>(`/schedules/${parseUuid(id, 'schedule id')}/rollouts`);
      emit(rollouts, (r) => rolloutsText(r));
    });

  // ---- catalog ----
  const catalog = program.command('catalog').description('the patch catalog: signed feeds and operators\' imports');
  catalog.command('feeds').description('configured feeds and what was last applied from each').action(async () => {
    const { feeds } = await api().get<{ feeds: CatalogFeedView[] }>('/catalog/feeds');
    emit(feeds, (f) => catalogFeedsText(f));
  });
  catalog.command('sync').description('fetch, verify and apply a catalog feed now (default: the configured feed)')
    .option('--feed <id>', 'feed id')
    .option('--no-wait', 'return once started')
    .action(async (o: { feed?: string; wait: boolean }) => {
      const client = api();
      const started = await client.post<{ feedId: string; runId: string; workflowId: string; location: string }>('/catalog/sync', o.feed ? { feedId: o.feed } : {});
      if (!o.wait) {
        emit(started, (s) => `catalog sync started: ${s.workflowId} (run ${s.runId})\nresult: GET ${s.location}`);
        return;
      }
      for (;;) {
        const view = await client.get<CatalogSyncView>(started.location.replace(/^\/api\/v1/, ''));
        if (view.status !== 'RUNNING') {
          emit(view, (v) => catalogSyncText(v));
          if (view.status !== 'COMPLETED' || view.result?.outcome === 'refused') process.exitCode = 1;
          return;
        }
        await sleep(1000);
      }
    });
  catalog.command('build-apt-feed').description('sign a catalog feed from a Debian archive (dists/<suite>/Release and its Packages, SHA-256s checked); prints the feed JSON')
    .requiredOption('--repo <dir>', 'the archive\'s top folder (with dists/ and pool/)')
    .requiredOption('--suite <suite...>', 'suites to include, e.g. bookworm bookworm-security')
    .requiredOption('--base-url <url>', 'where devices download the .debs (Filename is appended)')
    .requiredOption('--key <file>', 'the feed\'s Ed25519 private key (PEM)')
    .requiredOption('--feed-id <id>', 'the feed id the server pins the key for')
    .requiredOption('--sequence <n>', 'the feed\'s sequence: higher than the last one published')
    .option('--product <name>', 'the distribution as operators see it (default: from Release)')
    .option('--out <file>', 'write the feed here instead of stdout')
    .action((o: { repo: string; suite: string[]; baseUrl: string; key: string; feedId: string; sequence: string; product?: string; out?: string }) => {
      const { feed, refused } = buildAptFeed({
        repoDir: o.repo, suites: o.suite, baseUrl: o.baseUrl, privateKeyPem: readTextOption(o.key, '--key'), feedId: o.feedId,
        sequence: parseIntOption(o.sequence, '--sequence', 1, 2 ** 31 - 1), product: o.product,
      });
      for (const r of refused) warn(`refused: ${r}`);
      const text = `${JSON.stringify(feed, null, 2)}\n`;
      if (o.out) fs.writeFileSync(o.out, text);
      else process.stdout.write(text);
      warn(`${feed.entries.length} entries signed with key ${feed.signature.keyId}`);
    });
  catalog.command('import <file>').description('import a catalog file from another RMM (CSV) or a feed-format JSON; shows what would change')
    .option('--apply', 'write it (without: a dry run that writes nothing)')
    .action(async (file: string, o: { apply?: boolean }) => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
      }
      const isJson = /\.json$/i.test(file) || /^\s*[{[]/.test(text);
      const report = await api().postText<ImportReport>(`/catalog/import?dryRun=${o.apply ? 'false' : 'true'}`, text, isJson ? 'application/json' : 'text/csv');
      emit(report, (r) => catalogImportText(r));
    });

  // ---- reports ----
  const report = program.command('report').description('the Patch Overview Report, and offline reports (CSV - Offline Mode)');
  report.command('patch-overview').description('every (device, patch) with its status, streamed to stdout (progress on stderr in a terminal)')
    .option('--client <name or id>', 'one client (default: all clients)')
    .option('--format <format>', 'csv, html, xml or json', 'csv')
    .option('--group-by <grouping>', 'patch (counts per status) or device (compliance)', 'patch')
    .option('--status <list>', 'only these statuses, e.g. failed,missing (default: every status)')
    .option('--offline', 'write it in the background (a report/<id> workflow), wait, then download the CSV')
    .action(async (o: { client?: string; format: string; groupBy: string; status?: string; offline?: boolean }) => {
      await runPatchOverviewReport(api(), o, warn);
    });
  report.command('list').description('offline reports with their state').action(async () => {
    const { reports } = await api().get<{ reports: ReportView[] }>('/reports');
    emit(reports, (r) => (r.length ? reportsTable(r) : 'no offline reports yet'));
  });
  report.command('show <reportId>').description('an offline report\'s state and progress').action(async (id: string) => {
    emit(await api().get<ReportView>(`/reports/${parseUuid(id, 'report id')}`), (r) => reportsTable([r]));
  });
  report.command('download <reportId>').description('a finished offline report\'s CSV, to stdout').action(async (id: string) => {
    const res = await api().stream(`/reports/${parseUuid(id, 'report id')}/download`);
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
    }
  });

  // ---- audit ----
  program.command('audit').description('the append-only audit log, newest first (--follow: new entries as they come)')
    .option('--device <id>', 'only this device\'s entries')
    .option('--client <id>', 'only entries about this client\'s devices')
    .option('--actor <actor>', 'only this actor ("user:alice/key:laptop"), or a prefix ending in * ("user:alice/*")')
    .option('--action <action>', 'only this action ("key.revoked"), or a prefix ending in * ("auth.*")')
    .option('--since <time>', 'only entries at or after this ISO time')
    .option('--until <time>', 'only entries before this ISO time')
    .option('--before <cursor>', 'the page older than this cursor (a previous answer\'s nextCursor)')
    .option('--limit <n>', 'at most this many entries (1-1000)', '50')
    .option('--follow', 'after the latest entries, print new ones as they are written, until Ctrl-C')
    .option('--interval <s>', 'how often --follow asks for new entries, in seconds', '2')
    .action(async (o: { device?: string; client?: string; actor?: string; action?: string; since?: string; until?: string; before?: string; limit: string; follow?: boolean; interval: string }) => {
      const filter = {
        deviceId: o.device === undefined ? undefined : parseUuid(o.device, '--device'),
        clientId: o.client === undefined ? undefined : parseUuid(o.client, '--client'),
        actor: o.actor, action: o.action, since: o.since, until: o.until,
      };
      const limit = parseIntOption(o.limit, '--limit', 1, 1000);
      const page = await api().get<{ entries: AuditRow[]; nextCursor: string | null }>('/audit', { ...filter, before: o.before, limit: String(limit) });
      if (!o.follow) {
        // -o json prints the entries, as --json always has (jsonl: one per line); the next page's cursor goes to stderr.
        emit(page.entries, (r) => (r.length ? auditTable(r) : 'no audit entries'));
        if (page.nextCursor) warn(`(older entries: --before ${page.nextCursor})`);
        return;
      }
      // Follow: the latest page oldest first, then forward from the newest id seen, by cursor (none skipped, none twice).
      // Both JSON modes print one compact entry per line here: a stream has no end to close a document with.
      const print = (a: AuditRow) => say(output() === 'text' ? auditLine(a) : JSON.stringify(a));
      [...page.entries].reverse().forEach(print);
      let after = page.entries[0]?.id ?? 0;
      const intervalMs = parseIntOption(o.interval, '--interval', 1, 3600) * 1000;
      for (;;) {
        const next = await api().get<{ entries: AuditRow[] }>('/audit', { ...filter, after: String(after), limit: '1000' });
        next.entries.forEach(print);
        if (next.entries.length > 0) after = next.entries[next.entries.length - 1].id;
        else await sleep(intervalMs);
      }
    });

  // ---- people, keys, two-person requests ----
  const users = program.command('users').description('people who operate Patchflow (admins with a key for all clients)');
  users.command('list').description('list users').action(async () => {
    emit((await api().get<{ users: UserRow[] }>('/users')).users, usersTable);
  });
  users.command('create <name>').description('add a person with a role: viewer < operator < approver < admin')
    .requiredOption('--role <role>', 'viewer, operator, approver or admin')
    .action(async (name: string, o: { role: string }) => {
      emit(await api().post<UserRow>('/users', { name: parseName(name, 'user name'), role: o.role }), (u) => `created user ${u.name} (${u.role}): ${u.id}`);
    });
  const keys = program.command('keys').description('personal API keys: hashed at rest, named, expiring, revocable');
  keys.command('list').description('every key with its user, role, clients, expiry and last use (never the key)').action(async () => {
    emit((await api().get<{ keys: ApiKeyRow[] }>('/keys')).keys, keysTable);
  });
  keys.command('create <name>').description('mint a key for a user; prints the key once')
    .requiredOption('--user <user>', 'the user\'s name or id')
    .option('--clients <ids>', 'comma-separated client ids the key may see (default: every client)')
    .option('--expires-days <n>', 'days until the key stops working (0: never)', '90')
    .action(async (name: string, o: { user: string; clients?: string; expiresDays: string }) => {
      const days = parseIntOption(o.expiresDays, '--expires-days', 0, 3650);
      const clients = o.clients === undefined ? 'all' : o.clients.split(',').map((c) => parseUuid(c, '--clients'));
      const minted = await api().post<ApiKeyRow & { key: string }>(`/users/${encodeURIComponent(o.user)}/keys`, {
        name: parseName(name, 'key name'), clients, expiresAt: days === 0 ? null : new Date(Date.now() + days * 86_400_000).toISOString(),
      });
      emit(minted, (k) => [
        `created key ${k.keyId} "${k.name}" for ${k.userName} (${k.role}, clients: ${k.clientIds ? k.clientIds.join(', ') : 'all'}, expires ${k.expiresAt ?? 'never'})`,
        `key (shown once, stored only as its hash): ${k.key}`,
      ].join('\n'));
    });
  keys.command('revoke <keyId>').description('revoke a key at once (its next request is a 401)').action(async (keyId: string) => {
    emit(await api().post<ApiKeyRow>(`/keys/${encodeURIComponent(keyId)}/revoke`), (k) => `revoked key ${k.keyId} "${k.name}" of ${k.userName} at ${k.revokedAt}`);
  });
  program.command('whoami').description('the user, role, key and clients of the key in use').action(async () => {
    emit(await api().get<{ user: string; role: string; keyId: string; keyName: string; clients: 'all' | string[] }>('/whoami'),
      (w) => `${w.user} (${w.role}) with key ${w.keyId} "${w.keyName}", clients: ${w.clients === 'all' ? 'all' : w.clients.join(', ')}`);
  });
  const requests = program.command('requests').description('two-person rule: fleet-wide actions waiting for a second person');
  requests.command('list').description('requests, newest first').option('--state <state>', 'pending, approved, refused, expired, executed or failed')
    .action(async (o: { state?: string }) => {
      emit((await api().get<{ requests: ApprovalRequestRow[] }>('/approval-requests', { state: o.state })).requests,
        (r) => (r.length ? approvalRequestsTable(r) : 'no requests'));
    });
  requests.command('show <requestId>').description('one request, with what it will run or ran').action(async (id: string) => {
    emit(await api().get<ApprovalRequestRow>(`/approval-requests/${parseUuid(id, 'requestId')}`), (r) => JSON.stringify(r, null, 2));
  });
  for (const verb of ['approve', 'refuse'] as const) {
    requests.command(`${verb} <requestId>`).description(`${verb} a request (a second person; the requester cannot approve)`)
      .option('--reason <text>', 'why, for the audit log')
      .action(async (id: string, o: { reason?: string }) => {
        const answer = await api().post<{ requestId: string; state: string }>(`/approval-requests/${parseUuid(id, 'requestId')}/${verb}`, o.reason ? { reason: o.reason } : {});
        emit(answer, (a) => `request ${a.requestId}: ${a.state}${a.state === 'approved' ? ' (the action runs now: patchflow requests show ' + a.requestId + ')' : ''}`);
      });
  }

  // ---- simulated agents ----
  program.command('agent').description('run the Patchflow agent on this machine (--server URL --enroll TOKEN), or simulated Windows agents (--simulate N), until SIGTERM / Ctrl-C')
    .option('--server <url>', 'the Patchflow server this machine enrolls with (its agent gateway)')
    .option('--enroll <token>', 'the one-time enrollment token from `patchflow devices create`')
    .option('--config <file>', 'the agent\'s config (server, pinned CA, credential, command keys); default <work-dir>/agent.json')
    .addOption(new Option('--executor <kind>', 'what runs the commands (default: windows on Windows, apt elsewhere)').choices(['apt', 'windows', 'simulate']).default(process.platform === 'win32' ? 'windows' : 'apt'))
    .option('--work-dir <dir>', 'the agent\'s state folder: config, command journal, undelivered results', DEFAULT_STATE_DIR)
    .option('--root <dir>', 'apt: run the package tools in this Debian root (chroot) instead of on the machine itself (tests)')
    .option('--simulate <n>', 'instead: run this many simulated Windows devices (SIM-001, SIM-002, …) registered through the operators\' API')
    .option('--client <name>', 'client to put them in (created when missing)', 'Simulated')
    .option('--site <name>', 'site to put them in (created when missing)', 'Lab')
    .option('--type <type>', 'server or workstation (default: a mix)')
    .option('--seed <n>', 'seed for every simulated device\'s random choices (default: from the device id)')
    .option('--sandbox <dir>', 'root of the devices\' sandbox folders', path.join('.data', 'simulated-agents'))
    .option('--poll-wait <s>', 'long-poll wait in seconds', '25')
    .option('--verbose', 'print every agent event')
    .option('--insecure-http', 'let the agents send their credentials over plain http:// to a host that is not this machine (a TLS-terminating proxy or trusted network on the path)')
    .action(async (o: {
      simulate?: string; client: string; site: string; type?: string; seed?: string; sandbox: string; pollWait: string; verbose?: boolean; insecureHttp?: boolean;
      server?: string; enroll?: string; config?: string; executor: 'apt' | 'windows' | 'simulate'; workDir: string; root?: string;
    }) => {
      if (o.simulate === undefined) {
        process.exitCode = await runThisMachine(o, globals().caCert);
        return;
      }
      const options = {
        apiUrl: target().url.replace(/\/+$/, ''),
        count: parseIntOption(o.simulate, '--simulate', 1, 500),
        clientName: parseName(o.client, '--client'),
        siteName: parseName(o.site, '--site'),
        type: o.type ? parseDeviceType(o.type) : undefined,
        seed: o.seed === undefined ? undefined : parseIntOption(o.seed, '--seed', 0, 2 ** 32 - 1),
        sandboxRoot: path.resolve(o.sandbox),
        pollWaitSeconds: parseIntOption(o.pollWait, '--poll-wait', 1, 120),
        verbose: !!o.verbose,
        // The agents pin the same certificate as the CLI (--ca-cert): they refuse any other.
        caCert: caCert(),
        allowInsecureHttp: !!o.insecureHttp,
      };
      process.exitCode = await runSimulatedAgents(api(), options, { say, warn });
    });

  return program;
}

/**
 * The real agent on this machine until SIGTERM/SIGINT. A result finished just before the signal is
 * posted (or kept for the next start) before the process exits; a second Ctrl-C exits at once.
 */
async function runThisMachine(
  o: { server?: string; enroll?: string; config?: string; executor: 'apt' | 'windows' | 'simulate'; workDir: string; root?: string; pollWait: string; verbose?: boolean; insecureHttp?: boolean },
  caCertFile: string | undefined,
): Promise<number> {
  if (!o.server && !o.config && !fs.existsSync(path.join(o.workDir, 'agent.json'))) throw new UsageError('give --server URL --enroll TOKEN (or --simulate N for simulated agents)');
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: string) => {
    if (++signals > 1) process.exit(130);
    warn(`${signal}: stopping (a result in hand is delivered or kept first)`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const log = (obj: Record<string, unknown>, msg: string) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...obj })}\n`);
  await runRealAgent({
    server: o.server, enrollmentToken: o.enroll, configFile: o.config, caCert: caCertFile ? readTextOption(caCertFile, '--ca-cert') : undefined,
    executor: o.executor, stateDir: path.resolve(o.workDir), root: o.root ? path.resolve(o.root) : undefined,
    allowInsecureHttp: !!o.insecureHttp, pollWaitSeconds: parseIntOption(o.pollWait, '--poll-wait', 1, 120), log, signal: stop.signal,
  });
  log({}, 'agent stopped');
  return 0;
}

/** A file an option names, read as text, or a usage error naming the option. */
function readTextOption(file: string, option: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${option}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** A JSON option value, or a usage error naming the option. */
function readFileOption(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${what}: cannot read ${file}: ${(err as Error).message}`);
  }
}

function parseJsonOption(text: string, option: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${option} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Prints an install once, or (--watch) every time it changes until it is no longer RUNNING. */
async function showInstall(api: PatchflowApi, deviceId: string, key: string, watch: boolean, mode: OutputMode): Promise<void> {
  const render = (v: InstallView) => renderStreamItem(mode, v, installText);
  // In a terminal the view is redrawn in place; piped output gets one block (or jsonl line) per change instead.
  const redraw = watch && mode === 'text' && process.stdout.isTTY;
  let last = '';
  for (;;) {
    const view = await api.getInstall(deviceId, key);
    const text = render(view);
    if (text !== last) {
      if (redraw) process.stdout.write('\x1b[2J\x1b[H');
      else if (last && mode !== 'jsonl') say('');
      say(text);
      last = text;
    }
    if (!watch || view.status !== 'RUNNING') return;
    await sleep(2000);
  }
}

/** `error: …` on stderr; the API's own message where there is one. */
function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    const hint = err.status === 401 ? ' (check --api-key or PATCHFLOW_API_KEY)' : '';
    return `error: ${err.message} (HTTP ${err.status})${hint}`;
  }
  if (err instanceof ConnectionError) {
    return `error: ${err.message}\nIs Patchflow running? Start it with \`npm start\`, or point --api-url / PATCHFLOW_API_URL at it.`;
  }
  if (err instanceof UsageError || err instanceof InsecureTransportError || err instanceof AptFeedError || err instanceof AgentConfigError) return `error: ${err.message}`;
  return `error: ${(err as Error)?.stack ?? String(err)}`;
}

async function main(): Promise<void> {
  await buildProgram().parseAsync(process.argv);
}

main().catch((err: unknown) => {
  warn(describeError(err));
  process.exit(1);
});
