-- Up Migration
-- Superseded: Windows no longer offers the patch because its successor is installed on the device.
ALTER TABLE device_patches DROP CONSTRAINT device_patches_status_check;
ALTER TABLE device_patches ADD CONSTRAINT device_patches_status_check CHECK (status IN
  ('missing', 'pending', 'installing', 'installed', 'failed', 'ignored', 'reboot_required', 'superseded'));

-- Down Migration
UPDATE device_patches SET status = 'missing' WHERE status = 'superseded';
ALTER TABLE device_patches DROP CONSTRAINT device_patches_status_check;
ALTER TABLE device_patches ADD CONSTRAINT device_patches_status_check CHECK (status IN
  ('missing', 'pending', 'installing', 'installed', 'failed', 'ignored', 'reboot_required'));
