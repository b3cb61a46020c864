import * as path from 'node:path';
import type { CommandJournal } from '../executor';
import { FileExecutorStateStore } from './executor-state';
import { nodeProcessRunner } from './process-runner';
import { WindowsUpdateExecutor } from './windows-update-executor';

export { WindowsUpdateExecutor } from './windows-update-executor';

/**
 * The Windows executor as `patchflow agent` runs it on a real machine: its state and the script's
 * argument files in the agent's state folder (which must be writable by SYSTEM and Administrators
 * only; README "Windows agent"), the real process runner, and the system root the entry point read.
 */
export function createWindowsUpdateExecutor(options: { hostname: string; stateDir: string; journal: CommandJournal; systemRoot?: string }): Promise<WindowsUpdateExecutor> {
  return WindowsUpdateExecutor.start({
    name: options.hostname,
    journal: options.journal,
    runner: nodeProcessRunner,
    state: new FileExecutorStateStore(path.join(options.stateDir, 'windows-executor-state.json')),
    argsDir: path.join(options.stateDir, 'wua-args'),
    systemRoot: options.systemRoot,
  });
}
