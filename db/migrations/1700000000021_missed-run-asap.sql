-- Up Migration
-- N-able's "If schedule missed: Run ASAP" with its "Include Reboot" choice (DOMAIN-RULES §2.3, rule 18).
ALTER TABLE update_schedules DROP CONSTRAINT update_schedules_missed_run_check;
ALTER TABLE update_schedules ADD CONSTRAINT update_schedules_missed_run_check CHECK (missed_run IN ('skip', 'run_on_check_in', 'run_asap'));
-- whether a missed run that starts late may restart the device (its schedule's reboot action then applies)
ALTER TABLE update_schedules ADD COLUMN missed_run_reboot boolean NOT NULL DEFAULT true;

-- Down Migration
ALTER TABLE update_schedules DROP COLUMN missed_run_reboot;
UPDATE update_schedules SET missed_run = 'run_on_check_in' WHERE missed_run = 'run_asap';
ALTER TABLE update_schedules DROP CONSTRAINT update_schedules_missed_run_check;
ALTER TABLE update_schedules ADD CONSTRAINT update_schedules_missed_run_check CHECK (missed_run IN ('skip', 'run_on_check_in'));
