-- Up Migration
-- The two-person rule (issue 12.2): an action that reaches more than N devices waits here, and in its
-- `approval-request/<id>` workflow, until a second person approves it, refuses it, or it expires.

CREATE TABLE approval_requests (
  id                   uuid PRIMARY KEY,
  -- scope_scan, approval_all_policies, kb_override, uninstall_by_scope, schedule_trigger, schedule_backfill
  kind                 text NOT NULL,
  summary              text NOT NULL,
  -- what runs once approved: the request the first person made, already checked
  parameters           jsonb NOT NULL,
  devices              integer NOT NULL,
  -- the role the action needs: the second person needs it too
  needed_role          text NOT NULL CHECK (needed_role IN ('viewer', 'operator', 'approver', 'admin')),
  -- the clients the action reaches (NULL: every client); only keys that see them see the request
  client_ids           uuid[],
  requested_by         text NOT NULL,
  requested_by_user_id uuid NOT NULL,
  requested_at         timestamptz NOT NULL DEFAULT now(),
  expires_at           timestamptz NOT NULL,
  state                text NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'approved', 'refused', 'expired', 'executed', 'failed')),
  decided_by           text,
  decided_by_user_id   uuid,
  decided_at           timestamptz,
  decision_reason      text,
  result               jsonb,
  finished_at          timestamptz
);
CREATE INDEX approval_requests_requested_at_idx ON approval_requests (requested_at DESC);

-- Down Migration
DROP TABLE approval_requests;
