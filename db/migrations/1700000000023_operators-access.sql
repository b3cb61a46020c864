-- Up Migration
-- Operators' access (issue 12.1, 12.7): people with personal API keys, each key with a role (its
-- user's) and a client scope; and who, from where and with what outcome on every audit row.

CREATE TABLE operator_users (
  id          uuid PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  -- viewer < operator < approver < admin (api/route-roles.ts)
  role        text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text NOT NULL
);

CREATE TABLE operator_api_keys (
  -- the public part of the key ("pf_<key id>_<secret>"), or 'bootstrap' for the configured key
  key_id        text PRIMARY KEY,
  user_id       uuid NOT NULL REFERENCES operator_users(id),
  name          text NOT NULL,
  -- SHA-256 of the whole key: a key is 256 random bits, so a fast hash is enough (no password to stretch)
  secret_hash   text NOT NULL,
  -- NULL: every client; else only these clients' devices, sites, policies, schedules and reports
  client_ids    uuid[],
  expires_at    timestamptz,
  revoked_at    timestamptz,
  revoked_by    text,
  last_used_at  timestamptz,
  last_used_ip  text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  created_by    text NOT NULL,
  UNIQUE (user_id, name)
);

ALTER TABLE audit_log ADD COLUMN user_name text;
ALTER TABLE audit_log ADD COLUMN key_id text;
ALTER TABLE audit_log ADD COLUMN key_name text;
ALTER TABLE audit_log ADD COLUMN source_ip text;
-- succeeded (the default: most rows record something that happened), refused, failed
ALTER TABLE audit_log ADD COLUMN outcome text NOT NULL DEFAULT 'succeeded';
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_at_idx ON audit_log (at);

-- Down Migration
DROP INDEX audit_log_at_idx;
DROP INDEX audit_log_action_idx;
DROP INDEX audit_log_actor_idx;
ALTER TABLE audit_log DROP COLUMN outcome;
ALTER TABLE audit_log DROP COLUMN source_ip;
ALTER TABLE audit_log DROP COLUMN key_name;
ALTER TABLE audit_log DROP COLUMN key_id;
ALTER TABLE audit_log DROP COLUMN user_name;
DROP TABLE operator_api_keys;
DROP TABLE operator_users;
