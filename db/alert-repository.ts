import { randomUUID } from 'node:crypto';
import type { AlertCondition } from '../domain/alert-rules';
import { describeCondition } from '../domain/alert-rules';
import type { Queryable } from './database';

export interface AlertRuleRow {
  id: string;
  name: string;
  clientId: string | null;
  condition: AlertCondition;
  threshold: number | null;
  webhookUrl: string;
  enabled: boolean;
  createdAt: string;
}

const toRule = (r: Record<string, any>): AlertRuleRow => ({
  id: r.id, name: r.name, clientId: r.client_id, condition: r.condition, threshold: r.threshold,
  webhookUrl: r.webhook_url, enabled: r.enabled, createdAt: r.created_at.toISOString(),
});

export async function insertAlertRule(
  db: Queryable,
  f: { name: string; clientId: string | null; condition: AlertCondition; threshold: number | null; webhookUrl: string; webhookSecret: string },
): Promise<AlertRuleRow> {
  const { rows } = await db.query(
    `INSERT INTO alert_rules (id, name, client_id, condition, threshold, webhook_url, webhook_secret)
     VALUES ($1::uuid, $2::text, $3::uuid, $4::text, $5::int, $6::text, $7::text) RETURNING *`,
    [randomUUID(), f.name, f.clientId, f.condition, f.threshold, f.webhookUrl, f.webhookSecret],
  );
  return toRule(rows[0]);
}

export async function listAlertRules(db: Queryable): Promise<AlertRuleRow[]> {
  const { rows } = await db.query('SELECT * FROM alert_rules ORDER BY name');
  return rows.map(toRule);
}

export async function findAlertRule(db: Queryable, id: string): Promise<AlertRuleRow | undefined> {
  const { rows } = await db.query('SELECT * FROM alert_rules WHERE id = $1::uuid', [id]);
  return rows[0] ? toRule(rows[0]) : undefined;
}

export async function setAlertRuleEnabled(db: Queryable, id: string, enabled: boolean): Promise<AlertRuleRow | undefined> {
  const { rows } = await db.query('UPDATE alert_rules SET enabled = $2::bool WHERE id = $1::uuid RETURNING *', [id, enabled]);
  return rows[0] ? toRule(rows[0]) : undefined;
}

export async function deleteAlertRule(db: Queryable, id: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM alert_rules WHERE id = $1::uuid', [id]);
  return (rowCount ?? 0) > 0;
}

// ---------------------------------------------------------------------------------------------------
// Conditions: each query yields (subject, device_id, client_id, details) for a rule's $1 client
// (null: all), $2 threshold. Retired devices never alert.

/** The rule's devices (`joins` adds what the condition reads), retired ones left out. */
const fleetWith = (joins: string) => `
  FROM devices d JOIN sites s ON s.id = d.site_id JOIN clients c ON c.id = s.client_id ${joins}
  WHERE d.retired_at IS NULL AND ($1::uuid IS NULL OR s.client_id = $1::uuid)`;

const DEVICE_FIELDS = `'deviceName', d.name, 'clientName', c.name, 'siteName', s.name`;

const CONDITION_SQL: Record<AlertCondition, string> = {
  patch_failed: `
    SELECT 'device:' || d.id || ':patch:' || dp.update_id AS subject, d.id AS device_id, s.client_id,
           jsonb_build_object(${DEVICE_FIELDS}, 'kb', p.kb, 'title', p.title, 'updateId', dp.update_id,
             'exitCode', dp.last_exit_code, 'error', dp.last_error, 'since', dp.status_changed_at) AS details
    ${fleetWith(`JOIN device_patches dp ON dp.device_id = d.id AND dp.status = 'failed' JOIN patches p ON p.update_id = dp.update_id`)}
      AND coalesce($2::int, 0) >= 0`,
  reboot_required: `
    SELECT 'device:' || d.id AS subject, d.id AS device_id, s.client_id,
           jsonb_build_object(${DEVICE_FIELDS}, 'kbs', array_agg(p.kb ORDER BY p.kb), 'since', min(dp.status_changed_at)) AS details
    ${fleetWith(`JOIN device_patches dp ON dp.device_id = d.id AND dp.status = 'reboot_required' JOIN patches p ON p.update_id = dp.update_id`)}
    GROUP BY d.id, d.name, s.client_id, c.name, s.name
    HAVING min(dp.status_changed_at) < now() - make_interval(hours => $2::int)`,
  // "Since" is the patch's last status change: how long it has stood missing, pending or failed.
  noncompliant: `
    SELECT 'device:' || d.id AS subject, d.id AS device_id, s.client_id,
           jsonb_build_object(${DEVICE_FIELDS}, 'kbs', array_agg(p.kb ORDER BY p.kb), 'since', min(dp.status_changed_at)) AS details
    ${fleetWith(`JOIN device_patches dp ON dp.device_id = d.id AND dp.status IN ('missing', 'pending', 'failed')
      JOIN patches p ON p.update_id = dp.update_id AND p.classification IN ('Security Updates', 'Critical Updates')`)}
      AND dp.status_changed_at < now() - make_interval(days => $2::int)
    GROUP BY d.id, d.name, s.client_id, c.name, s.name`,
  no_scan: `
    SELECT 'device:' || d.id AS subject, d.id AS device_id, s.client_id,
           jsonb_build_object(${DEVICE_FIELDS}, 'lastScannedAt', ds.last_scanned_at, 'enrolledAt', d.enrolled_at) AS details
    ${fleetWith('LEFT JOIN device_scans ds ON ds.device_id = d.id')}
      AND d.credential_hash IS NOT NULL
      AND COALESCE(ds.last_scanned_at, d.enrolled_at) < now() - make_interval(days => $2::int)`,
};

export interface AlertChange {
  event: 'alert.opened' | 'alert.closed';
  alertId: string;
  ruleId: string;
  subject: string;
  deviceId: string | null;
  clientId: string | null;
  details: Record<string, unknown>;
  openedAt: string;
  closedAt: string | null;
}

/**
 * Opens an alert for every subject that now meets the rule and has none open, and closes the open
 * ones whose subject no longer does, in one statement. Run twice on an unchanged fleet it changes
 * nothing (one open alert per rule and subject, by a unique index).
 */
export async function applyAlertRule(db: Queryable, rule: Pick<AlertRuleRow, 'id' | 'clientId' | 'condition' | 'threshold'>): Promise<AlertChange[]> {
  const { rows } = await db.query(
    `WITH cur AS (${CONDITION_SQL[rule.condition]}),
     opened AS (
       INSERT INTO alerts (id, rule_id, subject, device_id, client_id, details)
       SELECT gen_random_uuid(), $3::uuid, subject, device_id, client_id, details FROM cur
       ON CONFLICT (rule_id, subject) WHERE closed_at IS NULL DO NOTHING
       RETURNING *),
     closed AS (
       UPDATE alerts a SET closed_at = now()
       WHERE a.rule_id = $3::uuid AND a.closed_at IS NULL AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.subject = a.subject)
       RETURNING a.*)
     SELECT 'alert.opened' AS event, * FROM opened UNION ALL SELECT 'alert.closed' AS event, * FROM closed`,
    [rule.clientId, rule.threshold, rule.id],
  );
  return rows.map((r) => ({
    event: r.event, alertId: r.id, ruleId: r.rule_id, subject: r.subject, deviceId: r.device_id, clientId: r.client_id,
    details: r.details, openedAt: r.opened_at.toISOString(), closedAt: r.closed_at ? r.closed_at.toISOString() : null,
  }));
}

/** The webhook body of a change (what a receiver sees; `deliveryId` is added when it is queued). */
export function alertPayloadOf(rule: AlertRuleRow, change: AlertChange): Record<string, unknown> {
  return {
    event: change.event,
    alert: {
      id: change.alertId, state: change.event === 'alert.opened' ? 'open' : 'closed',
      rule: { id: rule.id, name: rule.name, condition: rule.condition, threshold: rule.threshold, description: describeCondition(rule.condition, rule.threshold) },
      subject: change.subject, deviceId: change.deviceId, clientId: change.clientId, details: change.details,
      openedAt: change.openedAt, closedAt: change.closedAt,
    },
  };
}

export async function queueDeliveries(db: Queryable, deliveries: { alertId: string; event: string; payload: Record<string, unknown> }[]): Promise<void> {
  if (deliveries.length === 0) return;
  await db.query(
    `INSERT INTO alert_deliveries (alert_id, event, payload)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[])`,
    [deliveries.map((d) => d.alertId), deliveries.map((d) => d.event), deliveries.map((d) => JSON.stringify(d.payload))],
  );
}

export interface DueDelivery {
  id: number;
  alertId: string;
  event: 'alert.opened' | 'alert.closed';
  payload: Record<string, unknown>;
  attempts: number;
  webhookUrl: string;
  webhookSecret: string;
}

/**
 * Deliveries due now, oldest first; one waits while an earlier delivery of the same alert is still
 * owed, so a receiver never sees an alert close before it opened.
 */
export async function dueDeliveries(db: Queryable, limit: number): Promise<DueDelivery[]> {
  const { rows } = await db.query(
    `SELECT d.id, d.alert_id, d.event, d.payload, d.attempts, r.webhook_url, r.webhook_secret
     FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id JOIN alert_rules r ON r.id = a.rule_id
     WHERE d.delivered_at IS NULL AND d.dead_lettered_at IS NULL AND d.next_attempt_at <= now()
       AND NOT EXISTS (SELECT 1 FROM alert_deliveries e WHERE e.alert_id = d.alert_id AND e.id < d.id
                         AND e.delivered_at IS NULL AND e.dead_lettered_at IS NULL)
     ORDER BY d.id LIMIT $1::int`,
    [limit],
  );
  return rows.map((r) => ({
    id: Number(r.id), alertId: r.alert_id, event: r.event, payload: r.payload, attempts: r.attempts,
    webhookUrl: r.webhook_url, webhookSecret: r.webhook_secret,
  }));
}

export async function markDelivered(db: Queryable, id: number): Promise<void> {
  await db.query('UPDATE alert_deliveries SET delivered_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = $1 AND delivered_at IS NULL', [id]);
}

/** A failed try: wait `retryInSeconds`, or move to the dead-letter list when `deadLetter`. */
export async function markFailed(db: Queryable, id: number, error: string, retryInSeconds: number, deadLetter: boolean): Promise<void> {
  await db.query(
    `UPDATE alert_deliveries SET attempts = attempts + 1, last_error = $2::text,
       next_attempt_at = now() + make_interval(secs => $3::int),
       dead_lettered_at = CASE WHEN $4::bool THEN now() END
     WHERE id = $1 AND delivered_at IS NULL`,
    [id, error.slice(0, 1000), retryInSeconds, deadLetter],
  );
}

/** Deliveries still owed (not delivered, not dead-lettered). */
export async function pendingDeliveryCount(db: Queryable): Promise<number> {
  const { rows } = await db.query('SELECT count(*)::int AS n FROM alert_deliveries WHERE delivered_at IS NULL AND dead_lettered_at IS NULL');
  return rows[0].n;
}

export interface DeliveryRow {
  id: number; alertId: string; ruleId: string; event: string; attempts: number; lastError: string | null;
  nextAttemptAt: string; deliveredAt: string | null; deadLetteredAt: string | null; createdAt: string;
}

const toDelivery = (r: Record<string, any>): DeliveryRow => ({
  id: Number(r.id), alertId: r.alert_id, ruleId: r.rule_id, event: r.event, attempts: r.attempts, lastError: r.last_error,
  nextAttemptAt: r.next_attempt_at.toISOString(), deliveredAt: r.delivered_at?.toISOString() ?? null,
  deadLetteredAt: r.dead_lettered_at?.toISOString() ?? null, createdAt: r.created_at.toISOString(),
});

export async function listDeadLetters(db: Queryable, limit = 200): Promise<DeliveryRow[]> {
  const { rows } = await db.query(
    `SELECT d.*, a.rule_id FROM alert_deliveries d JOIN alerts a ON a.id = d.alert_id
     WHERE d.dead_lettered_at IS NOT NULL ORDER BY d.id DESC LIMIT $1::int`, [limit]);
  return rows.map(toDelivery);
}

/** Puts a dead-lettered delivery back in the queue, due now, with its tries counted from zero. */
export async function requeueDeadLetter(db: Queryable, id: number): Promise<DeliveryRow | undefined> {
  const { rows } = await db.query(
    `UPDATE alert_deliveries d SET dead_lettered_at = NULL, attempts = 0, next_attempt_at = now()
     FROM alerts a WHERE d.id = $1 AND d.dead_lettered_at IS NOT NULL AND a.id = d.alert_id RETURNING d.*, a.rule_id`, [id]);
  return rows[0] ? toDelivery(rows[0]) : undefined;
}

export interface AlertRow {
  id: string; ruleId: string; ruleName: string; condition: string; subject: string; deviceId: string | null; clientId: string | null;
  details: Record<string, unknown>; openedAt: string; closedAt: string | null;
}

export async function listAlerts(db: Queryable, filter: { state: 'open' | 'closed' | 'all'; clientId?: string; limit: number }): Promise<AlertRow[]> {
  const { rows } = await db.query(
    `SELECT a.*, r.name AS rule_name, r.condition FROM alerts a JOIN alert_rules r ON r.id = a.rule_id
     WHERE ($1::text = 'all' OR ($1::text = 'open') = (a.closed_at IS NULL))
       AND ($2::uuid IS NULL OR a.client_id = $2::uuid)
     ORDER BY a.opened_at DESC LIMIT $3::int`,
    [filter.state, filter.clientId ?? null, filter.limit],
  );
  return rows.map((r) => ({
    id: r.id, ruleId: r.rule_id, ruleName: r.rule_name, condition: r.condition, subject: r.subject, deviceId: r.device_id,
    clientId: r.client_id, details: r.details, openedAt: r.opened_at.toISOString(), closedAt: r.closed_at?.toISOString() ?? null,
  }));
}
