-- Up Migration
-- The kill switch (issue 14): fleet-wide halts, of every patch (kb NULL) or of one KB. A halt is
-- active until resumed; at most one active halt per scope. Rollouts read the active ones at start and
-- before each batch; the API signals running workflows when a halt is set or resumed.
CREATE TABLE fleet_halts (
  id uuid PRIMARY KEY,
  kb text,
  reason text NOT NULL,
  halted_by text NOT NULL,
  halted_at timestamptz NOT NULL DEFAULT now(),
  resumed_by text,
  resumed_at timestamptz,
  CONSTRAINT fleet_halts_resumed_together CHECK ((resumed_by IS NULL) = (resumed_at IS NULL))
);
CREATE UNIQUE INDEX fleet_halts_one_active_per_scope ON fleet_halts ((coalesce(kb, '*'))) WHERE resumed_at IS NULL;

-- Down Migration
DROP TABLE fleet_halts;
