import { randomBytes } from 'node:crypto';
import type { Client, ScheduleOptions } from '@temporalio/client';
import type { Logger } from 'pino';
import { insertAlertRule, type AlertRuleRow } from '../db/alert-repository';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { findClient } from '../db/fleet-repository';
import { DEFAULT_DELIVERY_POLICY, type AlertCondition, type DeliveryPolicy } from '../domain/alert-rules';
import { NotFoundError } from '../domain/errors';
import { ALERTS_SCHEDULE_ID, ALERTS_WORKFLOW_ID, ALERTS_WORKFLOW_TYPE, type AlertsInput } from '../workflows/alerts.contract';
import { OperationAttr } from '../workflows/search-attributes';
import { upsertSchedule } from './temporal-schedules';

/** How alerts are evaluated and delivered (ALERTS_INTERVAL_MINUTES; the delivery policy's defaults). */
export interface AlertsConfig {
  /** how often the alerts Schedule evaluates the rules; default 5 minutes */
  intervalMinutes?: number;
  delivery?: Partial<DeliveryPolicy>;
}

export interface AlertServiceDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  alerts?: AlertsConfig;
}

function inputOf(deps: AlertServiceDeps, requestedBy: string): AlertsInput {
  return { requestedBy, delivery: { ...DEFAULT_DELIVERY_POLICY, ...deps.alerts?.delivery } };
}

/**
 * Alerts are evaluated by a durable workflow on a Temporal Schedule, never by a timer in an API
 * process: with several API replicas, or none running, they are evaluated exactly once per interval.
 */
export async function reconcileAlertsSchedule(deps: AlertServiceDeps): Promise<void> {
  const every = deps.alerts?.intervalMinutes ?? 5;
  const options: ScheduleOptions = {
    scheduleId: ALERTS_SCHEDULE_ID,
    spec: { intervals: [{ every: `${every} minutes` }] },
    action: {
      type: 'startWorkflow', workflowType: ALERTS_WORKFLOW_TYPE, workflowId: ALERTS_WORKFLOW_ID, taskQueue: deps.taskQueue,
      args: [inputOf(deps, 'schedule')],
      typedSearchAttributes: [{ key: OperationAttr, value: 'alerts' }],
      staticSummary: `Alerts · evaluate the rules every ${every} min and send their webhooks`,
    },
    // An evaluation still sending when the next is due: skip (the running one sends what is owed).
    policies: { overlap: 'SKIP', catchupWindow: '10 minutes' },
  };
  await upsertSchedule(deps.client, options);
  deps.log.info({ everyMinutes: every }, 'alerts schedule reconciled');
}

/** Evaluates now (an operator's "check now"); while one runs, answers the running one. */
export async function startAlertsEvaluation(deps: AlertServiceDeps, requestedBy: string) {
  const handle = await deps.client.workflow.start(ALERTS_WORKFLOW_TYPE, {
    workflowId: ALERTS_WORKFLOW_ID, taskQueue: deps.taskQueue, args: [inputOf(deps, requestedBy)],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: 'Alerts · evaluate the rules now', staticDetails: `Requested by ${requestedBy}.`,
    typedSearchAttributes: [{ key: OperationAttr, value: 'alerts' }],
  });
  return { workflowId: ALERTS_WORKFLOW_ID, runId: handle.firstExecutionRunId };
}

/** Creates a rule; the webhook secret is returned here once and never again. */
export async function createAlertRule(
  deps: AlertServiceDeps,
  f: { name: string; clientId: string | null; condition: AlertCondition; threshold: number | null; webhookUrl: string; webhookSecret?: string },
  actor: string,
): Promise<AlertRuleRow & { webhookSecret: string }> {
  if (f.clientId && !(await findClient(deps.db, f.clientId))) throw new NotFoundError('client', f.clientId);
  const webhookSecret = f.webhookSecret ?? randomBytes(32).toString('base64url');
  const rule = await insertAlertRule(deps.db, { ...f, webhookSecret });
  await appendAudit(deps.db, [{ actor, action: 'alert_rule.created', subject: rule.id, details: { name: rule.name, clientId: rule.clientId, condition: rule.condition, threshold: rule.threshold, webhookUrl: rule.webhookUrl } }]);
  return { ...rule, webhookSecret };
}
