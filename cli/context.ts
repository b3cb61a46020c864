import type { PatchflowApi } from './api-client';
import type { OutputMode } from './output';

/** What a group of commands needs from the program: the API client, the output mode, and where to print. */
export interface CliContext {
  /** a client for the API the global options (or npm start's api.json) name; built on first use */
  api(): PatchflowApi;
  output(): OutputMode;
  /** prints `data` in the output mode: `text` through `human`, JSON as it came */
  emit<T>(data: T, human: (d: T) => string): void;
  say(text: string): void;
  warn(text: string): void;
}
