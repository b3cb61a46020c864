/**
 * Results the agent finished but has not yet delivered (issue 18.5). Every result is saved here before
 * its first post and removed once the gateway has it (or says it no longer wants it), so a result
 * finished just before SIGTERM, a lost connection or a crash is posted at the next start instead of
 * being lost: the server would otherwise wait out the step's timeout and deliver the command again.
 *
 * The simulator keeps one in memory per device object (a restarted runner on the same device sees it);
 * a real agent keeps it as a file in its state directory, written temp-then-rename with fsync.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { CommandOutcome } from '../domain/device-protocol';

export interface PendingResult {
  commandId: string;
  type: string;
  outcome: CommandOutcome;
}

export interface ResultOutbox {
  save(result: PendingResult): void;
  remove(commandId: string): void;
  /** oldest first */
  pending(): PendingResult[];
}

export class MemoryResultOutbox implements ResultOutbox {
  private readonly results = new Map<string, PendingResult>();
  save(result: PendingResult): void {
    this.results.set(result.commandId, result);
  }
  remove(commandId: string): void {
    this.results.delete(commandId);
  }
  pending(): PendingResult[] {
    return [...this.results.values()];
  }
}

const pendingSchema = z.array(z.object({
  commandId: z.string().min(1).max(200),
  type: z.string().min(1).max(50),
  outcome: z.custom<CommandOutcome>((v) => typeof v === 'object' && v !== null && typeof (v as { status?: unknown }).status === 'string'),
}));

/** At most this many undelivered results are kept: a server that refuses them all must not fill the disk. */
const MAX_PENDING = 1000;

/** The outbox as one small JSON file, replaced atomically on every change (it holds a handful of results). */
export class FileResultOutbox implements ResultOutbox {
  private readonly results = new Map<string, PendingResult>();
  /** why the file could not be read at start (the agent logs it); the outbox then starts empty */
  readonly problem: string | undefined;

  constructor(readonly file: string) {
    let problem: string | undefined;
    try {
      const parsed = pendingSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
      if (parsed.success) for (const r of parsed.data) this.results.set(r.commandId, r);
      else problem = `${file} is not a list of results: ${parsed.error.issues[0]?.message}; starting empty`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') problem = `${file} could not be read (${(err as Error).message}); starting empty`;
    }
    this.problem = problem;
  }

  save(result: PendingResult): void {
    this.results.set(result.commandId, result);
    while (this.results.size > MAX_PENDING) this.results.delete(this.results.keys().next().value!);
    this.write();
  }
  remove(commandId: string): void {
    if (this.results.delete(commandId)) this.write();
  }
  pending(): PendingResult[] {
    return [...this.results.values()];
  }

  private write(): void {
    writeFileDurably(this.file, JSON.stringify([...this.results.values()]));
  }
}

/** Writes `file` so that a crash leaves either the old or the new content: temp file, fsync, rename, fsync the folder. */
export function writeFileDurably(file: string, content: string, mode = 0o600): void {
  const temp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}
