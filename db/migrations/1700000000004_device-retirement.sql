-- Up Migration
-- Devices can be retired (DELETE /api/v1/devices/:id): the row stays, so its patch history, commands
-- and audit trail keep their device, but it has no credential or enrollment token and nothing starts
-- on it. A retired device's name may be registered again at the same site.

ALTER TABLE devices ADD COLUMN retired_at timestamptz;
ALTER TABLE devices DROP CONSTRAINT devices_site_id_name_key;
CREATE UNIQUE INDEX devices_site_name_active_idx ON devices (site_id, name) WHERE retired_at IS NULL;

-- Down Migration
DROP INDEX devices_site_name_active_idx;
ALTER TABLE devices ADD CONSTRAINT devices_site_id_name_key UNIQUE (site_id, name);
ALTER TABLE devices DROP COLUMN retired_at;
