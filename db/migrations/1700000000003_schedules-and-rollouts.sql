-- Up Migration
-- Operators' schedules (scans and Automatic Updates), stored here and reconciled into Temporal
-- Schedules; and the rollouts they ran, with their counts.

CREATE TABLE update_schedules (
  id                          uuid PRIMARY KEY,
  name                        text NOT NULL UNIQUE,
  kind                        text NOT NULL CHECK (kind IN ('scan', 'automatic_update')),
  scope_type                  text NOT NULL CHECK (scope_type IN ('all', 'policy', 'client', 'site', 'device_type')),
  scope_id                    text NOT NULL DEFAULT '',
  -- domain/schedule-spec.ts ScheduleTiming (daily / weekly / Patch Tuesday relative / monthly day), with its timezone
  timing                      jsonb NOT NULL,
  distribution_window_minutes integer NOT NULL DEFAULT 0 CHECK (distribution_window_minutes BETWEEN 0 AND 1440),
  -- domain/maintenance-window.ts MaintenanceWindow, or null for "any time"
  maintenance_window          jsonb,
  -- domain/reboot-actions.ts RebootActionConfig
  reboot_action               jsonb NOT NULL,
  missed_run                  text NOT NULL DEFAULT 'skip' CHECK (missed_run IN ('skip', 'run_on_check_in')),
  max_concurrent_devices      integer NOT NULL DEFAULT 200 CHECK (max_concurrent_devices BETWEEN 1 AND 2000),
  paused                      boolean NOT NULL DEFAULT false,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE rollouts (
  workflow_id     text PRIMARY KEY,
  schedule_id     uuid REFERENCES update_schedules(id) ON DELETE SET NULL,
  kind            text NOT NULL,
  -- the schedule's local date and time of this run ("2026-11-01 01:30"): one rollout per slot (DST repeats)
  local_date      text,
  scheduled_at    timestamptz,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  counts          jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE UNIQUE INDEX rollouts_one_per_local_date ON rollouts (schedule_id, local_date) WHERE local_date IS NOT NULL;

-- Devices an Automatic Update found offline, for "run as soon as it checks in" schedules.
CREATE TABLE missed_runs (
  device_id    uuid NOT NULL REFERENCES devices(id),
  schedule_id  uuid NOT NULL REFERENCES update_schedules(id) ON DELETE CASCADE,
  missed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, schedule_id)
);

-- Down Migration
DROP TABLE missed_runs;
DROP TABLE rollouts;
DROP TABLE update_schedules;
