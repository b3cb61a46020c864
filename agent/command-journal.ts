/**
 * The command journal on disk (the `CommandJournal` of agent/executor.ts) for real executors: one file
 * of JSON lines, appended and fsynced before the call returns, so what it says survives kill -9 and a
 * power cut. Two kinds of line:
 *
 *   {"begin":{…the command…},"at":"…"}                 the command starts (before the machine changes)
 *   {"finish":"<command id>","outcome":{…},"at":"…"}   its final outcome
 *
 * A line cut short by a crash (only ever the last one) is skipped and reported in `problems`; so is any
 * other line that does not parse, so a damaged journal never stops the agent: the commands it forgot
 * are re-checked against the machine before they run (an install asks dpkg first), never blindly re-run.
 * When the file grows past `compactAfter` lines it is rewritten (temp file, fsync, rename) with the newest
 * finished commands and every unfinished one.
 */
import fs from 'node:fs';
import type { AgentCommand, CommandOutcome } from '../domain/device-protocol';
import type { CommandJournal } from './executor';
import { writeFileDurably } from './result-outbox';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface FileCommandJournalOptions {
  /** rewrite the file once it holds this many lines; default 10 000 */
  compactAfter?: number;
  /** finished commands kept by a compaction (newest first); default 4096, as many as the sequence window */
  keepFinished?: number;
}

export class FileCommandJournal implements CommandJournal {
  private readonly done = new Map<string, CommandOutcome>();
  private readonly running = new Map<string, AgentCommand>();
  private lines = 0;
  private fd: number;
  /** lines that could not be read when the journal was opened, e.g. "line 12: cut short (a crash while writing)" */
  readonly problems: string[] = [];
  private readonly compactAfter: number;
  private readonly keepFinished: number;

  constructor(readonly file: string, options: FileCommandJournalOptions = {}) {
    this.compactAfter = options.compactAfter ?? 10_000;
    this.keepFinished = options.keepFinished ?? 4096;
    this.load();
    this.fd = fs.openSync(file, 'a', 0o600);
  }

  finished(commandId: string): CommandOutcome | undefined {
    return this.done.get(commandId);
  }

  async begin(command: AgentCommand): Promise<void> {
    this.running.set(command.id, command);
    this.append({ begin: command, at: new Date().toISOString() });
  }

  async finish(commandId: string, outcome: CommandOutcome): Promise<void> {
    this.running.delete(commandId);
    this.done.delete(commandId); // re-inserted last: compaction keeps the newest
    this.done.set(commandId, outcome);
    this.append({ finish: commandId, outcome, at: new Date().toISOString() });
    if (this.lines > this.compactAfter) this.compact();
  }

  /** Drops a begun command without an outcome (one that ended retryable, e.g. busy): the next delivery runs it. */
  async abandon(commandId: string): Promise<void> {
    if (!this.running.delete(commandId)) return;
    this.append({ abandon: commandId, at: new Date().toISOString() });
  }

  interrupted(): AgentCommand[] {
    return [...this.running.values()];
  }

  /** Whether this command began and never ended: the agent died while it ran. */
  wasInterrupted(commandId: string): boolean {
    return this.running.has(commandId);
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private append(entry: unknown): void {
    fs.writeSync(this.fd, `${JSON.stringify(entry)}\n`);
    fs.fsyncSync(this.fd);
    this.lines++;
  }

  private load(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const lines = text.split('\n');
    const last = lines.length - 1; // after the final "\n" comes "" (or a line cut short)
    lines.forEach((line, i) => {
      if (line === '') return;
      this.lines++;
      let entry: unknown;
      try {
        entry = JSON.parse(line);
      } catch {
        this.problems.push(`line ${i + 1}: ${i === last ? 'cut short (a crash while writing); ignored' : 'not JSON; ignored'}`);
        return;
      }
      if (isObject(entry) && isObject(entry.begin) && typeof entry.begin.id === 'string') {
        const command = entry.begin as unknown as AgentCommand;
        if (!this.done.has(command.id)) this.running.set(command.id, command);
      } else if (isObject(entry) && typeof entry.finish === 'string' && isObject(entry.outcome) && typeof entry.outcome.status === 'string') {
        this.running.delete(entry.finish);
        this.done.delete(entry.finish);
        this.done.set(entry.finish, entry.outcome as unknown as CommandOutcome);
      } else if (isObject(entry) && typeof entry.abandon === 'string') {
        this.running.delete(entry.abandon);
      } else {
        this.problems.push(`line ${i + 1}: not a journal entry; ignored`);
      }
    });
    // A line cut short must not glue itself to the next append.
    if (text.length > 0 && !text.endsWith('\n')) fs.appendFileSync(this.file, '\n');
  }

  private compact(): void {
    const keep = [...this.done.entries()].slice(-this.keepFinished);
    const at = new Date().toISOString();
    const content = [
      ...[...this.running.values()].map((command) => JSON.stringify({ begin: command, at })),
      ...keep.map(([id, outcome]) => JSON.stringify({ finish: id, outcome, at })),
    ].map((l) => `${l}\n`).join('');
    fs.closeSync(this.fd);
    writeFileDurably(this.file, content);
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.done.clear();
    for (const [id, outcome] of keep) this.done.set(id, outcome);
    this.lines = this.running.size + keep.length;
  }
}
