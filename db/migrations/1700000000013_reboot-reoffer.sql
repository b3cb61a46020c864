-- Up Migration
-- A reboot acknowledged by an agent that died before restarting (issue 18.3): when it was acknowledged,
-- and how often it was offered again after the device came back with the same boot id.
ALTER TABLE agent_commands ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE agent_commands ADD COLUMN reboot_offers integer NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE agent_commands DROP COLUMN reboot_offers;
ALTER TABLE agent_commands DROP COLUMN acknowledged_at;
