/**
 * Operators' catalog import: a patch list exported from another RMM (CSV), read row by row. Pure: the
 * caller parses the CSV (csv-parse) into records and writes the result.
 *
 * Columns (header row, any order, case and spaces ignored): `KB` (required), `Title`, `Classification`,
 * `Severity`, `Product`, `Release Date`, `Approval Status`. Classification takes WUA's names
 * ("Security Updates") or Kaseya's ("Security Update - Critical (High Priority)", which also gives the
 * severity); severity takes MSRC's (Critical, Important, Moderate, Low; empty or "Non-rated": Unrated);
 * approval status takes "Approved", "Denied", "Pending Approval" (empty: leave the approvals alone).
 *
 * A CSV row carries no file facts (URL, size, SHA-256): another RMM's export has none Patchflow could
 * trust. So an imported KB that no feed knows is "unverified" on every device, never installable, until a
 * feed supplies its file; its classification and approval status are kept and carried onto the feed's
 * entry when it arrives. For a KB a feed already supplies, the feed's classification stands and only the
 * approval status is imported.
 */
import { ApprovalStatus } from './approval-model';
import { Classification, Severity } from './device-protocol';
import { normalisePatchId, patchIdProblem } from './patch-id';

export interface ImportRow {
  /** 1-based line in the file (the header is line 1) */
  line: number;
  kb: string;
  title: string | null;
  classification: Classification | null;
  severity: Severity | null;
  product: string | null;
  releaseDate: string | null;
  approval: ApprovalStatus | null;
}
export interface RefusedRow {
  line: number;
  kb: string | null;
  reason: string;
}

const key = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
const COLUMNS: Record<string, keyof Omit<ImportRow, 'line'>> = {
  kb: 'kb', kbarticle: 'kb', knowledgebase: 'kb', title: 'title', name: 'title', patchname: 'title',
  classification: 'classification', category: 'classification', severity: 'severity', msrcseverity: 'severity',
  product: 'product', releasedate: 'releaseDate', published: 'releaseDate', publishedat: 'releaseDate',
  approvalstatus: 'approval', approval: 'approval', status: 'approval',
};

const CLASSIFICATIONS = new Map<string, Classification>(Object.values(Classification).map((c) => [key(c), c]));
// Kaseya and N-able use the singular and their own words.
for (const [k, c] of Object.entries({
  securityupdate: Classification.SecurityUpdate, criticalupdate: Classification.CriticalUpdate, updaterollup: Classification.UpdateRollup,
  servicepack: Classification.ServicePack, update: Classification.Update, featurepack: Classification.FeaturePack,
  definitionupdate: Classification.Definition, driver: Classification.Driver, tool: Classification.Tool,
})) CLASSIFICATIONS.set(k, c);
const SEVERITIES = new Map<string, Severity>([
  ...Object.values(Severity).map((s) => [key(s), s] as [string, Severity]),
  ['', Severity.Unrated], ['nonrated', Severity.Unrated], ['none', Severity.Unrated], ['unspecified', Severity.Unrated],
]);
const APPROVALS = new Map<string, ApprovalStatus>([
  ['approved', ApprovalStatus.Approved], ['denied', ApprovalStatus.Denied], ['pendingapproval', ApprovalStatus.PendingApproval], ['pending', ApprovalStatus.PendingApproval],
]);

/** "Security Update - Critical (High Priority)" → Security Updates / Critical; "Critical Update" → Critical Updates. */
function classificationOf(text: string): { classification: Classification; severity?: Severity } | undefined {
  const kaseya = /^(security update)\s*-\s*([a-z-]+)/i.exec(text.trim());
  if (kaseya) {
    const severity = SEVERITIES.get(key(kaseya[2]!));
    if (severity) return { classification: Classification.SecurityUpdate, severity };
  }
  const c = CLASSIFICATIONS.get(key(text.replace(/\(.*\)/, '')));
  return c ? { classification: c } : undefined;
}

/** Reads CSV records (header → value) into import rows, refusing each bad row with its reason. */
export function readImportRows(records: readonly Record<string, string>[]): { rows: ImportRow[]; refused: RefusedRow[] } {
  const rows: ImportRow[] = [];
  const refused: RefusedRow[] = [];
  const seen = new Map<string, number>();
  records.forEach((record, i) => {
    const line = i + 2;
    const v: Partial<Record<keyof Omit<ImportRow, 'line'>, string>> = {};
    for (const [column, value] of Object.entries(record)) {
      const field = COLUMNS[key(column)];
      if (field && v[field] === undefined) v[field] = (value ?? '').trim();
    }
    // Other RMMs export bare KB digits ("5034441"): those are KBs.
    const kb = normalisePatchId(v.kb ?? '').replace(/^(\d+)$/, 'KB$1');
    const refuse = (reason: string): void => { refused.push({ line, kb: kb || null, reason }); };
    const kbProblem = patchIdProblem(kb);
    if (kbProblem) return refuse(`KB: "${v.kb ?? ''}" ${kbProblem}`);
    if (seen.has(kb)) return refuse(`KB ${kb} is also on line ${seen.get(kb)}`);
    let classification: Classification | null = null;
    let severity: Severity | null = null;
    if (v.classification) {
      const c = classificationOf(v.classification);
      if (!c) return refuse(`Classification: "${v.classification}" is not a Windows Update classification`);
      classification = c.classification;
      severity = c.severity ?? null;
    }
    if (v.severity !== undefined && severity === null) {
      const s = SEVERITIES.get(key(v.severity));
      if (!s) return refuse(`Severity: "${v.severity}" is not Critical, Important, Moderate, Low or Unrated`);
      severity = s;
    }
    let approval: ApprovalStatus | null = null;
    if (v.approval) {
      const a = APPROVALS.get(key(v.approval));
      if (!a) return refuse(`Approval Status: "${v.approval}" is not Approved, Denied or Pending Approval`);
      approval = a;
    }
    let releaseDate: string | null = null;
    if (v.releaseDate) {
      const d = new Date(v.releaseDate);
      if (Number.isNaN(d.getTime())) return refuse(`Release Date: "${v.releaseDate}" is not a date`);
      // "01/09/2024" parses as local midnight: take its local date, not the UTC one (a day off east of UTC).
      const pad = (n: number) => String(n).padStart(2, '0');
      releaseDate = /^\d{4}-\d{2}-\d{2}/.test(v.releaseDate) ? v.releaseDate.slice(0, 10) : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
    }
    seen.set(kb, line);
    rows.push({
      line, kb, title: v.title ? v.title.slice(0, 500) : null, classification, severity,
      product: v.product ? v.product.slice(0, 200) : null, releaseDate, approval,
    });
  });
  return { rows, refused };
}

/** The catalog id of an imported KB that no feed has supplied yet (devices never report such ids). */
export const importedUpdateId = (kb: string) => `import:${kb}`;
