/**
 * The kill switch as commands (api/halt-api.ts): `patchflow halt --all | --patch <KB> [--reason]`,
 * `patchflow halt status` and `patchflow resume --all | --patch <KB> | --rollout <workflowId>`.
 * Halting needs an operator's key, resuming an approver's (api/route-roles.ts).
 */
import type { Command } from 'commander';
import type { AutoHaltRow, FleetHaltRow } from '../db/halt-repository';
import { ApiError } from './api-client';
import type { CliContext } from './context';
import { formatDate, parseKbs, renderTable, UsageError } from './format';

export interface Signalled { rollouts: number; releases: number; installs: number; failed: number }
export interface HaltState { active: FleetHaltRow[]; recent: FleetHaltRow[]; automatic: { active: AutoHaltRow[]; recent: AutoHaltRow[] } }
export interface HaltSet { halt: FleetHaltRow; created: boolean; signalled: Signalled }
export interface HaltResumed { halt: FleetHaltRow | AutoHaltRow; signalled: Signalled }

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const scopeText = (kb: string | null) => (kb ? kb : 'all patches');

export const signalledText = (s: Signalled): string =>
  `signalled ${plural(s.rollouts, 'running rollout')}, ${plural(s.releases, 'release')}, ${plural(s.installs, 'install')}`
  + (s.failed > 0 ? ` (${s.failed} not reached: they had closed)` : '');

export const haltSetText = (r: HaltSet): string => [
  r.created
    ? `HALTED ${scopeText(r.halt.kb)} fleet-wide by ${r.halt.haltedBy}: ${r.halt.reason}`
    : `${scopeText(r.halt.kb)} already halted since ${formatDate(r.halt.haltedAt)} by ${r.halt.haltedBy}: ${r.halt.reason}`,
  signalledText(r.signalled),
  r.halt.kb
    ? `No device starts ${r.halt.kb}; installs leave it out unless it already runs. Resume: patchflow resume --patch ${r.halt.kb}`
    : 'No new device starts; installs not yet executing clean up and end halted, executing ones finish their patch. Resume: patchflow resume --all',
].join('\n');

export const haltResumedText = (r: HaltResumed): string => {
  const h = r.halt;
  const what = h.source === 'automatic' ? `rollout ${h.workflowId} (${h.scheduleName}), automatic halt` : scopeText(h.kb);
  return [`RESUMED ${what} by ${h.resumedBy ?? '?'}; it was halted since ${formatDate(h.haltedAt)} by ${h.haltedBy}: ${h.reason}`, signalledText(r.signalled)].join('\n');
};

export const haltStatusText = (s: HaltState): string => {
  const lines: string[] = [];
  if (s.active.length === 0 && s.automatic.active.length === 0) {
    lines.push('No halt in force: devices start as their schedules and releases say.');
  }
  if (s.active.length > 0) {
    lines.push('Operator halts in force (kill switch):');
    lines.push(renderTable(['SCOPE', 'SOURCE', 'BY', 'SINCE', 'REASON'], s.active.map((h) => [scopeText(h.kb), h.source, h.haltedBy, formatDate(h.haltedAt), h.reason])));
  }
  if (s.automatic.active.length > 0) {
    if (lines.length > 0) lines.push('');
    lines.push('Automatic halts in force (a rollout stopped itself at its failure threshold; resume with --rollout):');
    lines.push(renderTable(['ROLLOUT', 'SCHEDULE', 'SOURCE', 'SINCE', 'REASON'], s.automatic.active.map((h) => [h.workflowId, h.scheduleName, h.source, formatDate(h.haltedAt), h.reason])));
  }
  const last = s.recent[0];
  if (last) lines.push('', `Last resumed: ${scopeText(last.kb)} by ${last.resumedBy} at ${formatDate(last.resumedAt)} (halted by ${last.haltedBy}: ${last.reason})`);
  return lines.join('\n');
};

interface ScopeOptions { all?: boolean; patch?: string; rollout?: string }

/** Exactly one scope, as the API's body: `{ all: true }`, `{ kb }` or `{ rollout }`. */
export function haltScope(o: ScopeOptions, allowRollout: boolean): { all: true } | { kb: string } | { rollout: string } {
  const given = [o.all === true, o.patch !== undefined, o.rollout !== undefined].filter(Boolean).length;
  const choices = allowRollout ? '--all, --patch <KB> or --rollout <workflowId>' : '--all or --patch <KB>';
  if (given !== 1 || (!allowRollout && o.rollout !== undefined)) throw new UsageError(`give exactly one of ${choices}`);
  if (o.all) return { all: true };
  if (o.patch !== undefined) return { kb: parseKbs([o.patch])[0]! };
  return { rollout: o.rollout! };
}

export function registerHaltCommands(program: Command, { api, emit }: CliContext): void {
  const halt = program.command('halt')
    .description('kill switch: stop new device starts fleet-wide, for every patch (--all) or one (--patch); `halt status` shows what is halted')
    .option('--all', 'halt every patch: no rollout or release starts another device')
    .option('--patch <kb>', 'halt one patch: devices leave it out (installs running it finish it)')
    .option('--reason <text>', 'why (shown to every operator and recorded in the audit log)')
    .action(async (o: ScopeOptions & { reason?: string }) => {
      const body = { ...haltScope(o, false), ...(o.reason !== undefined ? { reason: o.reason } : {}) };
      emit(await api().post<HaltSet>('/halt', body), haltSetText);
    });
  halt.command('status').description('the halts in force: operators\' (all patches, or one KB) and rollouts\' automatic ones')
    .action(async () => {
      emit(await api().get<HaltState>('/halt'), haltStatusText);
    });

  program.command('resume').description('end a halt: the fleet halt of every patch (--all) or one (--patch), or one rollout\'s automatic halt (--rollout)')
    .option('--all', 'resume the halt of every patch')
    .option('--patch <kb>', 'resume the halt of one patch')
    .option('--rollout <workflowId>', 'resume a rollout that halted itself (see `patchflow halt status`)')
    .action(async (o: ScopeOptions) => {
      const body = haltScope(o, true);
      try {
        emit(await api().post<HaltResumed>('/halt/resume', body), haltResumedText);
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) {
          const what = 'rollout' in body ? `no automatic halt of rollout ${body.rollout} is in force` : `no halt of ${'kb' in body ? body.kb : 'all patches'} is in force`;
          throw new UsageError(`${what} (see \`patchflow halt status\`)`);
        }
        throw err;
      }
    });
}
