/**
 * Output modes, as the Temporal CLI has them (`-o text|json|jsonl`): text for people, json for a
 * document to read whole, jsonl for pipes (`| jq -c`, `| while read`), one compact value per line.
 * Pure: the commands hand their data and a text rendering here, and print what comes back.
 */
import { UsageError } from './format';

export const OUTPUT_MODES = ['text', 'json', 'jsonl'] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

/**
 * The mode from `-o/--output` (or PATCHFLOW_OUTPUT) and `--json`, which stays as an alias of `-o json`
 * for the scripts written before `-o` existed. Both given and disagreeing is a usage error, not a guess.
 */
export function resolveOutputMode(output: string | undefined, json: boolean | undefined): OutputMode {
  const given = output?.trim().toLowerCase();
  if (given !== undefined && given !== '' && !(OUTPUT_MODES as readonly string[]).includes(given)) {
    throw new UsageError(`-o/--output must be one of ${OUTPUT_MODES.join(', ')}, got "${output}"`);
  }
  const mode = (given || undefined) as OutputMode | undefined;
  if (json && mode !== undefined && mode !== 'json') throw new UsageError(`--json is -o json; it cannot go with -o ${mode}`);
  return json ? 'json' : mode ?? 'text';
}

/**
 * What a command prints for `data`: its text rendering, the JSON document (indented), or JSON lines:
 * one line per element of a list (a list is what a jsonl reader iterates), one line for anything else.
 * An empty list prints nothing in jsonl, so `wc -l` counts the rows.
 */
export function renderOutput<T>(mode: OutputMode, data: T, text: (d: T) => string): string | undefined {
  if (mode === 'text') return text(data);
  if (mode === 'json') return JSON.stringify(data, null, 2);
  if (Array.isArray(data)) return data.length ? data.map((row) => JSON.stringify(row)).join('\n') : undefined;
  return JSON.stringify(data);
}

/** One value of a stream (`audit --follow`, `install show --watch`): compact in both JSON modes, so each change is one line. */
export function renderStreamItem<T>(mode: OutputMode, data: T, text: (d: T) => string): string {
  if (mode === 'text') return text(data);
  return mode === 'json' ? JSON.stringify(data, null, 2) : JSON.stringify(data);
}
