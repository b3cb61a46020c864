-- Up Migration
-- A rollout's resolved device list (issue 15): stored once, in order, when the rollout starts, and read
-- by the rollout workflow a page at a time. The list used to travel in the workflow itself (an
-- activity result, then the continue-as-new input), and Temporal refuses a payload over 2 MiB: a
-- rollout of more than about 5,000 devices failed outright. Removed when the rollout finishes.
CREATE TABLE rollout_device_lists (
  workflow_id text NOT NULL,
  ordinal     int  NOT NULL,
  device      jsonb NOT NULL,
  PRIMARY KEY (workflow_id, ordinal)
);

-- Down Migration
DROP TABLE rollout_device_lists;
