import type { ApprovalSource, ApprovalStatus, PatchAction } from '../domain/approval-model';
import { normaliseKb } from '../domain/patch-id';
import type { Queryable } from './database';
import { kaseyaClassificationSql } from './kaseya-sql';

/** A patch's KB as KB overrides and requests spell it ("890830" → "KB890830"), in SQL and here. */
const NORMALISED_KB = (column: string) => `regexp_replace(upper(trim(${column})), '^(\\d)', 'KB\\1')`;

export { loadApprovalModel, loadDeviceStates } from './approval-model-loader';

/**
 * The default stamp of every (policy, patch) pair in `source`: the policy's product default if it has
 * one for the patch's product, else its Kaseya classification default (classification × severity),
 * else its classification default, else its fallback (the resolver's order, defaultFor in
 * domain/approval-policy-status.ts, which says why). `source` is a SQL row source with columns
 * (update_id, classification, severity, product); the note names the default used, as the resolver
 * quotes it ("classification 'Service Packs'" → "classification 'Service Packs' default").
 */
const stampSelect = (source: string, policyFilter: string) => `
  SELECT pol.id AS policy_id, i.update_id,
         COALESCE(pd.status, kd.status, cd.status, pol.fallback_default) AS status,
         CASE WHEN pd.status IS NOT NULL THEN pd.approve_after_days
              WHEN kd.status IS NOT NULL THEN kd.approve_after_days
              WHEN cd.status IS NOT NULL THEN cd.approve_after_days END AS approve_after_days,
         CASE WHEN pd.status IS NOT NULL THEN format('product %L', i.product)
              WHEN kd.status IS NOT NULL THEN format('Kaseya classification %L', kd.key)
              WHEN cd.status IS NOT NULL THEN format('classification %L', i.classification)
              ELSE 'fallback' END AS note
  FROM ${source} i CROSS JOIN approval_policies pol
  LEFT JOIN policy_defaults pd ON pd.policy_id = pol.id AND pd.kind = 'product' AND pd.key = i.product
  LEFT JOIN policy_defaults kd ON kd.policy_id = pol.id AND kd.kind = 'kaseya_classification'
                              AND kd.key = ${kaseyaClassificationSql('i.classification', 'i.severity')}
  LEFT JOIN policy_defaults cd ON cd.policy_id = pol.id AND cd.kind = 'classification' AND cd.key = i.classification
  WHERE ${policyFilter}`;

export interface PatchToStamp {
  updateId: string;
  classification: string;
  /** MSRC severity: picks the Kaseya classification of a Security Update */
  severity: string;
  product: string;
}

/**
 * Stamps newly discovered patches in every policy with that policy's default, in one statement
 * (Kaseya: "default approval status applies only when a patch is first discovered").
 * - A patch that already has a row in a policy keeps it (explicit or default): a later change of a
 *   default never reaches known patches.
 * - A patch in `revisionChanged` (seen at a new revision) is reset to its default stamp in every policy,
 *   even over an explicit approval; the note keeps the previous approval so an approver can confirm
 *   the new revision in one step.
 * Runs inside the caller's transaction (the scan processing). Returns how many rows were written.
 */
export async function stampNewPatches(
  db: Queryable,
  patches: PatchToStamp[],
  options: { revisionChanged?: string[] } = {},
): Promise<number> {
  if (patches.length === 0) return 0;
  const { rowCount } = await db.query(
    `WITH input AS (
       SELECT DISTINCT ON (u.update_id) u.update_id, u.classification, u.severity, u.product
       FROM unnest($1::text[], $2::text[], $3::text[], $5::text[]) AS u(update_id, classification, product, severity)
       ORDER BY u.update_id
     )
     INSERT INTO policy_approvals AS pa (policy_id, update_id, status, source, note, approve_after_days)
     SELECT s.policy_id, s.update_id, s.status, 'default', s.note, s.approve_after_days FROM (${stampSelect('input', 'true')}) s
     ON CONFLICT (policy_id, update_id) DO UPDATE SET
       status = EXCLUDED.status,
       source = 'default',
       approve_after_days = EXCLUDED.approve_after_days,
       note = format('new revision, previous approval was %s (%s); %s', pa.status, pa.source, EXCLUDED.note),
       changed_at = now()
     WHERE pa.update_id = ANY($4::text[])`,
    [
      patches.map((p) => p.updateId),
      patches.map((p) => p.classification),
      patches.map((p) => p.product),
      options.revisionChanged ?? [],
      patches.map((p) => p.severity),
    ],
  );
  return rowCount ?? 0;
}

/** Stamps every catalog patch in one (new) policy with its defaults; existing rows are kept. */
export async function stampCatalogInPolicy(db: Queryable, policyId: string): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO policy_approvals (policy_id, update_id, status, source, note, approve_after_days)
     SELECT s.policy_id, s.update_id, s.status, 'default', s.note, s.approve_after_days
     FROM (${stampSelect('patches', 'pol.id = $1::uuid')}) s
     ON CONFLICT (policy_id, update_id) DO NOTHING`,
    [policyId],
  );
  return rowCount ?? 0;
}

export interface ApprovalChange {
  /** policies the change was applied to */
  policies: number;
  /** policies where at least one patch's status changed */
  policiesChanged: number;
  /** (policy, patch) rows whose status changed */
  approvalsChanged: number;
}

/**
 * Sets an explicit status for these patches in these policies (Approval by Policy), or in every
 * policy when `policyIds` is 'all' (Approval by Patch), in one statement.
 */
export async function setExplicitApprovals(
  db: Queryable,
  change: { policyIds: string[] | 'all'; updateIds: string[]; status: ApprovalStatus; note: string; approveAfterDays?: number },
): Promise<ApprovalChange> {
  const { rows } = await db.query(
    `WITH targets AS (
       SELECT pol.id AS policy_id, u.update_id
       FROM approval_policies pol CROSS JOIN (SELECT DISTINCT unnest($1::text[]) AS update_id) u
       WHERE $2::uuid[] IS NULL OR pol.id = ANY($2::uuid[])
     ), changed AS (
       SELECT t.policy_id FROM targets t
       LEFT JOIN policy_approvals pa ON pa.policy_id = t.policy_id AND pa.update_id = t.update_id
       WHERE pa.status IS DISTINCT FROM $3::text OR pa.approve_after_days IS DISTINCT FROM $5::int
     ), written AS (
       INSERT INTO policy_approvals AS pa (policy_id, update_id, status, source, note, approve_after_days)
       SELECT policy_id, update_id, $3::text, 'explicit', $4::text, $5::int FROM targets
       ON CONFLICT (policy_id, update_id) DO UPDATE SET
         status = EXCLUDED.status, source = 'explicit', note = EXCLUDED.note, approve_after_days = EXCLUDED.approve_after_days, changed_at = now()
       RETURNING 1
     )
     SELECT (SELECT count(DISTINCT policy_id) FROM targets) AS policies,
            (SELECT count(DISTINCT policy_id) FROM changed) AS policies_changed,
            (SELECT count(*) FROM changed) AS approvals_changed,
            (SELECT count(*) FROM written) AS written`,
    [change.updateIds, change.policyIds === 'all' ? null : change.policyIds, change.status, change.note, change.approveAfterDays ?? null],
  );
  return {
    policies: Number(rows[0].policies),
    policiesChanged: Number(rows[0].policies_changed),
    approvalsChanged: Number(rows[0].approvals_changed),
  };
}

/**
 * Copies every status (and its source) of one policy into another (Kaseya: "Copy Approval Statuses
 * to Policy", e.g. from a test policy to production). Patches the source policy has no row for are
 * left as they are in the target.
 */
export async function copyApprovals(
  db: Queryable,
  fromPolicyId: string,
  toPolicyId: string,
): Promise<{ copied: number; changed: number }> {
  const { rows } = await db.query(
    `WITH src AS (
       SELECT pa.update_id, pa.status, pa.source, format('copied from policy %L: %s', pol.name, pa.note) AS note, pa.approve_after_days
       FROM policy_approvals pa JOIN approval_policies pol ON pol.id = pa.policy_id
       WHERE pa.policy_id = $1::uuid
     ), changed AS (
       SELECT s.update_id FROM src s
       LEFT JOIN policy_approvals d ON d.policy_id = $2::uuid AND d.update_id = s.update_id
       WHERE d.status IS DISTINCT FROM s.status OR d.source IS DISTINCT FROM s.source OR d.approve_after_days IS DISTINCT FROM s.approve_after_days
     ), written AS (
       INSERT INTO policy_approvals AS pa (policy_id, update_id, status, source, note, approve_after_days)
       SELECT $2::uuid, update_id, status, source, note, approve_after_days FROM src
       ON CONFLICT (policy_id, update_id) DO UPDATE SET
         status = EXCLUDED.status, source = EXCLUDED.source, note = EXCLUDED.note, approve_after_days = EXCLUDED.approve_after_days, changed_at = now()
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM written) AS copied, (SELECT count(*) FROM changed) AS changed`,
    [fromPolicyId, toPolicyId],
  );
  return { copied: Number(rows[0].copied), changed: Number(rows[0].changed) };
}

export interface PolicyApprovalRow {
  updateId: string;
  kb: string;
  status: ApprovalStatus;
  source: ApprovalSource;
  note: string | null;
  /** an approval deferred this many days after the patch's release (null: not deferred) */
  approveAfterDays: number | null;
  changedAt: string;
}

/** The stored statuses of some patches in one policy (for audit details and answers). */
export async function findPolicyApprovals(db: Queryable, policyId: string, updateIds: string[]): Promise<PolicyApprovalRow[]> {
  const { rows } = await db.query(
    `SELECT pa.update_id, p.kb, pa.status, pa.source, pa.note, pa.approve_after_days, pa.changed_at
     FROM policy_approvals pa JOIN patches p ON p.update_id = pa.update_id
     WHERE pa.policy_id = $1::uuid AND pa.update_id = ANY($2::text[]) ORDER BY p.kb, pa.update_id`,
    [policyId, updateIds],
  );
  return rows.map((r) => ({
    updateId: r.update_id, kb: r.kb, status: r.status, source: r.source, note: r.note, approveAfterDays: r.approve_after_days, changedAt: r.changed_at.toISOString(),
  }));
}

// ---- KB overrides -------------------------------------------------------------------------------

export interface KbOverrideRow { kb: string; status: ApprovalStatus; setAt: string; patches: number }

/** Sets a KB override; returns the previous status (undefined: there was none). */
export async function setKbOverride(db: Queryable, kb: string, status: ApprovalStatus): Promise<ApprovalStatus | undefined> {
  const { rows } = await db.query(
    `WITH prev AS (SELECT status FROM kb_overrides WHERE kb = $1::text)
     INSERT INTO kb_overrides AS k (kb, status) VALUES ($1::text, $2::text)
     ON CONFLICT (kb) DO UPDATE SET status = EXCLUDED.status, set_at = now()
     RETURNING (SELECT status FROM prev) AS previous`,
    [kb, status],
  );
  return rows[0].previous ?? undefined;
}

/** Clears a KB override; returns the status it had (undefined: there was none). */
export async function deleteKbOverride(db: Queryable, kb: string): Promise<ApprovalStatus | undefined> {
  const { rows } = await db.query('DELETE FROM kb_overrides WHERE kb = $1::text RETURNING status', [kb]);
  return rows[0]?.status;
}

export async function listKbOverrides(db: Queryable): Promise<KbOverrideRow[]> {
  const { rows } = await db.query(
    `SELECT k.kb, k.status, k.set_at, (SELECT count(*) FROM patches p WHERE ${NORMALISED_KB('p.kb')} = k.kb) AS patches
     FROM kb_overrides k ORDER BY k.kb`,
  );
  return rows.map((r) => ({ kb: r.kb, status: r.status, setAt: r.set_at.toISOString(), patches: Number(r.patches) }));
}

// ---- actions by scope ---------------------------------------------------------------------------

export type ActionScopeType = 'device' | 'site' | 'client' | 'device_type';

export interface PatchActionRow {
  scopeType: ActionScopeType;
  scopeId: string;
  updateId: string;
  kb: string;
  title: string;
  action: Exclude<PatchAction, 'inherit'>;
  setAt: string;
}

/**
 * Sets one action for these patches at one scope, in one statement; Inherit deletes the rows (no row
 * means "ask the level above"). Returns how many rows were written or removed.
 */
export async function setPatchActions(
  db: Queryable,
  change: { scopeType: ActionScopeType; scopeId: string; updateIds: string[]; action: PatchAction },
): Promise<number> {
  if (change.action === 'inherit') {
    const { rowCount } = await db.query(
      `DELETE FROM patch_actions WHERE scope_type = $1::text AND scope_id = $2::text AND update_id = ANY($3::text[])`,
      [change.scopeType, change.scopeId, change.updateIds],
    );
    return rowCount ?? 0;
  }
  const { rowCount } = await db.query(
    `INSERT INTO patch_actions (scope_type, scope_id, update_id, action)
     SELECT $1::text, $2::text, u.update_id, $4::text FROM (SELECT DISTINCT unnest($3::text[]) AS update_id) u
     ON CONFLICT (scope_type, scope_id, update_id) DO UPDATE SET action = EXCLUDED.action, set_at = now()
     WHERE patch_actions.action IS DISTINCT FROM EXCLUDED.action`,
    [change.scopeType, change.scopeId, change.updateIds, change.action],
  );
  return rowCount ?? 0;
}

export async function listPatchActions(
  db: Queryable,
  filter: { scopeType?: ActionScopeType; scopeId?: string } = {},
): Promise<PatchActionRow[]> {
  const { rows } = await db.query(
    `SELECT a.scope_type, a.scope_id, a.update_id, p.kb, p.title, a.action, a.set_at
     FROM patch_actions a JOIN patches p ON p.update_id = a.update_id
     WHERE ($1::text IS NULL OR a.scope_type = $1::text) AND ($2::text IS NULL OR a.scope_id = $2::text)
     ORDER BY a.scope_type, a.scope_id, p.kb, a.update_id`,
    [filter.scopeType ?? null, filter.scopeId ?? null],
  );
  return rows.map((r) => ({
    scopeType: r.scope_type, scopeId: r.scope_id, updateId: r.update_id, kb: r.kb, title: r.title,
    action: r.action, setAt: r.set_at.toISOString(),
  }));
}

// ---- patch lookup -------------------------------------------------------------------------------

export interface PatchRef { updateId: string; kb: string; uninstallable: boolean }

/**
 * The catalog patches named by update id or by KB (a KB may have several update ids, one per product),
 * and the names that match nothing.
 */
export async function findPatchRefs(
  db: Queryable,
  names: { updateIds?: string[]; kbs?: string[] },
): Promise<{ patches: PatchRef[]; unknownUpdateIds: string[]; unknownKbs: string[] }> {
  const updateIds = names.updateIds ?? [];
  const kbs = (names.kbs ?? []).map(normaliseKb);
  const { rows } = await db.query(
    `SELECT update_id, kb, uninstallable FROM patches
     WHERE update_id = ANY($1::text[]) OR ${NORMALISED_KB('kb')} = ANY($2::text[]) ORDER BY kb, update_id`,
    [updateIds, kbs],
  );
  const patches: PatchRef[] = rows.map((r) => ({ updateId: r.update_id, kb: r.kb, uninstallable: r.uninstallable }));
  const foundIds = new Set(patches.map((p) => p.updateId));
  const foundKbs = new Set(patches.map((p) => normaliseKb(p.kb)));
  return {
    patches,
    unknownUpdateIds: updateIds.filter((id) => !foundIds.has(id)),
    unknownKbs: kbs.filter((kb) => !foundKbs.has(kb)),
  };
}
