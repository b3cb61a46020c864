-- Up Migration
-- Offline reports ("CSV - Offline Mode"): each is written in the background by a `report/<id>`
-- workflow into REPORTS_DIR and downloaded when done. The row is what the API lists and shows
-- (state and progress); the file is the report.

CREATE TABLE reports (
  id             uuid PRIMARY KEY,
  kind           text NOT NULL CHECK (kind IN ('patch_overview')),
  format         text NOT NULL CHECK (format IN ('csv')),
  -- the selection: clientId (absent: all), groupBy, statuses
  parameters     jsonb NOT NULL,
  state          text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
  rows_total     bigint,
  rows_written   bigint NOT NULL DEFAULT 0,
  bytes_written  bigint NOT NULL DEFAULT 0,
  -- the file's name under REPORTS_DIR, once done
  file_name      text,
  error          text,
  requested_by   text NOT NULL,
  requested_at   timestamptz NOT NULL DEFAULT now(),
  finished_at    timestamptz
);
CREATE INDEX reports_requested_at_idx ON reports (requested_at DESC);

-- Down Migration
DROP TABLE reports;
