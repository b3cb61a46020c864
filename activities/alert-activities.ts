import type { Logger } from 'pino';
import {
  alertPayloadOf, applyAlertRule, dueDeliveries, listAlertRules, markDelivered, markFailed, pendingDeliveryCount, queueDeliveries,
} from '../db/alert-repository';
import { withTransaction, type Db } from '../db/database';
import { DELIVERY_HEADER, EVENT_HEADER, retryDelaySeconds, SIGNATURE_HEADER, signWebhook, type DeliveryPolicy } from '../domain/alert-rules';
import type { DeliverResult, EvaluateResult } from '../workflows/alerts.contract';

/** How many deliveries one round sends at most (the rest wait for the next round). */
const ROUND_LIMIT = 500;
/** Any evaluation of the rules holds this lock, so two never interleave their opens and closes. */
const EVALUATION_LOCK = 0x70666c77; // "pflw"

export function createAlertActivities(deps: { db: Db; log: Logger; fetch?: typeof fetch }) {
  const send = deps.fetch ?? fetch;
  return {
    /**
     * Opens and closes alerts for every enabled rule and queues their webhook deliveries, all in one
     * transaction: a retry after a crash either finds it all done or nothing done.
     */
    async evaluateAlertRules(): Promise<EvaluateResult> {
      return withTransaction(deps.db, async (tx) => {
        await tx.query('SELECT pg_advisory_xact_lock($1)', [EVALUATION_LOCK]);
        const rules = (await listAlertRules(tx)).filter((r) => r.enabled);
        const result: EvaluateResult = { rules: rules.length, opened: 0, closed: 0 };
        for (const rule of rules) {
          const changes = await applyAlertRule(tx, rule);
          await queueDeliveries(tx, changes.map((c) => ({ alertId: c.alertId, event: c.event, payload: alertPayloadOf(rule, c) })));
          for (const c of changes) result[c.event === 'alert.opened' ? 'opened' : 'closed'] += 1;
        }
        if (result.opened + result.closed > 0) deps.log.info(result, 'alerts changed');
        return result;
      });
    },

    /**
     * Sends every delivery that is due, signed (domain/alert-rules.ts says how a receiver checks it).
     * A 2xx is delivered; anything else waits `retryDelaySeconds` and is tried again, until
     * `maxAttempts`, then goes to the dead-letter list (GET /api/v1/alerts/dead-letters).
     */
    async deliverAlertWebhooks(policy: DeliveryPolicy): Promise<DeliverResult> {
      const result: DeliverResult = { delivered: 0, retrying: 0, deadLettered: 0, pending: 0 };
      for (const d of await dueDeliveries(deps.db, ROUND_LIMIT)) {
        const body = JSON.stringify({ deliveryId: d.id, ...d.payload });
        let problem: string | undefined;
        try {
          const res = await send(d.webhookUrl, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              [SIGNATURE_HEADER]: signWebhook(d.webhookSecret, body, Math.floor(Date.now() / 1000)),
              [EVENT_HEADER]: d.event,
              [DELIVERY_HEADER]: String(d.id),
            },
            body,
            redirect: 'manual',
            signal: AbortSignal.timeout(policy.timeoutSeconds * 1000),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.status < 200 || res.status > 299) problem = `the receiver answered ${res.status}`;
        } catch (err) {
          const e = err as Error & { cause?: { code?: string } };
          problem = e.name === 'TimeoutError' ? `no answer within ${policy.timeoutSeconds} s` : `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}`;
        }
        if (!problem) {
          await markDelivered(deps.db, d.id);
          result.delivered += 1;
          continue;
        }
        const attempts = d.attempts + 1;
        const deadLetter = attempts >= policy.maxAttempts;
        await markFailed(deps.db, d.id, problem, retryDelaySeconds(policy, attempts), deadLetter);
        result[deadLetter ? 'deadLettered' : 'retrying'] += 1;
        deps.log.warn({ deliveryId: d.id, alertId: d.alertId, event: d.event, attempts, deadLetter, problem }, deadLetter ? 'alert webhook dead-lettered' : 'alert webhook failed; will retry');
      }
      result.pending = await pendingDeliveryCount(deps.db);
      return result;
    },
  };
}
