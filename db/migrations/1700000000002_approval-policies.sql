-- Up Migration
-- Approval: Kaseya's patch policies (a status per policy and patch, stamped from the policy's defaults
-- when the patch is first discovered; KB overrides for all policies) and N-able's actions by scope
-- (device → site → client → device type). domain/approval-model.ts is what these tables load into.

CREATE TABLE approval_policies (
  id                            uuid PRIMARY KEY,
  name                          text NOT NULL UNIQUE,
  -- Kaseya: "Override Default Approval Status with Denied for … updates in this policy"
  deny_manual_install_only      boolean NOT NULL DEFAULT false,
  deny_windows_update_web_site  boolean NOT NULL DEFAULT false,
  deny_superseded               boolean NOT NULL DEFAULT false,
  -- the default when neither a product nor a classification default applies
  fallback_default              text NOT NULL DEFAULT 'pending_approval'
                                  CHECK (fallback_default IN ('approved', 'pending_approval', 'denied')),
  created_at                    timestamptz NOT NULL DEFAULT now()
);

-- Default status per classification or product; used only when a patch is first discovered (or seen
-- at a new revision): changing one later does not touch known patches.
CREATE TABLE policy_defaults (
  policy_id  uuid NOT NULL REFERENCES approval_policies(id) ON DELETE CASCADE,
  kind       text NOT NULL CHECK (kind IN ('classification', 'product')),
  key        text NOT NULL,
  status     text NOT NULL CHECK (status IN ('approved', 'pending_approval', 'denied')),
  PRIMARY KEY (policy_id, kind, key)
);

CREATE TABLE policy_approvals (
  policy_id   uuid NOT NULL REFERENCES approval_policies(id) ON DELETE CASCADE,
  update_id   text NOT NULL REFERENCES patches(update_id),
  status      text NOT NULL CHECK (status IN ('approved', 'pending_approval', 'denied')),
  -- default: stamped from a default; explicit: set by an operator (by policy, by patch, or copied)
  source      text NOT NULL CHECK (source IN ('default', 'explicit')),
  note        text,
  changed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (policy_id, update_id)
);
CREATE INDEX policy_approvals_update_idx ON policy_approvals (update_id);

-- KB Override: one status for every present and future patch of a KB, in all policies.
CREATE TABLE kb_overrides (
  kb      text PRIMARY KEY,
  status  text NOT NULL CHECK (status IN ('approved', 'pending_approval', 'denied')),
  set_at  timestamptz NOT NULL DEFAULT now()
);

-- Which devices a policy applies to: a device directly, or everything in a site, a client, a device
-- type ('server' / 'workstation'), or all devices (scope_id '').
CREATE TABLE policy_members (
  policy_id   uuid NOT NULL REFERENCES approval_policies(id),
  scope_type  text NOT NULL CHECK (scope_type IN ('device', 'site', 'client', 'device_type', 'all')),
  scope_id    text NOT NULL,
  PRIMARY KEY (policy_id, scope_type, scope_id),
  CHECK ((scope_type = 'all' AND scope_id = '')
      OR (scope_type = 'device_type' AND scope_id IN ('server', 'workstation'))
      OR (scope_type IN ('device', 'site', 'client') AND scope_id <> ''))
);
CREATE INDEX policy_members_scope_idx ON policy_members (scope_type, scope_id);

-- Actions by scope (N-able's Patch Management Workflow). No row = Inherit: ask the level above.
CREATE TABLE patch_actions (
  scope_type  text NOT NULL CHECK (scope_type IN ('device', 'site', 'client', 'device_type')),
  scope_id    text NOT NULL,
  update_id   text NOT NULL REFERENCES patches(update_id),
  action      text NOT NULL CHECK (action IN ('approve', 'ignore', 'do_nothing', 'reprocess_failed', 'uninstall')),
  set_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope_type, scope_id, update_id),
  CHECK (scope_type <> 'device_type' OR scope_id IN ('server', 'workstation'))
);

-- Down Migration
DROP TABLE patch_actions;
DROP TABLE policy_members;
DROP TABLE kb_overrides;
DROP TABLE policy_approvals;
DROP TABLE policy_defaults;
DROP TABLE approval_policies;
