import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { describeSchemaError } from '../../domain/wua-schemas';

/**
 * What the Windows executor remembers beside the command journal, across agent restarts and machine
 * restarts: update-loop counts (a loop spans restarts by nature), what it installed in the current boot
 * (so its own pending restart does not block the next patch of the run), the reboots it asked for (so a
 * re-delivery after the restart is answered, never rebooted again) and the last scan's installed state.
 */
const stateSchema = z.object({
  version: z.literal(1),
  loops: z.record(z.string(), z.object({ successes: z.number().int().min(0), comebacks: z.number().int().min(0), awaitingScan: z.boolean() })),
  /** update ids this agent installed (or installed pending a restart) since `bootId` */
  installedThisBoot: z.object({ bootId: z.string(), updateIds: z.array(z.string()) }),
  /** reboot command id → the boot it was acknowledged from, and the delay it asked shutdown.exe for */
  reboots: z.record(z.string(), z.object({ fromBootId: z.string(), delaySeconds: z.number().int().min(0) })),
  /** the last scan: which updates were installed, and which wait for a restart */
  lastScan: z.object({ bootId: z.string(), installed: z.array(z.string()), rebootRequired: z.array(z.string()) }).nullable(),
});
export type ExecutorState = z.infer<typeof stateSchema>;

export const emptyExecutorState = (): ExecutorState => ({
  version: 1, loops: {}, installedThisBoot: { bootId: '', updateIds: [] }, reboots: {}, lastScan: null,
});

export interface ExecutorStateStore {
  load(): Promise<ExecutorState>;
  save(state: ExecutorState): Promise<void>;
}

/** For tests: the state lives as long as the object. */
export class MemoryExecutorStateStore implements ExecutorStateStore {
  private state = emptyExecutorState();
  async load(): Promise<ExecutorState> {
    return structuredClone(this.state);
  }
  async save(state: ExecutorState): Promise<void> {
    this.state = structuredClone(state);
  }
}

/**
 * A JSON file in the agent's state folder, replaced atomically (write, then rename) so a crash leaves
 * the old state or the new one, never half of one. A file that does not parse stops the agent naming
 * the problem: guessing at loop counts could install a looping update forever.
 */
export class FileExecutorStateStore implements ExecutorStateStore {
  constructor(private readonly file: string) {}

  async load(): Promise<ExecutorState> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyExecutorState();
      throw err;
    }
    const parsed = stateSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new Error(`${this.file} is not a Windows executor state file: ${describeSchemaError(parsed.error)}`);
    return parsed.data;
  }

  async save(state: ExecutorState): Promise<void> {
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
    await rename(tmp, this.file);
  }
}
