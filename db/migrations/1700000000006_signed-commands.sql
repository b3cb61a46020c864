-- Up Migration
-- Signed agent commands: a per-device sequence that only grows (taken when an attempt is recorded),
-- the signature the worker attaches to each attempt, and which command keys each device pins.

ALTER TABLE devices
  ADD COLUMN command_sequence bigint NOT NULL DEFAULT 0,
  -- key ids (domain/signatures.ts keyIdOf) the agent pinned at enrollment or through trust_keys
  ADD COLUMN pinned_command_key_ids text[];

-- domain/device-protocol.ts CommandSignature of the current attempt: handed to the agent as is
ALTER TABLE agent_commands ADD COLUMN signature jsonb;

-- Down Migration
ALTER TABLE agent_commands DROP COLUMN signature;
ALTER TABLE devices DROP COLUMN pinned_command_key_ids, DROP COLUMN command_sequence;
