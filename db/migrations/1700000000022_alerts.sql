-- Up Migration
-- Alerts (issue 17.3): operators' rules, the alerts they open and close, and an outbox of webhook
-- deliveries (written in the same transaction as the alert change, sent after, retried, dead-lettered).

CREATE TABLE alert_rules (
  id              uuid PRIMARY KEY,
  name            text NOT NULL UNIQUE,
  -- null: every client
  client_id       uuid REFERENCES clients(id) ON DELETE CASCADE,
  -- domain/alert-rules.ts AlertCondition
  condition       text NOT NULL CHECK (condition IN ('patch_failed', 'reboot_required', 'noncompliant', 'no_scan')),
  -- hours (reboot_required) or days (noncompliant, no_scan); null for patch_failed
  threshold       integer CHECK (threshold IS NULL OR threshold BETWEEN 1 AND 3650),
  webhook_url     text NOT NULL,
  -- the HMAC key of the webhook's signature header (shown once, when the rule is created)
  webhook_secret  text NOT NULL,
  enabled         boolean NOT NULL DEFAULT true,
  created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE alerts (
  id          uuid PRIMARY KEY,
  rule_id     uuid NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
  -- what the alert is about, stable while the condition holds: "device:<id>" or "device:<id>:patch:<update id>"
  subject     text NOT NULL,
  device_id   uuid REFERENCES devices(id),
  client_id   uuid,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  opened_at   timestamptz NOT NULL DEFAULT now(),
  closed_at   timestamptz
);
-- One open alert per rule and subject: re-evaluating an unchanged fleet opens nothing.
CREATE UNIQUE INDEX alerts_one_open ON alerts (rule_id, subject) WHERE closed_at IS NULL;
CREATE INDEX alerts_open_by_rule ON alerts (rule_id) WHERE closed_at IS NULL;

CREATE TABLE alert_deliveries (
  id               bigserial PRIMARY KEY,
  alert_id         uuid NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
  event            text NOT NULL CHECK (event IN ('alert.opened', 'alert.closed')),
  payload          jsonb NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  delivered_at     timestamptz,
  dead_lettered_at timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND dead_lettered_at IS NULL;

-- Down Migration
DROP TABLE alert_deliveries;
DROP TABLE alerts;
DROP TABLE alert_rules;
