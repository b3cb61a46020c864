import type { ApprovalStatus, InstallType } from '../domain/approval-model';
import { kaseyaClassificationOf } from '../domain/kaseya-classification';
import type { Queryable } from './database';
import { kaseyaClassificationSql, kaseyaRowsSql } from './kaseya-sql';

/**
 * A policy's status for a patch as the resolver reads it, in SQL over aliases p (patches),
 * pol (approval_policies), pa (policy_approvals), pd / kd / cd (product / Kaseya classification /
 * classification default, in the resolver's order) and
 * ko (kb_overrides): a KB override wins in every policy; an explicit status stands; a default
 * status (stamped, or the default that will be stamped) is overridden with Denied by the policy's
 * switches for Manual Install Only, Windows Update Web Site and superseded updates.
 */
const EFFECTIVE_STATUS = `
  CASE WHEN ko.status IS NOT NULL THEN ko.status
       WHEN pa.source = 'explicit' THEN pa.status
       WHEN (pol.deny_manual_install_only AND p.install_type = 'manual_install_only')
         OR (pol.deny_windows_update_web_site AND p.install_type = 'windows_update_web_site')
         OR (pol.deny_superseded AND p.superseded_by IS NOT NULL) THEN 'denied'
       ELSE COALESCE(pa.status, pd.status, kd.status, cd.status, pol.fallback_default) END`;

/** Where EFFECTIVE_STATUS came from. */
const STATUS_SOURCE = `
  CASE WHEN ko.status IS NOT NULL THEN 'kb_override'
       WHEN pa.source = 'explicit' THEN 'explicit'
       WHEN (pol.deny_manual_install_only AND p.install_type = 'manual_install_only')
         OR (pol.deny_windows_update_web_site AND p.install_type = 'windows_update_web_site')
         OR (pol.deny_superseded AND p.superseded_by IS NOT NULL) THEN 'deny_switch'
       ELSE 'default' END`;

const KASEYA_OF_P = kaseyaClassificationSql('p.classification', 'p.severity');

const POLICY_JOINS = `
  LEFT JOIN policy_approvals pa ON pa.policy_id = pol.id AND pa.update_id = p.update_id
  LEFT JOIN policy_defaults pd ON pd.policy_id = pol.id AND pd.kind = 'product' AND pd.key = p.product
  LEFT JOIN policy_defaults kd ON kd.policy_id = pol.id AND kd.kind = 'kaseya_classification' AND kd.key = ${KASEYA_OF_P}
  LEFT JOIN policy_defaults cd ON cd.policy_id = pol.id AND cd.kind = 'classification' AND cd.key = p.classification
  LEFT JOIN kb_overrides ko ON ko.kb = regexp_replace(upper(trim(p.kb)), '^(\\d)', 'KB\\1')`;

export type SummaryGroup = 'classification' | 'product' | 'kaseya_classification';

export interface SummaryCounts { approved: number; denied: number; pendingApproval: number; total: number }

export interface SummaryRow extends SummaryCounts {
  key: string;
  /** the status a newly discovered patch of this row gets (a product default aside) */
  defaultStatus: ApprovalStatus;
  /**
   * where that default is set: its own row, or the policy's fallback; a Kaseya classification row
   * without a default of its own takes its Microsoft classification's ('classification')
   */
  defaultFrom: 'classification' | 'product' | 'kaseya_classification' | 'fallback';
}

export interface PolicySummary {
  rows: SummaryRow[];
  totals: SummaryCounts;
  /**
   * groupBy kaseya_classification only: classifications Kaseya shows no row for (Definition Updates,
   * Drivers), by Microsoft's name, so that no patch goes uncounted; not in `totals`, which are the
   * 11 rows' as Kaseya adds them up. Empty when the catalog has none.
   */
  outside?: SummaryRow[];
}

const toRow = (r: Record<string, any>): SummaryRow => ({
  key: r.key,
  approved: Number(r.approved),
  denied: Number(r.denied),
  pendingApproval: Number(r.pending_approval),
  total: Number(r.total),
  defaultStatus: r.default_status,
  defaultFrom: r.default_from,
});

const totalsOf = (rows: SummaryRow[]): SummaryCounts => rows.reduce<SummaryCounts>(
  (t, r) => ({
    approved: t.approved + r.approved, denied: t.denied + r.denied,
    pendingApproval: t.pendingApproval + r.pendingApproval, total: t.total + r.total,
  }),
  { approved: 0, denied: 0, pendingApproval: 0, total: 0 },
);

/**
 * Kaseya's "Patch Approval Policy Status" table for one policy: per classification (or product, or
 * Kaseya classification) the number of catalog patches Approved / Denied / Pending Approval, their
 * total and the default, plus the totals row. Counts use the status as approval is decided (see
 * EFFECTIVE_STATUS). By Kaseya classification the answer always has Kaseya's 11 rows in Kaseya's
 * order (zero counts included), each row's default being its own or else its classification's.
 */
export async function policySummary(db: Queryable, policyId: string, groupBy: SummaryGroup): Promise<PolicySummary> {
  if (groupBy === 'kaseya_classification') return kaseyaSummary(db, policyId);
  const column = groupBy === 'product' ? 'p.product' : 'p.classification';
  const { rows } = await db.query(
    `WITH eff AS (
       SELECT ${column} AS key, ${EFFECTIVE_STATUS} AS status
       FROM patches p JOIN approval_policies pol ON pol.id = $1::uuid ${POLICY_JOINS}
     )
     SELECT e.key,
            count(*) FILTER (WHERE e.status = 'approved') AS approved,
            count(*) FILTER (WHERE e.status = 'denied') AS denied,
            count(*) FILTER (WHERE e.status = 'pending_approval') AS pending_approval,
            count(*) AS total,
            COALESCE(d.status, pol.fallback_default) AS default_status,
            CASE WHEN d.status IS NULL THEN 'fallback' ELSE $2::text END AS default_from
     FROM eff e JOIN approval_policies pol ON pol.id = $1::uuid
     LEFT JOIN policy_defaults d ON d.policy_id = pol.id AND d.kind = $2::text AND d.key = e.key
     GROUP BY e.key, d.status, pol.fallback_default
     ORDER BY e.key`,
    [policyId, groupBy],
  );
  const out = rows.map(toRow);
  return { rows: out, totals: totalsOf(out) };
}

async function kaseyaSummary(db: Queryable, policyId: string): Promise<PolicySummary> {
  const { rows } = await db.query(
    `WITH eff AS (
       SELECT ${KASEYA_OF_P} AS key, ${EFFECTIVE_STATUS} AS status
       FROM patches p JOIN approval_policies pol ON pol.id = $1::uuid ${POLICY_JOINS}
     )
     SELECT k.name AS key,
            count(e.key) FILTER (WHERE e.status = 'approved') AS approved,
            count(e.key) FILTER (WHERE e.status = 'denied') AS denied,
            count(e.key) FILTER (WHERE e.status = 'pending_approval') AS pending_approval,
            count(e.key) AS total,
            COALESCE(kd.status, cd.status, pol.fallback_default) AS default_status,
            CASE WHEN kd.status IS NOT NULL THEN 'kaseya_classification'
                 WHEN cd.status IS NOT NULL THEN 'classification' ELSE 'fallback' END AS default_from
     FROM ${kaseyaRowsSql('k')}
     JOIN approval_policies pol ON pol.id = $1::uuid
     LEFT JOIN eff e ON e.key = k.name
     LEFT JOIN policy_defaults kd ON kd.policy_id = pol.id AND kd.kind = 'kaseya_classification' AND kd.key = k.name
     LEFT JOIN policy_defaults cd ON cd.policy_id = pol.id AND cd.kind = 'classification' AND cd.key = k.classification
     GROUP BY k.name, k.position, kd.status, cd.status, pol.fallback_default
     ORDER BY k.position`,
    [policyId],
  );
  const out = rows.map(toRow);
  // Any severity stands for "not a Security Update": what matters is whether Kaseya has a row at all.
  const outside = (await policySummary(db, policyId, 'classification')).rows
    .filter((r) => kaseyaClassificationOf(r.key, 'Unrated') === null);
  return { rows: out, totals: totalsOf(out), outside };
}

export type OverallApproval = ApprovalStatus | 'mixed';

export interface PatchPolicyStatus {
  policyId: string;
  policyName: string;
  status: ApprovalStatus;
  source: 'explicit' | 'default' | 'kb_override' | 'deny_switch';
  /** false: the policy has no row for the patch yet (its default applies) */
  stamped: boolean;
  note: string | null;
  /** an Approved status that takes effect this many days after the patch's release (absent: at once) */
  approveAfterDays?: number;
}

export interface PatchApprovalRow {
  updateId: string;
  kb: string;
  title: string;
  classification: string;
  /** Kaseya's name for classification × severity; null where Kaseya shows no row (Definition Updates, Drivers) */
  kaseyaClassification: string | null;
  product: string;
  severity: string;
  securityBulletin: string | null;
  publishedAt: string | null;
  installType: InstallType;
  supersededBy: string | null;
  uninstallable: boolean;
  kbOverride: ApprovalStatus | null;
  /** the common status of every policy, 'mixed' when they differ, null when there is no policy */
  approval: OverallApproval | null;
  policies: PatchPolicyStatus[];
}

export interface PatchListFilter {
  /** part of the title */
  name?: string;
  /** part of the KB */
  kb?: string;
  classification?: string;
  /** one of Kaseya's 11 names (the drill-down from the summary by Kaseya classification) */
  kaseyaClassification?: string;
  product?: string;
  approval?: OverallApproval;
}

const like = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Kaseya's Approval by Patch list: each catalog patch with its status in every policy, in one query. */
export async function listPatchApprovals(db: Queryable, filter: PatchListFilter = {}): Promise<PatchApprovalRow[]> {
  const { rows } = await db.query(
    `WITH filtered AS (
       SELECT p.*, ${KASEYA_OF_P} AS kaseya_classification FROM patches p
       WHERE ($1::text IS NULL OR p.title ILIKE $1::text)
         AND ($2::text IS NULL OR p.kb ILIKE $2::text)
         AND ($3::text IS NULL OR p.classification = $3::text)
         AND ($4::text IS NULL OR p.product = $4::text)
         AND ($6::text IS NULL OR ${KASEYA_OF_P} = $6::text)
     ), eff AS (
       SELECT p.update_id, pol.id AS policy_id, pol.name AS policy_name,
              ${EFFECTIVE_STATUS} AS status, ${STATUS_SOURCE} AS source, pa.policy_id IS NOT NULL AS stamped, pa.note,
              pa.approve_after_days
       FROM filtered p CROSS JOIN approval_policies pol ${POLICY_JOINS}
     ), agg AS (
       SELECT update_id,
              json_agg(json_build_object('policyId', policy_id, 'policyName', policy_name, 'status', status,
                                         'source', source, 'stamped', stamped, 'note', note)::jsonb
                       -- an approval deferred N days after release (the resolver's reason says until when)
                       || CASE WHEN status = 'approved' AND source IN ('explicit', 'default') AND approve_after_days IS NOT NULL
                               THEN jsonb_build_object('approveAfterDays', approve_after_days) ELSE '{}'::jsonb END
                       ORDER BY policy_name) AS policies,
              CASE WHEN count(DISTINCT status) = 1 THEN min(status) ELSE 'mixed' END AS approval
       FROM eff GROUP BY update_id
     )
     SELECT f.update_id, f.kb, f.title, f.classification, f.kaseya_classification, f.product, f.severity, f.security_bulletin, f.published_at,
            f.install_type, f.superseded_by, f.uninstallable, ko.status AS kb_override,
            a.approval, COALESCE(a.policies, '[]'::json) AS policies
     FROM filtered f LEFT JOIN agg a ON a.update_id = f.update_id
     LEFT JOIN kb_overrides ko ON ko.kb = regexp_replace(upper(trim(f.kb)), '^(\\d)', 'KB\\1')
     WHERE $5::text IS NULL OR a.approval = $5::text
     ORDER BY f.kb, f.update_id`,
    [
      filter.name ? like(filter.name) : null,
      filter.kb ? like(filter.kb) : null,
      filter.classification ?? null,
      filter.product ?? null,
      filter.approval ?? null,
      filter.kaseyaClassification ?? null,
    ],
  );
  return rows.map((r) => ({
    updateId: r.update_id,
    kb: r.kb,
    title: r.title,
    classification: r.classification,
    kaseyaClassification: r.kaseya_classification,
    product: r.product,
    severity: r.severity,
    securityBulletin: r.security_bulletin,
    publishedAt: r.published_at ? r.published_at.toISOString() : null,
    installType: r.install_type,
    supersededBy: r.superseded_by,
    uninstallable: r.uninstallable,
    kbOverride: r.kb_override,
    approval: r.approval,
    policies: r.policies,
  }));
}
