import { Classification } from '../domain/device-protocol';
import { KASEYA_ROWS } from '../domain/kaseya-classification';

const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * kaseyaClassificationOf (domain/kaseya-classification.ts) as a SQL expression over two text columns,
 * built from the domain's table so that SQL and the resolver cannot disagree: a Security Update whose
 * severity is not one of the four ratings falls through to Non-rated; a classification Kaseya has no
 * row for is NULL.
 */
export function kaseyaClassificationSql(classification: string, severity: string): string {
  const rated = KASEYA_ROWS.filter((r) => r.classification === Classification.SecurityUpdate && r.severity !== 'Unrated');
  const nonRated = KASEYA_ROWS.find((r) => r.classification === Classification.SecurityUpdate && r.severity === 'Unrated')!;
  const unsplit = KASEYA_ROWS.filter((r) => r.severity === null);
  return `(CASE ${[
    ...rated.map((r) => `WHEN ${classification} = ${literal(r.classification)} AND ${severity} = ${literal(r.severity!)} THEN ${literal(r.name)}`),
    `WHEN ${classification} = ${literal(nonRated.classification)} THEN ${literal(nonRated.name)}`,
    ...unsplit.map((r) => `WHEN ${classification} = ${literal(r.classification)} THEN ${literal(r.name)}`),
  ].join(' ')} END)`;
}

/** Kaseya's rows as a SQL row source `alias(name, classification, position)`, in Kaseya's order. */
export const kaseyaRowsSql = (alias: string) =>
  `(VALUES ${KASEYA_ROWS.map((r, i) => `(${literal(r.name)}, ${literal(r.classification)}, ${i + 1})`).join(', ')}) AS ${alias}(name, classification, position)`;
