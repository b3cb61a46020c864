/**
 * Release plans and releases through rings (api/releases-api.ts) as commands: `patchflow
 * release-plans create|list|show|delete` and `patchflow release start|show|promote|resume|retry|abort`.
 */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { ReleasePlanRow } from '../db/release-repository';
import type { Ring } from '../domain/release-plan';
import type { ReleaseProgress } from '../workflows/release.contract';
import type { CliContext } from './context';
import { formatDate, parseKbs, parseName, parseUuid, renderFields, renderTable, UsageError } from './format';

const scopeText = (s: Ring['scope']): string => {
  switch (s.type) {
    case 'site': return `site ${s.siteId}`;
    case 'device_type': return `${s.deviceType}s`;
    case 'sample': return `${s.percent}% sample`;
    default: return s.type;
  }
};

export const releasePlansTable = (rows: ReleasePlanRow[]): string => (rows.length === 0 ? 'no release plans' : renderTable(
  ['ID', 'NAME', 'CLIENT', 'RINGS'],
  rows.map((p) => [p.id, p.name, p.clientId, p.rings.map((r) => r.name).join(' → ')]),
));

export const ringsTable = (p: ReleasePlanRow): string => [
  `${p.name} (${p.id}), client ${p.clientId}`,
  renderTable(
    ['#', 'RING', 'SCOPE', 'DEFERRAL', 'GATE', 'HALT AT'],
    p.rings.map((r, i) => [
      i, r.name, scopeText(r.scope), `+${r.deferral.days} d after ${r.deferral.from}`,
      `≥ ${r.gate.minSuccessRate}% of ≥ ${r.gate.minSuccessCount}, ${r.gate.soakHours} h soak`, `${r.haltThreshold.failureRate}% failed`,
    ]),
  ),
].join('\n');

type ReleaseView = ReleaseProgress & { releaseId: string; workflowId: string; status?: string };

export const releaseText = (r: ReleaseView): string => [
  renderFields([
    ['Release', `${r.planName} ${r.cycle} (${r.workflowId})`],
    ['Status', r.status ?? ''],
    ['Phase', r.phase === 'completed' || r.phase === 'aborted' ? r.phase : `ring ${r.ringIndex}: ${r.phase}`],
    ['Halted', r.halted ? `by ${r.halted.by}: ${r.halted.reason}` : ''],
    ['Next ring at', r.ringStartsAt ? formatDate(r.ringStartsAt) : ''],
    ['Excluded KBs', r.excludedKbs.join(', ')],
    ['Paused KBs', r.pausedKbs.join(', ')],
  ]),
  renderTable(['#', 'RING', 'STARTED', 'DEVICES', 'KBS', 'OUTCOME'], r.rings.map((g) => [g.index, g.name, formatDate(g.startedAt), g.devices, g.kbs.join(', '), g.outcome ?? ''])),
  ...r.log.map((l) => `- ${l}`),
].join('\n');

function readRings(value: string): unknown {
  const text = value.startsWith('@') ? fs.readFileSync(value.slice(1), 'utf8') : value;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--rings must be a JSON array of rings (or @file.json): ${(err as Error).message}`);
  }
}

export function registerReleaseCommands(program: Command, { api, emit }: CliContext): void {
  const planId = (id: string) => parseUuid(id, 'plan id');
  const plans = program.command('release-plans').description('release plans: a client\'s ordered rings (scope, deferral, gate, halt threshold)');
  plans.command('list').description('every plan').action(async () => {
    emit((await api().get<{ plans: ReleasePlanRow[] }>('/release-plans')).plans, releasePlansTable);
  });
  plans.command('show <planId>').description('one plan and its rings').action(async (id: string) => {
    emit(await api().get<ReleasePlanRow>(`/release-plans/${planId(id)}`), ringsTable);
  });
  plans.command('create <name>').description('a plan for a client')
    .requiredOption('--client <id>', 'the client whose devices the rings take')
    .requiredOption('--rings <json>', 'the rings as JSON (or @file.json): [{"name","scope":{"type":"site|client|device_type|sample|rest",...},"deferral":{"days"},"gate":{"minSuccessRate","minSuccessCount","soakHours"},"haltThreshold":{"failureRate"}}]')
    .action(async (name: string, o: { client: string; rings: string }) => {
      const body = { clientId: parseUuid(o.client, '--client'), name: parseName(name, 'plan name'), rings: readRings(o.rings) };
      emit(await api().post<ReleasePlanRow>('/release-plans', body), (p) => `created release plan ${p.name}: ${p.id}\n${ringsTable(p)}`);
    });
  plans.command('delete <planId>').description('delete a plan (running releases keep their snapshot)').action(async (id: string) => {
    await api().delete(`/release-plans/${planId(id)}`);
    emit({ deleted: id }, () => `deleted release plan ${id}`);
  });

  const release = program.command('release').description('releases of a cycle\'s patches through a plan\'s rings');
  release.command('start <planId>').description('start a release')
    .requiredOption('--cycle <cycle>', 'the Patch Tuesday month (2026-12) or oob-<name>')
    .requiredOption('--kb <kb...>', 'the patches released')
    .option('--released-at <iso>', 'when the patches were released (deferrals count from it; default now)')
    .action(async (id: string, o: { cycle: string; kb: string[]; releasedAt?: string }) => {
      const body = { cycle: o.cycle, kbs: parseKbs(o.kb), ...(o.releasedAt ? { releasedAt: o.releasedAt } : {}) };
      emit(await api().post<{ workflowId: string; location: string }>(`/release-plans/${planId(id)}/releases`, body), (r) => `started ${r.workflowId}`);
    });
  release.command('show <planId> <cycle>').description('a release: phase, rings, decisions').action(async (id: string, cycle: string) => {
    emit(await api().get<ReleaseView>(`/release-plans/${planId(id)}/releases/${encodeURIComponent(cycle)}`), releaseText);
  });
  for (const verb of ['promote', 'resume', 'retry', 'abort'] as const) {
    release.command(`${verb} <planId> <cycle>`).description({
      promote: 'promote the current ring now', resume: 'resume a halted release', retry: 'run the halted ring\'s failed devices again', abort: 'abort the release',
    }[verb]).option('--reason <text>', 'why (recorded in the release and the audit log)')
      .action(async (id: string, cycle: string, o: { reason?: string }) => {
        emit(await api().post<ReleaseView>(`/release-plans/${planId(id)}/releases/${encodeURIComponent(cycle)}/${verb}`, o.reason ? { reason: o.reason } : {}), releaseText);
      });
  }
}
