-- Up Migration
-- Patchflow's first schema: the fleet (clients, sites, devices), the patch catalog, per-device patch
-- status, the agent command queue that backs asynchronous activity completion, the one-operation-per-
-- device claim, and an append-only audit log.

CREATE TABLE clients (
  id          uuid PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
  id          uuid PRIMARY KEY,
  client_id   uuid NOT NULL REFERENCES clients(id),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (client_id, name)
);

CREATE TABLE devices (
  id                     uuid PRIMARY KEY,
  site_id                uuid NOT NULL REFERENCES sites(id),
  name                   text NOT NULL,
  device_type            text NOT NULL CHECK (device_type IN ('server', 'workstation')),
  os                     text,
  -- SHA-256 of the one-time enrollment token; cleared once used
  enrollment_token_hash  text,
  -- SHA-256 of the device credential's secret part (high-entropy tokens need no slow hash)
  credential_hash        text,
  enrolled_at            timestamptz,
  last_check_in_at       timestamptz,
  boot_id                text,
  working_folder         text NOT NULL,
  install_folder         text NOT NULL,
  created_at             timestamptz NOT NULL DEFAULT now(),
  UNIQUE (site_id, name)
);
CREATE UNIQUE INDEX devices_enrollment_token_idx ON devices (enrollment_token_hash) WHERE enrollment_token_hash IS NOT NULL;

CREATE TABLE patches (
  update_id        text NOT NULL,
  revision         integer NOT NULL,
  kb               text NOT NULL,
  title            text NOT NULL,
  product          text NOT NULL,
  classification   text NOT NULL,
  severity         text NOT NULL,
  published_at     timestamptz,
  size_bytes       bigint NOT NULL,
  sha256           text NOT NULL,
  download_url     text NOT NULL,
  file_name        text NOT NULL,
  reboot_behavior  text NOT NULL,
  first_seen_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (update_id)
);
CREATE INDEX patches_kb_idx ON patches (kb);

CREATE TABLE device_patches (
  device_id          uuid NOT NULL REFERENCES devices(id),
  update_id          text NOT NULL REFERENCES patches(update_id),
  status             text NOT NULL CHECK (status IN
                       ('missing', 'pending', 'installing', 'installed', 'failed', 'ignored', 'reboot_required')),
  status_changed_at  timestamptz NOT NULL DEFAULT now(),
  -- set only when Patchflow installed the patch
  installed_at       timestamptz,
  last_exit_code     bigint,
  last_error         text,
  failed_attempts    integer NOT NULL DEFAULT 0,
  last_operation_id  text,
  PRIMARY KEY (device_id, update_id)
);

CREATE TABLE agent_commands (
  -- workflow id + activity id: stable across retries of the same step, the agent's journal key
  id                text PRIMARY KEY,
  device_id         uuid NOT NULL REFERENCES devices(id),
  workflow_id       text NOT NULL,
  type              text NOT NULL,
  payload           jsonb NOT NULL,
  -- the current attempt's task token, replaced at every retry
  task_token        bytea NOT NULL,
  attempt           integer NOT NULL,
  status            text NOT NULL CHECK (status IN
                      ('pending', 'claimed', 'acknowledged', 'succeeded', 'failed', 'cancelled')),
  claimed_attempt   integer,
  claimed_at        timestamptz,
  -- boot id the device had when it acknowledged a reboot
  acked_boot_id     text,
  result            jsonb,
  error             jsonb,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz
);
CREATE INDEX agent_commands_device_open_idx ON agent_commands (device_id, created_at)
  WHERE status IN ('pending', 'claimed', 'acknowledged');
CREATE INDEX agent_commands_workflow_idx ON agent_commands (workflow_id);

-- At most one install operation per device: the row is the claim, its workflow id the holder.
CREATE TABLE device_operations (
  device_id    uuid PRIMARY KEY REFERENCES devices(id),
  workflow_id  text NOT NULL,
  operation    text NOT NULL,
  claimed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  actor       text NOT NULL,
  action      text NOT NULL,
  device_id   uuid,
  subject     text,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_device_idx ON audit_log (device_id, at);

-- Append-only: history that can be rewritten is not an audit trail.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

-- Down Migration
DROP TABLE audit_log;
DROP FUNCTION audit_log_is_append_only();
DROP TABLE device_operations;
DROP TABLE agent_commands;
DROP TABLE device_patches;
DROP TABLE patches;
DROP TABLE devices;
DROP TABLE sites;
DROP TABLE clients;
