-- Up Migration
-- One id per Patchflow database. Temporal Schedules are marked with it, so two deployments sharing a
-- Temporal namespace (a staging API pointed at production's Temporal, a second test database) never
-- delete each other's schedules when they reconcile.
CREATE TABLE deployment (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id         uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deployment DEFAULT VALUES;

-- Down Migration
DROP TABLE deployment;
