import { execFile } from 'node:child_process';

/** How a program ended: its exit code (unsigned, as Windows reports HRESULTs) and what it printed. */
export interface ProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/**
 * Starts a program with an argument array, never through a shell. The Windows executor gets one
 * injected, so tests replay recorded transcripts instead of starting wusa.exe or PowerShell.
 */
export interface ProcessRunner {
  run(program: string, args: readonly string[], options?: { signal?: AbortSignal; timeoutMs?: number }): Promise<ProcessResult>;
}

/** Thrown when a program could not be started at all (not found, not executable). */
export class ProcessStartError extends Error {}

/**
 * The real runner: `execFile` with `shell: false`. Node quotes each argument for Windows'
 * CommandLineToArgvW rules, so a path with spaces stays one argument; programs that parse their own
 * command line (msiexec) get only arguments the executor built from checked values.
 */
export const nodeProcessRunner: ProcessRunner = {
  run(program, args, options = {}) {
    return new Promise((resolve, reject) => {
      execFile(
        program,
        [...args],
        { shell: false, windowsHide: true, maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 0, signal: options.signal, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
            reject(new ProcessStartError(`could not run ${program}: ${err.message}`));
            return;
          }
          const code = err ? ((err as { code?: number | null }).code ?? 1) : 0;
          resolve({ exitCode: Number(code) >>> 0, stdout, stderr });
        },
      );
    });
  },
};
