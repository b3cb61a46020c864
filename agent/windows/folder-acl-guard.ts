import { stat, mkdir } from 'node:fs/promises';
import { formatExitCode } from '../../domain/exit-codes';
import { folderWritersProblem } from '../../domain/wua-folder-acl';
import type { ProcessRunner } from './process-runner';
import type { WuaScript } from './wua-script';

/** Decides whether the agent may use folders (canonical Windows paths): undefined when it may, else why not. */
export interface FolderAclGuard {
  problem(folders: string[], signal?: AbortSignal): Promise<string | undefined>;
}

/**
 * The real guard: a folder the agent creates gets an access list of SYSTEM and Administrators only
 * (`icacls /inheritance:r`, since a new folder under ProgramData would inherit "every user may create
 * files"); then every folder's owner and rules are read (`wua.ps1 folder-acl`) and judged by
 * domain/wua-folder-acl.ts. An existing folder that others can write to is refused, never repaired:
 * someone chose those rights, and an operator should see that.
 */
export class ScriptFolderAclGuard implements FolderAclGuard {
  constructor(private readonly deps: { script: WuaScript; runner: ProcessRunner; icacls: string; localPath: (windowsPath: string) => string }) {}

  async problem(folders: string[], signal?: AbortSignal): Promise<string | undefined> {
    for (const folder of folders) {
      const local = this.deps.localPath(folder);
      if (await stat(local).then((s) => s.isDirectory(), () => false)) continue;
      await mkdir(local, { recursive: true });
      const r = await this.deps.runner.run(this.deps.icacls, [folder, '/inheritance:r', '/grant:r', '*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F'], { signal });
      if (r.exitCode !== 0) return `icacls could not restrict the new folder ${folder} to SYSTEM and Administrators (exit ${formatExitCode(r.exitCode)})`;
    }
    const acl = await this.deps.script.folderAcl(folders, signal);
    for (const folder of acl.folders) {
      const problem = folderWritersProblem(folder);
      if (problem) return problem;
    }
    return undefined;
  }
}
