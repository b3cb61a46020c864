-- Up Migration
-- Bookkeeping that stays exact when a (local) activity is retried: a retry carries the same
-- (workflow run, activity id), so an increment or an audit row keyed by it is written once.

-- The activity (workflow id / run id / activity id) that last counted a failure of this patch: a
-- retry of that activity finds its own key here and does not count the failure again.
ALTER TABLE device_patches ADD COLUMN failure_counted_by text;

-- Audit rows written by activities carry their activity's key (plus the row's place in the batch).
ALTER TABLE audit_log ADD COLUMN idempotency_key text;
CREATE UNIQUE INDEX audit_log_idempotency_key_idx ON audit_log (idempotency_key) WHERE idempotency_key IS NOT NULL;

-- Down Migration
DROP INDEX audit_log_idempotency_key_idx;
ALTER TABLE audit_log DROP COLUMN idempotency_key;
ALTER TABLE device_patches DROP COLUMN failure_counted_by;
