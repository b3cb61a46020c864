-- Up Migration
-- Automatic halts (issue 14 part 2): a rollout that halted itself at its failure threshold records it
-- here (and in the audit log), so GET /api/v1/halt shows it apart from the operators' fleet halts and
-- an operator can resume it explicitly. One per rollout workflow: a rollout resumed from its
-- automatic halt never halts itself again. Active while neither resumed nor ended (the rollout was
-- cancelled while halted, or finished).
CREATE TABLE rollout_auto_halts (
  workflow_id   text PRIMARY KEY,
  schedule_id   text NOT NULL,
  schedule_name text NOT NULL,
  reason        text NOT NULL,
  halted_by     text NOT NULL,
  halted_at     timestamptz NOT NULL DEFAULT now(),
  resumed_by    text,
  resumed_at    timestamptz,
  ended_at      timestamptz,
  CONSTRAINT rollout_auto_halts_resumed_together CHECK ((resumed_by IS NULL) = (resumed_at IS NULL))
);
CREATE INDEX rollout_auto_halts_active ON rollout_auto_halts (halted_at) WHERE resumed_at IS NULL AND ended_at IS NULL;

-- Down Migration
DROP TABLE rollout_auto_halts;
