-- Up Migration
-- Release plans (issue 14.1): an ordered list of rings per client. Each ring's scope, deferral,
-- promotion gate and halt threshold are validated by api/release-schemas.ts and kept as JSON (the
-- release workflow takes a snapshot of the plan at start, so an edit never reaches a running release).
CREATE TABLE release_plans (
  id          uuid PRIMARY KEY,
  client_id   uuid NOT NULL REFERENCES clients(id),
  name        text NOT NULL,
  rings       jsonb NOT NULL CHECK (jsonb_typeof(rings) = 'array' AND jsonb_array_length(rings) > 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (client_id, name)
);

-- Releases started from a plan: one per (plan, cycle), the cycle being a Patch Tuesday month
-- (2026-12) or an out-of-band patch (oob-KB5034441).
CREATE TABLE releases (
  workflow_id  text PRIMARY KEY,
  plan_id      uuid NOT NULL REFERENCES release_plans(id) ON DELETE CASCADE,
  cycle        text NOT NULL,
  kbs          text[] NOT NULL,
  started_by   text NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (plan_id, cycle)
);

-- Down Migration
DROP TABLE releases;
DROP TABLE release_plans;
