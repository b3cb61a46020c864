-- Up Migration
-- A policy default may also be set per Kaseya classification ("Security Update - Critical (High
-- Priority)": Microsoft's classification split by MSRC severity, domain/kaseya-classification.ts).
-- The key is checked against the 11 names by the API; the database only admits the kind.
ALTER TABLE policy_defaults DROP CONSTRAINT policy_defaults_kind_check;
ALTER TABLE policy_defaults ADD CONSTRAINT policy_defaults_kind_check
  CHECK (kind IN ('classification', 'product', 'kaseya_classification'));

-- Down Migration
DELETE FROM policy_defaults WHERE kind = 'kaseya_classification';
ALTER TABLE policy_defaults DROP CONSTRAINT policy_defaults_kind_check;
ALTER TABLE policy_defaults ADD CONSTRAINT policy_defaults_kind_check CHECK (kind IN ('classification', 'product'));
