import express, { type Router } from 'express';
import { z } from 'zod';
import { deleteAlertRule, findAlertRule, listAlertRules, listAlerts, listDeadLetters, requeueDeadLetter, setAlertRuleEnabled } from '../db/alert-repository';
import { appendAudit } from '../db/audit-repository';
import { describeCondition } from '../domain/alert-rules';
import { NotFoundError } from '../domain/errors';
import { alertRuleIdParam, createAlertRuleSchema, deliveryIdParam, listAlertsQuery, updateAlertRuleSchema } from './alert-schemas';
import { createAlertRule, startAlertsEvaluation, type AlertServiceDeps } from './alert-service';
import { parse } from './validation';

const ruleView = <R extends { condition: Parameters<typeof describeCondition>[0]; threshold: number | null }>(r: R) =>
  ({ ...r, description: describeCondition(r.condition, r.threshold) });

/**
 * Alerts (/api/v1/alert-rules, /api/v1/alerts): rules per client or for all clients, the alerts they
 * opened and closed, evaluation on demand, and the dead-letter list of webhook deliveries that never
 * got through.
 */
export function createAlertsApi(deps: AlertServiceDeps): Router {
  const { db } = deps;
  const router = express.Router();

  router.post('/alert-rules', async (req, res) => {
    const body = parse(createAlertRuleSchema, req.body, 'body');
    const rule = await createAlertRule(deps, body, res.locals.actor as string);
    res.status(201).location(`/api/v1/alert-rules/${rule.id}`).json(ruleView(rule));
  });

  router.get('/alert-rules', async (_req, res) => {
    res.json({ rules: (await listAlertRules(db)).map(ruleView) });
  });

  router.get('/alert-rules/:ruleId', async (req, res) => {
    const { ruleId } = parse(alertRuleIdParam, req.params, 'params');
    const rule = await findAlertRule(db, ruleId);
    if (!rule) throw new NotFoundError('alert rule', ruleId);
    res.json(ruleView(rule));
  });

  router.patch('/alert-rules/:ruleId', async (req, res) => {
    const { ruleId } = parse(alertRuleIdParam, req.params, 'params');
    const { enabled } = parse(updateAlertRuleSchema, req.body, 'body');
    const rule = await setAlertRuleEnabled(db, ruleId, enabled);
    if (!rule) throw new NotFoundError('alert rule', ruleId);
    await appendAudit(db, [{ actor: res.locals.actor as string, action: enabled ? 'alert_rule.enabled' : 'alert_rule.disabled', subject: ruleId }]);
    res.json(ruleView(rule));
  });

  router.delete('/alert-rules/:ruleId', async (req, res) => {
    const { ruleId } = parse(alertRuleIdParam, req.params, 'params');
    if (!(await deleteAlertRule(db, ruleId))) throw new NotFoundError('alert rule', ruleId);
    await appendAudit(db, [{ actor: res.locals.actor as string, action: 'alert_rule.deleted', subject: ruleId }]);
    res.status(204).end();
  });

  router.get('/alerts', async (req, res) => {
    const q = parse(listAlertsQuery, req.query, 'query');
    res.json({ alerts: await listAlerts(db, q) });
  });

  router.post('/alerts/evaluate', async (req, res) => {
    parse(z.object({}).strict(), req.body, 'body');
    const started = await startAlertsEvaluation(deps, res.locals.actor as string);
    await appendAudit(db, [{ actor: res.locals.actor as string, action: 'alerts.evaluation_started', subject: started.workflowId, details: { runId: started.runId } }]);
    res.status(202).json(started);
  });

  router.get('/alerts/dead-letters', async (_req, res) => {
    res.json({ deliveries: await listDeadLetters(db) });
  });

  router.post('/alerts/dead-letters/:deliveryId/retry', async (req, res) => {
    const { deliveryId } = parse(deliveryIdParam, req.params, 'params');
    const delivery = await requeueDeadLetter(db, deliveryId);
    if (!delivery) throw new NotFoundError('dead-lettered delivery', String(deliveryId));
    await appendAudit(db, [{ actor: res.locals.actor as string, action: 'alert_delivery.requeued', subject: String(deliveryId), details: { alertId: delivery.alertId } }]);
    res.status(202).json(delivery);
  });

  return router;
}
