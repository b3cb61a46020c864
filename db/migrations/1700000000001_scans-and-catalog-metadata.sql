-- Up Migration
-- What a scan reports beyond the skeleton's catalog: bulletin, install type, supersedence and whether
-- Windows can uninstall the update; and the digest of each device's last scan, so an unchanged scan
-- writes nothing but its timestamp (Kaseya: "scan results are only processed if they have changed").

ALTER TABLE patches
  ADD COLUMN security_bulletin text,
  ADD COLUMN install_type text NOT NULL DEFAULT 'normal'
    CHECK (install_type IN ('normal', 'manual_install_only', 'windows_update_web_site')),
  ADD COLUMN superseded_by text,
  ADD COLUMN uninstallable boolean NOT NULL DEFAULT false,
  -- when this revision was first seen: a new revision starts again at Pending Approval
  ADD COLUMN revision_seen_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE device_scans (
  device_id        uuid PRIMARY KEY REFERENCES devices(id),
  -- SHA-256 over the scan's (update id, revision, installed) triples, order-independent
  digest           text NOT NULL,
  last_scanned_at  timestamptz NOT NULL,
  last_changed_at  timestamptz NOT NULL,
  reboot_pending   boolean NOT NULL DEFAULT false,
  free_disk_bytes  bigint,
  updates_reported integer NOT NULL DEFAULT 0
);

-- Down Migration
DROP TABLE device_scans;
ALTER TABLE patches DROP COLUMN security_bulletin, DROP COLUMN install_type, DROP COLUMN superseded_by,
  DROP COLUMN uninstallable, DROP COLUMN revision_seen_at;
