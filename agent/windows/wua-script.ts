import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  describeSchemaError,
  folderArgsSchema,
  outputSchemas,
  scriptArgsSchema,
  scriptErrorSchema,
  servicesArgsSchema,
  WuaVerb,
  type DownloadOutput,
  type FolderAclOutput,
  type InstallOutput,
  type RebootPendingOutput,
  type ScriptArgs,
  type SearchOutput,
  type ServicesOutput,
} from '../../domain/wua-schemas';
import { formatExitCode } from '../../domain/exit-codes';
import type { ProcessRunner } from './process-runner';

/** Thrown when the script failed (a COM error, with its HRESULT) or answered a shape we do not know. */
export class WuaScriptError extends Error {
  constructor(readonly verb: string, message: string, readonly hresult?: number) {
    super(message);
  }
}

export interface WuaScriptOptions {
  runner: ProcessRunner;
  /** agent/windows/wua.ps1 as installed on the machine */
  scriptPath: string;
  /** default: powershell.exe under the system root (Windows PowerShell 5.1, present on every supported Windows) */
  powershell: string;
  /** a folder only the agent (SYSTEM) can write to: the arguments files go here */
  argsDir: string;
  /** a WUA search can take many minutes on a machine that has not scanned for a while; default 1 hour */
  timeoutMs?: number;
}

/**
 * Runs agent/windows/wua.ps1 and parses what it prints. The arguments a verb needs go in a JSON file
 * written here and named on the command line; the command line itself holds only fixed words.
 */
export class WuaScript {
  constructor(private readonly options: WuaScriptOptions) {}

  search(signal?: AbortSignal): Promise<SearchOutput> {
    return this.invoke(WuaVerb.Search, undefined, signal);
  }
  download(args: ScriptArgs, signal?: AbortSignal): Promise<DownloadOutput> {
    return this.invoke(WuaVerb.Download, args, signal);
  }
  install(args: ScriptArgs, signal?: AbortSignal): Promise<InstallOutput> {
    return this.invoke(WuaVerb.Install, args, signal);
  }
  rebootPending(signal?: AbortSignal): Promise<RebootPendingOutput> {
    return this.invoke(WuaVerb.RebootPending, undefined, signal);
  }
  /** Get-Service for each name (a health check), read from the arguments file, never from argv. */
  services(services: string[], signal?: AbortSignal): Promise<ServicesOutput> {
    return this.invoke(WuaVerb.Services, servicesArgsSchema.parse({ services }), signal);
  }
  folderAcl(folders: string[], signal?: AbortSignal): Promise<FolderAclOutput> {
    return this.invoke(WuaVerb.FolderAcl, folderArgsSchema.parse({ folders }), signal);
  }

  /** The argv the script runs with: PowerShell's switches, the script, the verb and, for some, the arguments file. */
  argv(verb: WuaVerb, argsFile?: string): string[] {
    return ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', this.options.scriptPath, verb, ...(argsFile ? [argsFile] : [])];
  }

  private async invoke<V extends WuaVerb>(verb: V, args: ScriptArgs | { folders: string[] } | { services: string[] } | undefined, signal?: AbortSignal): Promise<ReturnType<(typeof outputSchemas)[V]['parse']>> {
    let argsFile: string | undefined;
    if (args) {
      // Checked here as well as in the script: only GUIDs and the agent's own (canonical) paths are written.
      const checked = 'folders' in args ? folderArgsSchema.parse(args) : 'services' in args ? servicesArgsSchema.parse(args) : scriptArgsSchema.parse(args);
      await mkdir(this.options.argsDir, { recursive: true, mode: 0o700 });
      argsFile = path.join(this.options.argsDir, `wua-args-${randomUUID()}.json`);
      await writeFile(argsFile, JSON.stringify(checked), { mode: 0o600 });
    }
    try {
      const result = await this.options.runner.run(this.options.powershell, this.argv(verb, argsFile), { signal, timeoutMs: this.options.timeoutMs ?? 3_600_000 });
      const text = result.stdout.replace(/^\uFEFF/, '').trim();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new WuaScriptError(verb, `wua.ps1 ${verb} printed no JSON (exit ${formatExitCode(result.exitCode)}): ${truncate(text || result.stderr)}`);
      }
      const failure = scriptErrorSchema.safeParse(json);
      if (failure.success) {
        const hr = failure.data.error.hresult;
        throw new WuaScriptError(verb, `wua.ps1 ${verb} failed with ${formatExitCode(hr)}: ${failure.data.error.message}`, hr);
      }
      if (result.exitCode !== 0) throw new WuaScriptError(verb, `wua.ps1 ${verb} exited ${formatExitCode(result.exitCode)}: ${truncate(result.stderr || text)}`);
      const parsed = outputSchemas[verb].safeParse(json);
      if (!parsed.success) throw new WuaScriptError(verb, `wua.ps1 ${verb} answered a shape the agent does not know: ${describeSchemaError(parsed.error)}`);
      return parsed.data as ReturnType<(typeof outputSchemas)[V]['parse']>;
    } finally {
      if (argsFile) await rm(argsFile, { force: true });
    }
  }
}

const truncate = (s: string) => (s.length > 500 ? `${s.slice(0, 500)}…` : s);
