/**
 * Alert rules and alerts (api/alerts-api.ts) as commands: rules per client or for all clients, the
 * alerts they opened and closed, evaluation on demand, and webhook deliveries that never got through.
 */
import type { Command } from 'commander';
import type { AlertRow, AlertRuleRow, DeliveryRow } from '../db/alert-repository';
import { ALERT_CONDITIONS, THRESHOLD_UNIT } from '../domain/alert-rules';
import type { CliContext } from './context';
import { formatDate, parseIntOption, parseName, parseUuid, renderTable, truncate, UsageError, yesNo } from './format';

type RuleView = AlertRuleRow & { description: string };

export const alertRulesTable = (rows: RuleView[]): string => (rows.length === 0 ? 'no alert rules' : renderTable(
  ['ID', 'NAME', 'CLIENT', 'CONDITION', 'ENABLED', 'WEBHOOK'],
  rows.map((r) => [r.id, r.name, r.clientId ?? 'all', r.description, yesNo(r.enabled), truncate(r.webhookUrl, 50)]),
));

export const alertsTable = (rows: AlertRow[]): string => (rows.length === 0 ? 'no alerts' : renderTable(
  ['ID', 'RULE', 'CONDITION', 'SUBJECT', 'DEVICE', 'OPENED', 'CLOSED'],
  rows.map((a) => [a.id, a.ruleName, a.condition, truncate(a.subject, 50), a.deviceId, formatDate(a.openedAt), formatDate(a.closedAt)]),
));

export const deadLettersTable = (rows: DeliveryRow[]): string => (rows.length === 0 ? 'no dead-lettered deliveries' : renderTable(
  ['ID', 'ALERT', 'EVENT', 'ATTEMPTS', 'LAST ERROR', 'DEAD SINCE'],
  rows.map((d) => [d.id, d.alertId, d.event, d.attempts, truncate(d.lastError, 60), formatDate(d.deadLetteredAt)]),
));

export function registerAlertCommands(program: Command, { api, emit }: CliContext): void {
  const ruleId = (id: string) => parseUuid(id, 'rule id');
  const rules = program.command('alert-rules').description('when to alert (patch_failed, reboot_required, noncompliant, no_scan) and which webhook to call');
  rules.command('list').description('every rule').action(async () => {
    emit((await api().get<{ rules: RuleView[] }>('/alert-rules')).rules, alertRulesTable);
  });
  rules.command('show <ruleId>').description('one rule').action(async (id: string) => {
    emit(await api().get<RuleView>(`/alert-rules/${ruleId(id)}`), (r) => alertRulesTable([r]));
  });
  rules.command('create <name>').description('a rule; prints the webhook\'s signing secret once')
    .requiredOption('--condition <condition>', ALERT_CONDITIONS.join(', '))
    .requiredOption('--webhook <url>', 'the http(s) URL alerts are posted to')
    .option('--client <id>', 'only this client\'s devices (default: every client)')
    .option('--threshold <n>', `reboot_required: hours (${THRESHOLD_UNIT.reboot_required!.default}); noncompliant, no_scan: days (${THRESHOLD_UNIT.noncompliant!.default}, ${THRESHOLD_UNIT.no_scan!.default}); patch_failed: none`)
    .option('--secret <text>', 'the webhook\'s HMAC key, at least 16 characters (default: generated and shown once)')
    .action(async (name: string, o: { condition: string; webhook: string; client?: string; threshold?: string; secret?: string }) => {
      const condition = o.condition.trim().toLowerCase();
      if (!(ALERT_CONDITIONS as readonly string[]).includes(condition)) throw new UsageError(`--condition must be one of ${ALERT_CONDITIONS.join(', ')}, got "${o.condition}"`);
      const body = {
        name: parseName(name, 'rule name'), condition, webhookUrl: o.webhook.trim(),
        clientId: o.client === undefined ? null : parseUuid(o.client, '--client'),
        ...(o.threshold === undefined ? {} : { threshold: parseIntOption(o.threshold, '--threshold', 1, 3650) }),
        ...(o.secret === undefined ? {} : { webhookSecret: o.secret }),
      };
      emit(await api().post<RuleView & { webhookSecret: string }>('/alert-rules', body), (r) => [
        `created alert rule ${r.name}: ${r.id} (${r.description})`,
        `webhook secret (shown once; it signs every delivery): ${r.webhookSecret}`,
      ].join('\n'));
    });
  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    rules.command(`${verb} <ruleId>`).description(`${verb} a rule`).action(async (id: string) => {
      emit(await api().patch<RuleView>(`/alert-rules/${ruleId(id)}`, { enabled }), (r) => `${r.name}: ${r.enabled ? 'enabled' : 'disabled'}`);
    });
  }
  rules.command('delete <ruleId>').description('delete a rule').action(async (id: string) => {
    await api().delete(`/alert-rules/${ruleId(id)}`);
    emit({ deleted: id }, () => `deleted alert rule ${id}`);
  });

  const alerts = program.command('alerts').description('alerts the rules opened and closed; evaluation; undelivered webhooks');
  alerts.command('list').description('alerts, newest first')
    .option('--state <state>', 'open, closed or all', 'open').option('--client <id>', 'only this client').option('--limit <n>', '1-1000', '200')
    .action(async (o: { state: string; client?: string; limit: string }) => {
      const state = o.state.trim().toLowerCase();
      if (!['open', 'closed', 'all'].includes(state)) throw new UsageError(`--state must be open, closed or all, got "${o.state}"`);
      const query = { state, clientId: o.client === undefined ? undefined : parseUuid(o.client, '--client'), limit: String(parseIntOption(o.limit, '--limit', 1, 1000)) };
      emit((await api().get<{ alerts: AlertRow[] }>('/alerts', query)).alerts, alertsTable);
    });
  alerts.command('evaluate').description('evaluate every rule now (the alerts workflow)').action(async () => {
    emit(await api().post<{ workflowId: string; runId: string }>('/alerts/evaluate', {}), (s) => `evaluation started: ${s.workflowId} (run ${s.runId})`);
  });
  alerts.command('dead-letters').description('webhook deliveries that gave up').action(async () => {
    emit((await api().get<{ deliveries: DeliveryRow[] }>('/alerts/dead-letters')).deliveries, deadLettersTable);
  });
  alerts.command('retry <deliveryId>').description('send a dead-lettered delivery again').action(async (id: string) => {
    const n = parseIntOption(id, 'delivery id', 1, Number.MAX_SAFE_INTEGER);
    emit(await api().post<DeliveryRow>(`/alerts/dead-letters/${n}/retry`, {}), (d) => `delivery ${d.id} queued again`);
  });
}
