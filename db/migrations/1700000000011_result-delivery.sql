-- Up Migration
-- Recovery (issues 16 and 18): every stored device answer reaches Temporal, and waiting device steps
-- are heartbeated by the gateway so a lost activity is noticed within minutes.

-- When the answer stored in the row was handed to Temporal (accepted, or Temporal said the attempt
-- no longer exists: delivered_late). NULL on a finished row: the result completer still owes it.
ALTER TABLE agent_commands ADD COLUMN delivered_at timestamptz;
ALTER TABLE agent_commands ADD COLUMN delivered_late boolean NOT NULL DEFAULT false;
-- The completer's backoff: failed delivery tries and when the next one is due.
ALTER TABLE agent_commands ADD COLUMN delivery_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE agent_commands ADD COLUMN next_delivery_at timestamptz;
-- The device's last progress report: the gateway's keep-alive heartbeats repeat it, so the Web UI
-- keeps showing "download 50%" instead of an empty heartbeat.
ALTER TABLE agent_commands ADD COLUMN last_progress jsonb;

-- Rows finished before this migration: their attempts' timeouts have long run out for almost all of
-- them, and the next attempt reads the stored answer anyway; do not replay the whole history.
UPDATE agent_commands SET delivered_at = coalesce(finished_at, updated_at)
 WHERE status IN ('succeeded', 'failed', 'cancelled');

CREATE INDEX agent_commands_undelivered_idx ON agent_commands (next_delivery_at)
  WHERE delivered_at IS NULL AND status IN ('succeeded', 'failed');

-- Down Migration
DROP INDEX agent_commands_undelivered_idx;
ALTER TABLE agent_commands DROP COLUMN last_progress;
ALTER TABLE agent_commands DROP COLUMN next_delivery_at;
ALTER TABLE agent_commands DROP COLUMN delivery_attempts;
ALTER TABLE agent_commands DROP COLUMN delivered_late;
ALTER TABLE agent_commands DROP COLUMN delivered_at;
