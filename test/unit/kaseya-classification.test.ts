import { Classification, Severity } from '../../domain/device-protocol';
import {
  isKaseyaClassification, KASEYA_CLASSIFICATIONS, KASEYA_ROWS, kaseyaClassificationOf,
} from '../../domain/kaseya-classification';

// Seed 003, "Patch Approval Policy Status for D - Production - Server", the Classification column in
// the order Kaseya shows it (one line per row, as the seed spells it).
const SEED_ROWS = [
  'Security Update - Critical (High Priority)',
  'Security Update - Important (High Priority)',
  'Security Update - Moderate (High Priority)',
  'Security Update - Low (High Priority)',
  'Security Update - Non-rated (High Priority)',
  'Critical Update (High Priority)',
  'Update Rollup (High Priority)',
  'Service Pack (Optional - Software)',
  'Update (Optional - Software)',
  'Feature Pack (Optional - Software)',
  'Tool (Optional - Software)',
];

describe('Kaseya classifications', () => {
  test('the 11 rows are the seed\'s, in the seed\'s order', () => {
    expect(KASEYA_CLASSIFICATIONS).toEqual(SEED_ROWS);
    expect(new Set(KASEYA_ROWS.map((r) => `${r.classification}/${r.severity}`)).size).toBe(11);
  });

  // One row per (classification, severity) → Kaseya's name; null where Kaseya shows no row.
  const S = Severity;
  const C = Classification;
  const table: [classification: string, severity: string, kaseya: string | null][] = [
    [C.SecurityUpdate, S.Critical, 'Security Update - Critical (High Priority)'],
    [C.SecurityUpdate, S.Important, 'Security Update - Important (High Priority)'],
    [C.SecurityUpdate, S.Moderate, 'Security Update - Moderate (High Priority)'],
    [C.SecurityUpdate, S.Low, 'Security Update - Low (High Priority)'],
    [C.SecurityUpdate, S.Unrated, 'Security Update - Non-rated (High Priority)'],
    // Unrated never lands in a rated row: anything that is not exactly an MSRC rating is Non-rated.
    [C.SecurityUpdate, '', 'Security Update - Non-rated (High Priority)'],
    [C.SecurityUpdate, 'critical', 'Security Update - Non-rated (High Priority)'],
    [C.SecurityUpdate, 'Spicy', 'Security Update - Non-rated (High Priority)'],
    // Only Security Updates are split: another classification's severity is ignored.
    [C.CriticalUpdate, S.Unrated, 'Critical Update (High Priority)'],
    [C.CriticalUpdate, S.Critical, 'Critical Update (High Priority)'],
    [C.UpdateRollup, S.Unrated, 'Update Rollup (High Priority)'],
    [C.UpdateRollup, S.Important, 'Update Rollup (High Priority)'],
    [C.ServicePack, S.Unrated, 'Service Pack (Optional - Software)'],
    [C.Update, S.Unrated, 'Update (Optional - Software)'],
    [C.Update, S.Low, 'Update (Optional - Software)'],
    [C.FeaturePack, S.Unrated, 'Feature Pack (Optional - Software)'],
    [C.Tool, S.Unrated, 'Tool (Optional - Software)'],
    // Kaseya's patch policy has no row for these: they keep Microsoft's classification.
    [C.Definition, S.Unrated, null],
    [C.Driver, S.Unrated, null],
    ['Upgrades', S.Critical, null],
  ];
  test.each(table)('%s / %s → %s', (classification, severity, kaseya) => {
    expect(kaseyaClassificationOf(classification, severity)).toBe(kaseya);
  });

  test('every row maps back to itself, and only the 11 names are Kaseya classifications', () => {
    for (const r of KASEYA_ROWS) expect(kaseyaClassificationOf(r.classification, r.severity ?? S.Unrated)).toBe(r.name);
    expect(SEED_ROWS.every(isKaseyaClassification)).toBe(true);
    expect(isKaseyaClassification('Security Updates')).toBe(false);
    expect(isKaseyaClassification('Security Update - Critical')).toBe(false);
  });
});
