import { randomUUID } from 'node:crypto';
import type { ApprovalStatus } from '../domain/approval-model';
import type { Queryable } from './database';

/** What a default is keyed by: Microsoft's classification, a product, or Kaseya's classification (× severity). */
export type DefaultKind = 'classification' | 'product' | 'kaseya_classification';
export type MemberScopeType = 'device' | 'site' | 'client' | 'device_type' | 'all';

export interface PolicyDefault {
  kind: DefaultKind;
  key: string;
  status: ApprovalStatus;
  /** an Approved default that takes effect this many days after each patch's release (absent: at once) */
  approveAfterDays?: number;
}

export interface PolicyRow {
  id: string;
  name: string;
  denyManualInstallOnly: boolean;
  denyWindowsUpdateWebSite: boolean;
  denySuperseded: boolean;
  fallbackDefault: ApprovalStatus;
  defaults: PolicyDefault[];
  members: number;
  createdAt: string;
}

export interface PolicySwitches {
  denyManualInstallOnly?: boolean;
  denyWindowsUpdateWebSite?: boolean;
  denySuperseded?: boolean;
  fallbackDefault?: ApprovalStatus;
}

/**
 * A new policy's defaults, as Kaseya recommends: Security and Critical updates approved, Service
 * Packs denied (large, often fail, install them by hand), everything else Pending Approval.
 */
export const NEW_POLICY_DEFAULTS: readonly PolicyDefault[] = [
  { kind: 'classification', key: 'Security Updates', status: 'approved' },
  { kind: 'classification', key: 'Critical Updates', status: 'approved' },
  { kind: 'classification', key: 'Service Packs', status: 'denied' },
];
export const NEW_POLICY_FALLBACK: ApprovalStatus = 'pending_approval';

const POLICY_SELECT = `
  SELECT pol.id, pol.name, pol.deny_manual_install_only, pol.deny_windows_update_web_site, pol.deny_superseded,
         pol.fallback_default, pol.created_at,
         COALESCE((SELECT json_agg(jsonb_strip_nulls(jsonb_build_object('kind', d.kind, 'key', d.key, 'status', d.status, 'approveAfterDays', d.approve_after_days)) ORDER BY d.kind, d.key)
                   FROM policy_defaults d WHERE d.policy_id = pol.id), '[]'::json) AS defaults,
         (SELECT count(*) FROM policy_members m WHERE m.policy_id = pol.id) AS members
  FROM approval_policies pol`;

const toPolicy = (r: Record<string, any>): PolicyRow => ({
  id: r.id,
  name: r.name,
  denyManualInstallOnly: r.deny_manual_install_only,
  denyWindowsUpdateWebSite: r.deny_windows_update_web_site,
  denySuperseded: r.deny_superseded,
  fallbackDefault: r.fallback_default,
  defaults: r.defaults,
  members: Number(r.members),
  createdAt: r.created_at.toISOString(),
});

/** Inserts a policy with the new-policy defaults (stamping the catalog is the caller's next step). */
export async function insertPolicy(db: Queryable, p: { name: string } & PolicySwitches): Promise<string> {
  const id = randomUUID();
  await db.query(
    `INSERT INTO approval_policies (id, name, deny_manual_install_only, deny_windows_update_web_site, deny_superseded, fallback_default)
     VALUES ($1::uuid, $2::text, $3::bool, $4::bool, $5::bool, $6::text)`,
    [id, p.name, p.denyManualInstallOnly ?? false, p.denyWindowsUpdateWebSite ?? false, p.denySuperseded ?? false,
      p.fallbackDefault ?? NEW_POLICY_FALLBACK],
  );
  await db.query(
    `INSERT INTO policy_defaults (policy_id, kind, key, status)
     SELECT $1::uuid, d.kind, d.key, d.status FROM unnest($2::text[], $3::text[], $4::text[]) AS d(kind, key, status)`,
    [id, NEW_POLICY_DEFAULTS.map((d) => d.kind), NEW_POLICY_DEFAULTS.map((d) => d.key), NEW_POLICY_DEFAULTS.map((d) => d.status)],
  );
  return id;
}

export async function findPolicy(db: Queryable, id: string, options: { forUpdate?: boolean } = {}): Promise<PolicyRow | undefined> {
  if (options.forUpdate) await db.query('SELECT 1 FROM approval_policies WHERE id = $1::uuid FOR UPDATE', [id]);
  const { rows } = await db.query(`${POLICY_SELECT} WHERE pol.id = $1::uuid`, [id]);
  return rows[0] ? toPolicy(rows[0]) : undefined;
}

export async function listPolicies(db: Queryable): Promise<PolicyRow[]> {
  const { rows } = await db.query(`${POLICY_SELECT} ORDER BY pol.name`);
  return rows.map(toPolicy);
}

/** Renames a policy or flips its switches; fields left out keep their value. */
export async function updatePolicy(db: Queryable, id: string, p: { name?: string } & PolicySwitches): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE approval_policies SET
       name = COALESCE($2::text, name),
       deny_manual_install_only = COALESCE($3::bool, deny_manual_install_only),
       deny_windows_update_web_site = COALESCE($4::bool, deny_windows_update_web_site),
       deny_superseded = COALESCE($5::bool, deny_superseded),
       fallback_default = COALESCE($6::text, fallback_default)
     WHERE id = $1::uuid`,
    [id, p.name ?? null, p.denyManualInstallOnly ?? null, p.denyWindowsUpdateWebSite ?? null, p.denySuperseded ?? null,
      p.fallbackDefault ?? null],
  );
  return (rowCount ?? 0) > 0;
}

/** Deletes a policy with its defaults and statuses (members are refused by the foreign key). */
export async function deletePolicy(db: Queryable, id: string): Promise<{ approvals: number }> {
  const { rows } = await db.query(
    `WITH gone AS (DELETE FROM approval_policies WHERE id = $1::uuid RETURNING id)
     SELECT (SELECT count(*) FROM policy_approvals WHERE policy_id = $1::uuid) AS approvals`,
    [id],
  );
  return { approvals: Number(rows[0].approvals) };
}

/**
 * Sets one default (with its deferral, or none); returns the status and deferral it had before
 * (undefined: none was set).
 */
export async function setPolicyDefault(
  db: Queryable, policyId: string, d: PolicyDefault,
): Promise<{ status: ApprovalStatus; approveAfterDays: number | null } | undefined> {
  const { rows } = await db.query(
    `WITH prev AS (SELECT status, approve_after_days FROM policy_defaults WHERE policy_id = $1::uuid AND kind = $2::text AND key = $3::text)
     INSERT INTO policy_defaults (policy_id, kind, key, status, approve_after_days) VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::int)
     ON CONFLICT (policy_id, kind, key) DO UPDATE SET status = EXCLUDED.status, approve_after_days = EXCLUDED.approve_after_days
     RETURNING (SELECT status FROM prev) AS previous, (SELECT approve_after_days FROM prev) AS previous_days`,
    [policyId, d.kind, d.key, d.status, d.approveAfterDays ?? null],
  );
  return rows[0].previous ? { status: rows[0].previous, approveAfterDays: rows[0].previous_days } : undefined;
}

/** Removes one default (the next level applies to new patches); returns the status it had. */
export async function deletePolicyDefault(
  db: Queryable, policyId: string, d: { kind: DefaultKind; key: string },
): Promise<ApprovalStatus | undefined> {
  const { rows } = await db.query(
    'DELETE FROM policy_defaults WHERE policy_id = $1::uuid AND kind = $2::text AND key = $3::text RETURNING status',
    [policyId, d.kind, d.key],
  );
  return rows[0]?.status;
}

// ---- membership ---------------------------------------------------------------------------------

export interface PolicyMemberRow {
  scopeType: MemberScopeType;
  scopeId: string;
  /** the device's, site's or client's name; the device type or "all devices" otherwise */
  name: string;
  /** devices the membership covers today */
  devices: number;
}

/** Adds a membership; false when it was already there. */
export async function addPolicyMember(db: Queryable, policyId: string, scopeType: MemberScopeType, scopeId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO policy_members (policy_id, scope_type, scope_id) VALUES ($1::uuid, $2::text, $3::text)
     ON CONFLICT DO NOTHING`,
    [policyId, scopeType, scopeId],
  );
  return (rowCount ?? 0) > 0;
}

/** Removes a membership; false when there was none. */
export async function removePolicyMember(db: Queryable, policyId: string, scopeType: MemberScopeType, scopeId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    'DELETE FROM policy_members WHERE policy_id = $1::uuid AND scope_type = $2::text AND scope_id = $3::text',
    [policyId, scopeType, scopeId],
  );
  return (rowCount ?? 0) > 0;
}

export async function listPolicyMembers(db: Queryable, policyId: string): Promise<PolicyMemberRow[]> {
  const { rows } = await db.query(
    `SELECT m.scope_type, m.scope_id,
            CASE m.scope_type
              WHEN 'device' THEN (SELECT name FROM devices WHERE id::text = m.scope_id)
              WHEN 'site' THEN (SELECT c.name || ' / ' || s.name FROM sites s JOIN clients c ON c.id = s.client_id WHERE s.id::text = m.scope_id)
              WHEN 'client' THEN (SELECT name FROM clients WHERE id::text = m.scope_id)
              WHEN 'device_type' THEN m.scope_id || 's'
              ELSE 'all devices' END AS name,
            (SELECT count(*) FROM devices d JOIN sites s ON s.id = d.site_id
             WHERE (m.scope_type = 'device' AND d.id::text = m.scope_id)
                OR (m.scope_type = 'site' AND d.site_id::text = m.scope_id)
                OR (m.scope_type = 'client' AND s.client_id::text = m.scope_id)
                OR (m.scope_type = 'device_type' AND d.device_type = m.scope_id)
                OR m.scope_type = 'all') AS devices
     FROM policy_members m WHERE m.policy_id = $1::uuid ORDER BY m.scope_type, m.scope_id`,
    [policyId],
  );
  return rows.map((r) => ({ scopeType: r.scope_type, scopeId: r.scope_id, name: r.name, devices: Number(r.devices) }));
}
