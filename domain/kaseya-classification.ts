/**
 * Kaseya's classifications (seed 003, "Patch Approval Policy Status"): Microsoft's classification, with
 * Security Updates split by MSRC severity, each named with Kaseya's priority suffix. Pure: db/ builds
 * its SQL from KASEYA_ROWS, so the summary, the stamping and the resolver read one mapping.
 */
import { Classification, Severity } from './device-protocol';

/** The 11 rows of Kaseya's policy summary, by the names Kaseya shows. */
export const KaseyaClassification = {
  SecurityCritical: 'Security Update - Critical (High Priority)',
  SecurityImportant: 'Security Update - Important (High Priority)',
  SecurityModerate: 'Security Update - Moderate (High Priority)',
  SecurityLow: 'Security Update - Low (High Priority)',
  /** a Security Update without an MSRC rating (or one Patchflow does not know) */
  SecurityNonRated: 'Security Update - Non-rated (High Priority)',
  CriticalUpdate: 'Critical Update (High Priority)',
  UpdateRollup: 'Update Rollup (High Priority)',
  ServicePack: 'Service Pack (Optional - Software)',
  Update: 'Update (Optional - Software)',
  FeaturePack: 'Feature Pack (Optional - Software)',
  Tool: 'Tool (Optional - Software)',
} as const;
export type KaseyaClassification = (typeof KaseyaClassification)[keyof typeof KaseyaClassification];

export interface KaseyaRow {
  name: KaseyaClassification;
  classification: Classification;
  /** the MSRC severity the row holds; null: every severity of the classification */
  severity: Severity | null;
}

/** Kaseya's rows in the order Kaseya shows them (seed 003): severities first, then by priority. */
export const KASEYA_ROWS: readonly KaseyaRow[] = [
  { name: KaseyaClassification.SecurityCritical, classification: Classification.SecurityUpdate, severity: Severity.Critical },
  { name: KaseyaClassification.SecurityImportant, classification: Classification.SecurityUpdate, severity: Severity.Important },
  { name: KaseyaClassification.SecurityModerate, classification: Classification.SecurityUpdate, severity: Severity.Moderate },
  { name: KaseyaClassification.SecurityLow, classification: Classification.SecurityUpdate, severity: Severity.Low },
  { name: KaseyaClassification.SecurityNonRated, classification: Classification.SecurityUpdate, severity: Severity.Unrated },
  { name: KaseyaClassification.CriticalUpdate, classification: Classification.CriticalUpdate, severity: null },
  { name: KaseyaClassification.UpdateRollup, classification: Classification.UpdateRollup, severity: null },
  { name: KaseyaClassification.ServicePack, classification: Classification.ServicePack, severity: null },
  { name: KaseyaClassification.Update, classification: Classification.Update, severity: null },
  { name: KaseyaClassification.FeaturePack, classification: Classification.FeaturePack, severity: null },
  { name: KaseyaClassification.Tool, classification: Classification.Tool, severity: null },
];

/** The 11 names in Kaseya's order. */
export const KASEYA_CLASSIFICATIONS: readonly KaseyaClassification[] = KASEYA_ROWS.map((r) => r.name);

const NAMES = new Set<string>(KASEYA_CLASSIFICATIONS);
export const isKaseyaClassification = (s: string): s is KaseyaClassification => NAMES.has(s);

const RATED = new Map<string, KaseyaClassification>(
  KASEYA_ROWS.filter((r) => r.classification === Classification.SecurityUpdate && r.severity !== Severity.Unrated)
    .map((r) => [r.severity!, r.name]),
);
const UNSPLIT = new Map<string, KaseyaClassification>(
  KASEYA_ROWS.filter((r) => r.severity === null).map((r) => [r.classification, r.name]),
);

/**
 * The Kaseya classification of a patch, or null for a classification Kaseya shows no row for
 * (Definition Updates, Drivers: Kaseya's patch policy does not manage them; they keep Microsoft's name).
 * Only Security Updates are split; another classification's severity is ignored, as Kaseya does.
 * A Security Update whose severity is not exactly one of MSRC's four ratings is Non-rated, never
 * Critical or any other rated row: an unrated patch gets the Non-rated default, never an accidental
 * approval meant for rated ones (DOMAIN-RULES: "Unrated").
 */
export function kaseyaClassificationOf(classification: string, severity: string): KaseyaClassification | null {
  if (classification === Classification.SecurityUpdate) return RATED.get(severity) ?? KaseyaClassification.SecurityNonRated;
  return UNSPLIT.get(classification) ?? null;
}
