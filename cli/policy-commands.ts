/**
 * The console's approval screens as commands: approval policies (members, defaults, approvals,
 * Kaseya's summary), Approval by Patch across all policies, a device's decisions, N-able's actions
 * by scope and KB overrides. Each is one call of api/policies-api.ts; the API checks again.
 */
import type { Command } from 'commander';
import type { DeviceApprovalRow } from '../api/patch-views';
import type { KbOverrideRow, PatchActionRow, PolicyApprovalRow } from '../db/approval-repository';
import type { PolicyMemberRow, PolicyRow } from '../db/policy-repository';
import type { PatchApprovalRow, PolicySummary } from '../db/policy-views';
import type { CliContext } from './context';
import { parseApprovalStatus, parseKbs, parseName, parseScope, parseSwitch, parseUuid, UsageError } from './format';
import {
  deviceApprovalsText, kbOverridesTable, membersTable, patchActionsTable, patchApprovalsTable, patchPolicyStatusesText, pendingText,
  policiesTable, policyApprovalsText, policyText, summaryText, type PendingAnswer,
} from './policy-views';

const MEMBER_SCOPES = ['all', 'device', 'site', 'client', 'device_type'] as const;
const ACTION_SCOPES = ['device', 'site', 'client', 'device_type'] as const;
const PATCH_ACTIONS = ['inherit', 'approve', 'ignore', 'do_nothing', 'reprocess_failed', 'uninstall'] as const;
const DEFAULT_KINDS = ['classification', 'product', 'kaseya_classification'] as const;

const kbHelp = 'KBs (space or comma separated), e.g. KB5034441';

function parseChoice<T extends string>(value: string, option: string, choices: readonly T[]): T {
  const v = value.trim().toLowerCase().replace(/-/g, '_');
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`${option} must be one of ${choices.join(', ')}, got "${value}"`);
  return v as T;
}

const switchOptions = (c: Command) => c
  .option('--deny-manual-install-only <on|off>', 'deny patches that install only by hand')
  .option('--deny-windows-update-web-site <on|off>', 'deny patches offered only through the Windows Update web site')
  .option('--deny-superseded <on|off>', 'deny superseded patches')
  .option('--fallback <status>', 'the status of a newly discovered patch no default covers: approved, denied or pending_approval');

interface SwitchArgs { denyManualInstallOnly?: string; denyWindowsUpdateWebSite?: string; denySuperseded?: string; fallback?: string }
const switchesBody = (o: SwitchArgs) => ({
  ...(o.denyManualInstallOnly === undefined ? {} : { denyManualInstallOnly: parseSwitch(o.denyManualInstallOnly, '--deny-manual-install-only') }),
  ...(o.denyWindowsUpdateWebSite === undefined ? {} : { denyWindowsUpdateWebSite: parseSwitch(o.denyWindowsUpdateWebSite, '--deny-windows-update-web-site') }),
  ...(o.denySuperseded === undefined ? {} : { denySuperseded: parseSwitch(o.denySuperseded, '--deny-superseded') }),
  ...(o.fallback === undefined ? {} : { fallbackDefault: parseApprovalStatus(o.fallback, '--fallback') }),
});

export function registerPolicyCommands(program: Command, { api, emit }: CliContext): void {
  const policyId = (id: string) => parseUuid(id, 'policy id');

  // ---- policies ----
  const policies = program.command('policies').description('approval policies (Kaseya\'s Approval by Policy): members, defaults, approvals, summary');
  policies.command('list').description('every policy with its members and switches').action(async () => {
    emit((await api().get<{ policies: PolicyRow[] }>('/policies')).policies, policiesTable);
  });
  policies.command('show <policyId>').description('one policy: switches, defaults and members').action(async (id: string) => {
    const client = api();
    const policy = await client.get<PolicyRow>(`/policies/${policyId(id)}`);
    const { members } = await client.get<{ members: PolicyMemberRow[] }>(`/policies/${policy.id}/members`);
    emit({ ...policy, memberList: members }, (p) => policyText(p, p.memberList));
  });
  switchOptions(policies.command('create <name>').description('create a policy (every known patch is stamped with its default)'))
    .action(async (name: string, o: SwitchArgs) => {
      const created = await api().post<PolicyRow & { stampedPatches: number }>('/policies', { name: parseName(name, 'policy name'), ...switchesBody(o) });
      emit(created, (p) => `created policy ${p.name}: ${p.id} (${p.stampedPatches} patches stamped ${p.fallbackDefault} or by their default)`);
    });
  switchOptions(policies.command('update <policyId>').description('rename a policy or change its switches').option('--name <name>', 'new name'))
    .action(async (id: string, o: SwitchArgs & { name?: string }) => {
      const body = { ...(o.name === undefined ? {} : { name: parseName(o.name, '--name') }), ...switchesBody(o) };
      if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --name, --fallback or a --deny-… switch');
      emit(await api().patch<PolicyRow>(`/policies/${policyId(id)}`, body), (p) => policyText(p));
    });
  policies.command('delete <policyId>').description('delete a policy without members (remove them first)').action(async (id: string) => {
    emit(await api().delete<{ deleted: string; name: string; approvalsRemoved: number }>(`/policies/${policyId(id)}`),
      (d) => `deleted policy ${d.name} (${d.approvalsRemoved} approvals removed)`);
  });

  const members = policies.command('members').description('what a policy covers: devices, sites, clients, a device type, or all');
  members.command('list <policyId>').description('a policy\'s members with how many devices each covers').action(async (id: string) => {
    emit((await api().get<{ members: PolicyMemberRow[] }>(`/policies/${policyId(id)}/members`)).members, membersTable);
  });
  for (const verb of ['add', 'remove'] as const) {
    members.command(`${verb} <policyId> <scope>`).description(`${verb} a member: all, device_type:server|workstation, client:<id>, site:<id> or device:<id>`)
      .action(async (id: string, scopeArg: string) => {
        const scope = parseScope(scopeArg, 'scope', MEMBER_SCOPES);
        const body = scope.scopeType === 'all' ? { scopeType: 'all' } : scope;
        const client = api();
        const answer = verb === 'add'
          ? await client.post<{ added: boolean; members: PolicyMemberRow[] }>(`/policies/${policyId(id)}/members`, body)
          : await client.delete<{ removed: boolean; members: PolicyMemberRow[] }>(`/policies/${policyId(id)}/members`, body);
        emit(answer, (a) => `${'added' in a ? (a.added ? 'added' : 'already a member') : 'removed'}: ${scopeArg}\n${membersTable(a.members)}`);
      });
  }

  const defaults = policies.command('defaults').description('the status a newly discovered patch gets, per classification, product or Kaseya classification');
  defaults.command('set <policyId>').description('set a default (known patches keep their status, as in Kaseya)')
    .requiredOption('--kind <kind>', 'classification, product or kaseya_classification')
    .requiredOption('--key <name>', 'e.g. "Critical Updates", "Windows Server 2022", "Security Update - Critical"')
    .requiredOption('--status <status>', 'approved, denied or pending_approval')
    .action(async (id: string, o: { kind: string; key: string; status: string }) => {
      const body = { kind: parseChoice(o.kind, '--kind', DEFAULT_KINDS), key: parseName(o.key, '--key'), status: parseApprovalStatus(o.status, '--status') };
      emit(await api().put<{ previous: string | null; note: string }>(`/policies/${policyId(id)}/defaults`, body),
        (a) => `${body.kind} "${body.key}": ${a.previous ?? 'no default'} → ${body.status} (${a.note})`);
    });
  defaults.command('remove <policyId>').description('remove a default (the fallback applies again)')
    .requiredOption('--kind <kind>', 'classification, product or kaseya_classification').requiredOption('--key <name>', 'the default\'s key')
    .action(async (id: string, o: { kind: string; key: string }) => {
      const body = { kind: parseChoice(o.kind, '--kind', DEFAULT_KINDS), key: parseName(o.key, '--key') };
      emit(await api().delete<{ removed: { status: string } }>(`/policies/${policyId(id)}/defaults`, body),
        (a) => `removed the ${body.kind} default "${body.key}" (was ${a.removed.status})`);
    });

  const approvals = policies.command('approvals').description('explicit statuses of patches in one policy');
  approvals.command('set <policyId>').description('approve, deny or set pending some patches in this policy (Approval by Policy)')
    .requiredOption('--kb <KB...>', kbHelp).requiredOption('--status <status>', 'approved, denied or pending_approval').option('--note <text>', 'why, shown with the status')
    .action(async (id: string, o: { kb: string[]; status: string; note?: string }) => {
      const body = { kbs: parseKbs(o.kb), status: parseApprovalStatus(o.status, '--status'), ...(o.note?.trim() ? { note: o.note.trim() } : {}) };
      emit(await api().put<{ policy: string; status: string; patches: number; approvalsChanged: number; approvals: PolicyApprovalRow[] }>(`/policies/${policyId(id)}/approvals`, body),
        policyApprovalsText);
    });
  approvals.command('copy <fromPolicyId>').description('copy one policy\'s explicit statuses onto another').requiredOption('--to <policyId>', 'the policy that receives them')
    .action(async (id: string, o: { to: string }) => {
      emit(await api().post<{ copied: number; changed: number }>(`/policies/${policyId(id)}/copy-approvals`, { toPolicyId: parseUuid(o.to, '--to') }),
        (a) => `copied ${a.copied} statuses, ${a.changed} changed`);
    });
  policies.command('summary <policyId>').description('Kaseya\'s policy summary: approved / denied / pending / totals and the default, per row')
    .option('--group-by <grouping>', 'classification, product or kaseya_classification', 'classification')
    .action(async (id: string, o: { groupBy: string }) => {
      const groupBy = parseChoice(o.groupBy, '--group-by', DEFAULT_KINDS);
      emit(await api().get<PolicySummary & { policy: string; groupBy: string }>(`/policies/${policyId(id)}/summary`, { groupBy }), summaryText);
    });

  // ---- Approval by Patch ----
  const byPatch = program.command('approvals').description('Approval by Patch: the catalog\'s status across policies, set in all of them at once; a device\'s decisions');
  byPatch.command('list').description('the catalog with each patch\'s status across policies (or mixed)')
    .option('--name <text>', 'part of the title').option('--kb <text>', 'part of the KB')
    .option('--classification <name>', 'e.g. "Security Updates"').option('--kaseya-classification <name>', 'e.g. "Security Update - Critical"')
    .option('--product <name>', 'e.g. "Windows Server 2022"').option('--status <status>', 'approved, denied, pending_approval or mixed')
    .option('--policies', 'each patch\'s status in every policy, under it')
    .action(async (o: { name?: string; kb?: string; classification?: string; kaseyaClassification?: string; product?: string; status?: string; policies?: boolean }) => {
      const status = o.status === undefined ? undefined : o.status.trim().toLowerCase() === 'mixed' ? 'mixed' : parseApprovalStatus(o.status, '--status');
      const { patches } = await api().get<{ patches: PatchApprovalRow[] }>('/patches', {
        name: o.name, kb: o.kb, classification: o.classification, kaseyaClassification: o.kaseyaClassification, product: o.product, status,
      });
      emit(patches, (rows) => (o.policies && rows.length ? rows.map(patchPolicyStatusesText).join('\n') : patchApprovalsTable(rows)));
    });
  byPatch.command('set').description('the same status in ALL policies (past the two-person threshold, a second person approves first)')
    .requiredOption('--kb <KB...>', kbHelp).requiredOption('--status <status>', 'approved, denied or pending_approval').option('--note <text>', 'why')
    .action(async (o: { kb: string[]; status: string; note?: string }) => {
      const body = { kbs: parseKbs(o.kb), status: parseApprovalStatus(o.status, '--status'), ...(o.note?.trim() ? { note: o.note.trim() } : {}) };
      emit(await api().put<PendingAnswer & { status: string; kbs: string[]; policies: number; approvalsChanged: number }>('/patches/approval', body),
        (a) => pendingText(a) ?? `${a.kbs.join(', ')}: ${a.status} in ${a.policies} policies (${a.approvalsChanged} changed)`);
    });
  byPatch.command('device <deviceId>').description('a device\'s patches with the resolver\'s decision and reason ("why didn\'t KB X install here?")')
    .action(async (id: string) => {
      emit(await api().get<{ deviceId: string; policyIds: string[]; patches: DeviceApprovalRow[] }>(`/devices/${parseUuid(id, 'device id')}/approvals`), deviceApprovalsText);
    });

  // ---- actions by scope ----
  const actions = program.command('patch-actions').description('N-able\'s actions by scope: inherit, approve, ignore, do_nothing, reprocess_failed, uninstall');
  actions.command('list').description('actions set at a scope (default: every scope)').option('--scope <scope>', 'device_type:server|workstation, client:<id>, site:<id> or device:<id>')
    .action(async (o: { scope?: string }) => {
      const scope = o.scope === undefined ? {} : parseScope(o.scope, '--scope', ACTION_SCOPES);
      emit((await api().get<{ actions: PatchActionRow[] }>('/patch-actions', scope)).actions, patchActionsTable);
    });
  actions.command('set <action>').description('set an action for some patches at one scope (an uninstall past the two-person threshold waits for a second person)')
    .requiredOption('--scope <scope>', 'device_type:server|workstation, client:<id>, site:<id> or device:<id>').requiredOption('--kb <KB...>', kbHelp)
    .action(async (action: string, o: { scope: string; kb: string[] }) => {
      const body = { ...parseScope(o.scope, '--scope', ACTION_SCOPES), kbs: parseKbs(o.kb), action: parseChoice(action, 'action', PATCH_ACTIONS) };
      emit(await api().put<PendingAnswer & { action: string; patches: number; changed: number }>('/patch-actions', body),
        (a) => pendingText(a) ?? `${a.action} at ${o.scope}: ${a.patches} patch(es), ${a.changed} row(s) changed`);
    });

  // ---- KB overrides ----
  const overrides = program.command('kb-overrides').description('a status for a KB in every policy, for every present and future patch of it');
  overrides.command('list').description('every KB override').action(async () => {
    emit((await api().get<{ overrides: KbOverrideRow[] }>('/kb-overrides')).overrides, kbOverridesTable);
  });
  overrides.command('set <kb> <status>').description('override a KB to approved, denied or pending_approval (past the two-person threshold, a second person first)')
    .action(async (kb: string, status: string) => {
      const [k] = parseKbs([kb]);
      emit(await api().put<PendingAnswer & { kb: string; status: string; previous: string | null }>(`/kb-overrides/${k}`, { status: parseApprovalStatus(status, 'status') }),
        (a) => pendingText(a) ?? `${a.kb}: ${a.previous ?? 'no override'} → ${a.status} in all policies`);
    });
  overrides.command('clear <kb>').description('remove a KB override (the policies decide again)').action(async (kb: string) => {
    const [k] = parseKbs([kb]);
    emit(await api().delete<{ kb: string; previous: string }>(`/kb-overrides/${k}`), (a) => `${a.kb}: override ${a.previous} cleared`);
  });

}
