import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { AlertActivities } from '../activities';
import type { AlertsInput, AlertsResult } from './alerts.contract';
import { SCHEDULED_RUN_RETRY } from './retry-policies';

const alerts = proxyActivities<AlertActivities>({
  startToCloseTimeout: '5 minutes',
  retry: SCHEDULED_RUN_RETRY,
});

/**
 * One evaluation of the alert rules, as the Schedule runs it: open and close alerts from the fleet's
 * state (their webhook deliveries queued in the same transaction), then send what is owed. A receiver
 * that is down is not a failure here: its deliveries wait for their next try, in this run or a later one.
 */
export async function alertsWorkflow(input: AlertsInput): Promise<AlertsResult> {
  setCurrentDetails(`**evaluate** the alert rules (requested by ${input.requestedBy})`);
  const evaluated = await alerts.evaluateAlertRules.executeWithOptions(
    { startToCloseTimeout: '5 minutes', retry: SCHEDULED_RUN_RETRY, summary: 'evaluate the alert rules' },
    [],
  );
  setCurrentDetails(`**deliver**: ${evaluated.opened} opened, ${evaluated.closed} closed over ${evaluated.rules} rules`);
  const delivered = await alerts.deliverAlertWebhooks.executeWithOptions(
    { startToCloseTimeout: '10 minutes', retry: SCHEDULED_RUN_RETRY, summary: 'send the webhooks owed' },
    [input.delivery],
  );
  setCurrentDetails(`**done**: ${evaluated.opened} opened, ${evaluated.closed} closed; ${delivered.delivered} delivered, ${delivered.retrying} to retry, ${delivered.deadLettered} dead-lettered, ${delivered.pending} pending`);
  return { ...evaluated, ...delivered };
}
