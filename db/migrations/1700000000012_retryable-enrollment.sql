-- Up Migration
-- Enrollment that can be retried (issue 16.3): the agent sends a nonce of its own with its enrollment;
-- a retry with the same (spent) token and the same nonce within a window enrols it again, instead of
-- "token already used" for an agent whose answer was lost. Tokens expire.

-- When the current enrollment token was issued (tokens older than the configured lifetime are refused).
-- Existing tokens count from now, so an upgrade does not expire them at once.
ALTER TABLE devices ADD COLUMN enrollment_token_issued_at timestamptz DEFAULT now();
-- The token and nonce (SHA-256) of the last enrollment, and until when a retry with both is answered.
ALTER TABLE devices ADD COLUMN spent_enrollment_token_hash text;
ALTER TABLE devices ADD COLUMN enrollment_nonce_hash text;
ALTER TABLE devices ADD COLUMN enrollment_retry_until timestamptz;
CREATE INDEX devices_spent_enrollment_token_idx ON devices (spent_enrollment_token_hash) WHERE spent_enrollment_token_hash IS NOT NULL;

-- Down Migration
DROP INDEX devices_spent_enrollment_token_idx;
ALTER TABLE devices DROP COLUMN enrollment_retry_until;
ALTER TABLE devices DROP COLUMN enrollment_nonce_hash;
ALTER TABLE devices DROP COLUMN spent_enrollment_token_hash;
ALTER TABLE devices DROP COLUMN enrollment_token_issued_at;
