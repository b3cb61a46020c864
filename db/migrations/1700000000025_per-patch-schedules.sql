-- Up Migration
-- Per-patch schedules (issue 13, the Patch Management wizard's "a specific schedule for this patch"):
-- an Automatic Update schedule that installs only these KBs (an explicit install: approval aside,
-- Ignore still wins) on its scope's devices. NULL: every patch the policy approves, as before.
ALTER TABLE update_schedules ADD COLUMN kbs text[];
ALTER TABLE update_schedules ADD CONSTRAINT update_schedules_kbs_only_for_updates
  CHECK (kbs IS NULL OR (kind = 'automatic_update' AND cardinality(kbs) > 0));

-- Down Migration
ALTER TABLE update_schedules DROP CONSTRAINT update_schedules_kbs_only_for_updates;
ALTER TABLE update_schedules DROP COLUMN kbs;
