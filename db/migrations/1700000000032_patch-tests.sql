-- Up Migration
-- Issue 17 part 2: the Patch Test (Kaseya, seed 003). The latest result per device, each check with its
-- reason; a failed one blocks Automatic Update on the device until a later Patch Test passes.
CREATE TABLE device_patch_tests (
  device_id     uuid PRIMARY KEY REFERENCES devices(id),
  workflow_id   text NOT NULL,
  passed        boolean NOT NULL,
  -- domain/patch-test.ts PatchTestCheckResult[]: { check, subject?, passed, reason }
  checks        jsonb NOT NULL,
  -- the patches whose files were checked (KBs), and who asked
  kbs           text[] NOT NULL DEFAULT '{}',
  requested_by  text NOT NULL,
  -- the workflow's time when it evaluated the observation: a retried write of an older test never
  -- replaces a newer one
  tested_at     timestamptz NOT NULL
);
-- The fleet page and the rollouts' device selection look for the failed ones.
CREATE INDEX device_patch_tests_failed_idx ON device_patch_tests (device_id) WHERE NOT passed;
-- Devices an Automatic Update rollout left out because their last Patch Test failed, with the reason.
ALTER TABLE rollouts ADD COLUMN blocked_devices jsonb NOT NULL DEFAULT '[]'::jsonb;

-- Down Migration
ALTER TABLE rollouts DROP COLUMN blocked_devices;
DROP TABLE device_patch_tests;
