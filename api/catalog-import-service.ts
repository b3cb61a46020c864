import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { setExplicitApprovals, stampNewPatches } from '../db/approval-repository';
import { appendAudit, type AuditEntry } from '../db/audit-repository';
import {
  adoptImportedPlaceholders, catalogRowsByKb, changeDetails, insertImportedPlaceholders, loadCatalogRows, updateImportedMetadata, upsertCatalogEntries,
} from '../db/catalog-repository';
import { withTransaction, type Db, type Queryable } from '../db/database';
import type { ApprovalStatus } from '../domain/approval-model';
import { catalogFeedEntrySchema, diffCatalog, OPERATOR_IMPORT, resolveSupersedence } from '../domain/catalog-feed';
import { importedUpdateId, readImportRows, type RefusedRow } from '../domain/catalog-import';
import { HttpError } from './errors';

/** What an import would change (dry run) or changed. */
export interface ImportReport {
  dryRun: boolean;
  format: 'csv' | 'feed';
  rows: number;
  /** new to the catalog: from a CSV, known but not installable (no file) until a feed supplies it */
  new: { line?: number; kb: string; installable: boolean }[];
  /** a feed-format entry at a higher revision (back to Pending Approval) */
  revised: { kb: string; fromRevision: number | null; toRevision: number }[];
  /** metadata corrected on rows no feed supplies */
  changed: { line?: number; kb: string; fields: string[] }[];
  unchanged: number;
  /** approval statuses set in every policy: which KBs got which status, and how many (policy, patch) rows changed */
  approvals: { status: ApprovalStatus; kbs: string[]; approvalsChanged: number }[];
  /** the file's classification differs from the feed's, which stands */
  keptFromFeed: { line: number; kb: string; reason: string }[];
  refused: (RefusedRow | { line?: number; kb: string; reason: string })[];
}

/** Rolls a dry run back after computing it: the report is exactly what the import would do. */
class DryRun extends Error {
  constructor(readonly report: ImportReport) {
    super('dry run');
  }
}

const feedImportSchema = z.object({ entries: z.array(z.unknown()).min(1).max(100_000) });

/**
 * Imports a catalog file as the operator's: a CSV exported from another RMM, or a feed-format JSON
 * document (signature not required: the operator vouches for it, and the import is audited as theirs).
 * Nothing a feed supplies is overwritten. `dryRun` computes the same report and writes nothing.
 */
export async function importCatalog(db: Db, input: { format: 'csv'; text: string } | { format: 'feed'; document: unknown }, options: { dryRun: boolean; actor: string }): Promise<ImportReport> {
  try {
    return await withTransaction(db, async (tx) => {
      const report = input.format === 'csv' ? await importCsv(tx, input.text, options.actor) : await importFeedEntries(tx, input.document, options.actor);
      report.dryRun = options.dryRun;
      if (options.dryRun) throw new DryRun(report);
      await appendAudit(tx, [{
        actor: options.actor, action: 'catalog.imported', subject: input.format,
        details: { rows: report.rows, new: report.new.length, revised: report.revised.length, changed: report.changed.length, unchanged: report.unchanged, approvals: report.approvals.length, refused: report.refused.length },
      }]);
      return report;
    });
  } catch (err) {
    if (err instanceof DryRun) return err.report;
    throw err;
  }
}

type Tx = Queryable;

function emptyReport(format: 'csv' | 'feed', rows: number): ImportReport {
  return { dryRun: false, format, rows, new: [], revised: [], changed: [], unchanged: 0, approvals: [], keptFromFeed: [], refused: [] };
}

async function importCsv(tx: Tx, text: string, actor: string): Promise<ImportReport> {
  let records: Record<string, string>[];
  try {
    records = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true, relax_column_count: true });
  } catch (err) {
    throw new HttpError(400, `body: not a CSV file: ${(err as Error).message}`);
  }
  if (records.length > 100_000) throw new HttpError(400, 'body: more than 100,000 rows');
  const { rows, refused } = readImportRows(records);
  const report = emptyReport('csv', records.length);
  report.refused.push(...refused);
  const known = await catalogRowsByKb(tx, rows.map((r) => r.kb));
  const byKb = new Map<string, typeof known>();
  for (const k of known) byKb.set(k.kb, [...(byKb.get(k.kb) ?? []), k]);
  const audit: AuditEntry[] = [];
  const placeholders: Parameters<typeof insertImportedPlaceholders>[1][number][] = [];
  const corrections: Parameters<typeof updateImportedMetadata>[1][number][] = [];
  const approvalIds = new Map<ApprovalStatus, { kb: string; updateIds: string[] }[]>();
  for (const row of rows) {
    const existing = byKb.get(row.kb) ?? [];
    if (existing.length === 0) {
      if (!row.classification) {
        report.refused.push({ line: row.line, kb: row.kb, reason: 'Classification is needed for a KB the catalog does not know' });
        continue;
      }
      const placeholder = {
        updateId: importedUpdateId(row.kb), kb: row.kb, title: row.title ?? row.kb, classification: row.classification,
        severity: row.severity ?? 'Unrated', product: row.product ?? '(unknown product)', releaseDate: row.releaseDate,
      };
      placeholders.push(placeholder);
      report.new.push({ line: row.line, kb: row.kb, installable: false });
      audit.push({ actor, action: 'catalog.entry_imported', subject: row.kb, details: { line: row.line, updateId: placeholder.updateId, installable: false, reason: 'no file facts: unverified until a feed supplies them' } });
    } else {
      for (const e of existing) {
        const wanted = {
          title: row.title ?? e.title, classification: row.classification ?? e.classification, severity: row.severity ?? e.severity,
          product: row.product ?? e.product, releaseDate: row.releaseDate ?? (e.releaseDate ? e.releaseDate.slice(0, 10) : null),
        };
        const fields = (['title', 'classification', 'severity', 'product', 'releaseDate'] as const)
          .filter((f) => (f === 'releaseDate' ? (e.releaseDate?.slice(0, 10) ?? null) : e[f]) !== wanted[f]);
        if (fields.length === 0) report.unchanged++;
        else if (e.sourceFeedId !== null) {
          report.keptFromFeed.push({ line: row.line, kb: row.kb, reason: `feed "${e.sourceFeedId}" supplies its ${fields.join(', ')}; kept` });
          report.unchanged++;
        } else {
          corrections.push({ updateId: e.updateId, ...wanted });
          report.changed.push({ line: row.line, kb: row.kb, fields });
          audit.push({ actor, action: 'catalog.entry_import_changed', subject: row.kb, details: { line: row.line, updateId: e.updateId, fields, changes: Object.fromEntries(fields.map((f) => [f, { from: f === 'releaseDate' ? e.releaseDate : e[f], to: wanted[f] }])) } });
        }
      }
    }
    if (row.approval) {
      const ids = existing.length > 0 ? existing.map((e) => e.updateId) : [importedUpdateId(row.kb)];
      approvalIds.set(row.approval, [...(approvalIds.get(row.approval) ?? []), { kb: row.kb, updateIds: ids }]);
    }
  }
  await insertImportedPlaceholders(tx, placeholders);
  await stampNewPatches(tx, placeholders, {});
  await updateImportedMetadata(tx, corrections);
  // One statement per status, however many rows (a few thousand is the usual export).
  for (const [status, group] of approvalIds) {
    const kbs = group.map((g) => g.kb);
    const change = await setExplicitApprovals(tx, { policyIds: 'all', updateIds: group.flatMap((g) => g.updateIds), status, note: `imported by ${actor}` });
    report.approvals.push({ status, kbs, approvalsChanged: change.approvalsChanged });
    if (change.approvalsChanged > 0) audit.push({ actor, action: 'patch.approval_set_all_policies', subject: `${kbs.length} KBs (catalog import)`, details: { status, kbs, approvalsChanged: change.approvalsChanged, note: 'catalog import' } });
  }
  await appendAudit(tx, audit);
  return report;
}

async function importFeedEntries(tx: Tx, document: unknown, actor: string): Promise<ImportReport> {
  const parsed = feedImportSchema.safeParse(document);
  if (!parsed.success) throw new HttpError(400, 'body.entries: a feed-format document has a non-empty entries array');
  const report = emptyReport('feed', parsed.data.entries.length);
  const entries = [];
  for (const [i, raw] of parsed.data.entries.entries()) {
    const e = catalogFeedEntrySchema.safeParse(raw);
    if (e.success) entries.push(e.data);
    else report.refused.push({ kb: String((raw as { kb?: unknown })?.kb ?? `entries.${i}`), reason: e.error.issues.map((x) => `entries.${i}.${x.path.join('.')}: ${x.message}`).join('; ') });
  }
  const resolved = resolveSupersedence(entries);
  const current = await loadCatalogRows(tx, resolved.map((e) => e.updateId), { forUpdate: true });
  const diff = diffCatalog(OPERATOR_IMPORT, resolved, current);
  const revisedIds = diff.changes.filter((c) => c.kind === 'revised').map((c) => c.entry.updateId);
  await upsertCatalogEntries(tx, diff.changes.map((c) => c.entry), { kind: 'import', feedId: null, sequence: null, revisedIds });
  const fresh = diff.changes.filter((c) => c.kind !== 'changed').map((c) => c.entry);
  await stampNewPatches(tx, fresh, { revisionChanged: revisedIds });
  await adoptImportedPlaceholders(tx, diff.changes.filter((c) => c.kind === 'new').map((c) => c.entry));
  for (const c of diff.changes) {
    if (c.kind === 'new') report.new.push({ kb: c.entry.kb, installable: true });
    else if (c.kind === 'revised') report.revised.push({ kb: c.entry.kb, fromRevision: c.fromRevision, toRevision: c.entry.revision });
    else report.changed.push({ kb: c.entry.kb, fields: c.fields.map((f) => f.field) });
  }
  report.unchanged = diff.unchanged;
  report.refused.push(...diff.refused.map((r) => ({ kb: r.kb, reason: r.reason })));
  await appendAudit(tx, diff.changes.map((c) => ({
    actor, action: `catalog.entry_${c.kind === 'new' ? 'added' : c.kind}`, subject: c.entry.kb, details: { source: 'import', ...changeDetails(c) },
  })));
  return report;
}
