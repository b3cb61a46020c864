-- Up Migration
-- Issue 14 parts 6 and 7.
-- Update loops, watched by the server for every executor: an install that reports success arms the
-- watch; the next scan (not the install's own post-scan) confirms the patch or counts a comeback. At
-- the second comeback the patch is Failed "update loop detected" and no install path installs it again
-- until an operator's Reprocess failed.
ALTER TABLE device_patches ADD COLUMN loop_successes integer NOT NULL DEFAULT 0;
ALTER TABLE device_patches ADD COLUMN loop_comebacks integer NOT NULL DEFAULT 0;
ALTER TABLE device_patches ADD COLUMN loop_awaiting_scan boolean NOT NULL DEFAULT false;
-- Health check and automatic uninstall: when an install rolled the patch back because the health
-- check after it failed. The status is Failed; last_error says "rolled back: health check failed: ...".
ALTER TABLE device_patches ADD COLUMN rolled_back_at timestamptz;
-- A device an automatic rollback could not clean up (an uninstall that failed): a person looks.
ALTER TABLE devices ADD COLUMN needs_attention text;
ALTER TABLE devices ADD COLUMN needs_attention_at timestamptz;
-- The health check an Automatic Update schedule runs after each install (domain/health-check.ts).
ALTER TABLE update_schedules ADD COLUMN health_check jsonb;

-- Down Migration
ALTER TABLE update_schedules DROP COLUMN health_check;
ALTER TABLE devices DROP COLUMN needs_attention_at;
ALTER TABLE devices DROP COLUMN needs_attention;
ALTER TABLE device_patches DROP COLUMN rolled_back_at;
ALTER TABLE device_patches DROP COLUMN loop_awaiting_scan;
ALTER TABLE device_patches DROP COLUMN loop_comebacks;
ALTER TABLE device_patches DROP COLUMN loop_successes;
