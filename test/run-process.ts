import { spawn, type SpawnOptions } from 'node:child_process';

export interface ProcessRun { code: number | null; stdout: string; stderr: string }

/** Runs a command to its end with no stdin and returns its exit code and everything it printed. */
export function runProcess(command: string, args: string[], options: Omit<SpawnOptions, 'stdio'>): Promise<ProcessRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
