-- Up Migration
-- The catalog comes from signed catalog feeds (domain/catalog-feed.ts) and operators' audited imports,
-- never from a device's scan. A device's report of an update the catalog cannot vouch for is kept apart,
-- per device, as "unverified": shown and counted, never installed.

-- Where each catalog row came from: 'device_scan' (rows written by scans before feeds existed; the next
-- feed that lists the update takes it over), 'feed' or 'import'.
ALTER TABLE patches
  ADD COLUMN source text NOT NULL DEFAULT 'device_scan' CHECK (source IN ('device_scan', 'feed', 'import')),
  ADD COLUMN source_feed_id text,
  ADD COLUMN feed_sequence bigint,
  -- when the catalog last changed this row (a revision, or a field the feed corrected)
  ADD COLUMN catalog_changed_at timestamptz NOT NULL DEFAULT now();
-- An imported row may come without file facts (another RMM's export has none): known, not installable.
ALTER TABLE patches
  ALTER COLUMN size_bytes DROP NOT NULL,
  ALTER COLUMN sha256 DROP NOT NULL,
  ALTER COLUMN download_url DROP NOT NULL,
  ALTER COLUMN file_name DROP NOT NULL,
  ADD CONSTRAINT patches_file_facts_complete CHECK (
    (size_bytes IS NULL AND sha256 IS NULL AND download_url IS NULL AND file_name IS NULL)
    OR (size_bytes IS NOT NULL AND sha256 IS NOT NULL AND download_url IS NOT NULL AND file_name IS NOT NULL));

-- The last feed document applied per feed: its sequence only grows.
CREATE TABLE catalog_feeds (
  feed_id        text PRIMARY KEY,
  last_sequence  bigint NOT NULL,
  -- SHA-256 of the signed part's canonical JSON: the same sequence with other content is refused
  last_digest    text NOT NULL,
  key_id         text NOT NULL,
  published_at   timestamptz NOT NULL,
  entries        integer NOT NULL,
  applied_at     timestamptz NOT NULL DEFAULT now()
);

-- A fetched feed document whose signature has been verified, waiting to be applied (too big for a
-- Temporal payload). Removed once a later sequence is applied.
CREATE TABLE catalog_feed_documents (
  feed_id      text NOT NULL,
  sequence     bigint NOT NULL,
  digest       text NOT NULL,
  key_id       text NOT NULL,
  document     jsonb NOT NULL,
  verified_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (feed_id, sequence, digest)
);

-- Updates a device reports that the catalog does not know, or knows at another revision. Replaced by
-- each processed scan; kb_hint and title_hint are the device's words, for display only.
CREATE TABLE device_unverified_updates (
  device_id          uuid NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  update_id          text NOT NULL,
  revision           integer NOT NULL,
  installed          boolean NOT NULL,
  kb_hint            text,
  title_hint         text,
  catalog_revision   integer,
  reason             text NOT NULL,
  first_reported_at  timestamptz NOT NULL DEFAULT now(),
  last_reported_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, update_id)
);

ALTER TABLE device_scans ADD COLUMN unverified integer NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE device_scans DROP COLUMN unverified;
DROP TABLE device_unverified_updates;
DROP TABLE catalog_feed_documents;
DROP TABLE catalog_feeds;
ALTER TABLE patches DROP CONSTRAINT patches_file_facts_complete,
  DROP COLUMN source, DROP COLUMN source_feed_id, DROP COLUMN feed_sequence, DROP COLUMN catalog_changed_at;
