-- Up Migration
-- Issue 14 parts 3 and 4.
-- Approval deferral (N-able's "approve N days after release", 1–360 days): an Approved default, or an
-- Approved status of one patch in one policy, that takes effect only N days after the patch's release
-- (patches.published_at). The resolver reads it (domain/approval-deferral.ts); a stamp copies the
-- deferral of the default it came from, so that a later change of the default leaves known patches as
-- they are, like the status itself. Only an approval can be deferred.
ALTER TABLE policy_defaults ADD COLUMN approve_after_days integer
  CHECK (approve_after_days BETWEEN 1 AND 360),
  ADD CONSTRAINT policy_defaults_deferral_approves CHECK (approve_after_days IS NULL OR status = 'approved');
ALTER TABLE policy_approvals ADD COLUMN approve_after_days integer
  CHECK (approve_after_days BETWEEN 1 AND 360),
  ADD CONSTRAINT policy_approvals_deferral_approves CHECK (approve_after_days IS NULL OR status = 'approved');
-- Deadlines (Intune: 0–30 days after the update is offered to the device): when an Automatic Update
-- first selected the patch for this device. Set once; the deadline counts from it across runs.
ALTER TABLE device_patches ADD COLUMN offered_at timestamptz;

-- Down Migration
ALTER TABLE device_patches DROP COLUMN offered_at;
ALTER TABLE policy_approvals DROP CONSTRAINT policy_approvals_deferral_approves;
ALTER TABLE policy_approvals DROP COLUMN approve_after_days;
ALTER TABLE policy_defaults DROP CONSTRAINT policy_defaults_deferral_approves;
ALTER TABLE policy_defaults DROP COLUMN approve_after_days;
