/**
 * What a simulated machine is, as opposed to what it does: its updates, its boot id, the files it has
 * staged and its journal, kept in a JSON file (the `stateFile` option) the way a real machine keeps them
 * on disk, so a restarted `npm start` or `patchflow agent --simulate` meets the machines as they were.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CommandOutcome } from '../../domain/device-protocol';
import { randomGuid, type Random } from '../prng';

/** What a simulated machine keeps across a restart of the process that simulates it (the `stateFile`). */
interface PersistedDeviceState {
  format: 'patchflow-simulated-device/1';
  bootId: string;
  /** how many reboots drew a boot id from the seeded stream: a reloaded device never reuses a boot id */
  boots: number;
  installed: string[];
  awaitingReboot: string[];
  rebootPending: boolean;
  journal: [string, CommandOutcome][];
  acknowledgedReboots: [string, string][];
  executions: [string, number][];
  uninstalls: [string, number][];
}

export interface DeviceStateOptions {
  /** the machine's local id, for error messages */
  deviceId: string;
  /** the seeded stream boot ids are drawn from */
  boots: Random;
  /** KBs effective at first start (a state file, when there is one, says otherwise) */
  installed: Iterable<string>;
  /** free space on C: before anything is staged */
  freeDiskBytes: number;
  /** Windows already says a restart is pending */
  rebootPending: boolean;
  stateFile?: string;
}

/** The boot id, updates, journal and staged files of one machine; saved with `save()`. */
export class DeviceState {
  bootId: string;
  readonly installed = new Set<string>();
  readonly awaitingReboot = new Set<string>();
  windowsSaysRebootPending: boolean;
  /** command id → its final outcome */
  readonly journal = new Map<string, CommandOutcome>();
  /** reboot command id → the boot id it was acknowledged from */
  readonly acknowledgedReboots = new Map<string, string>();
  /** KB → how many times its installer really ran */
  readonly executions = new Map<string, number>();
  /** KB → how many times it was really removed */
  readonly uninstalls = new Map<string, number>();
  /** local file → simulated size in bytes: what staging takes from the free disk */
  readonly staged = new Map<string, number>();
  baseFreeDiskBytes: number;

  private readonly deviceId: string;
  private readonly boots: Random;
  private bootsDrawn = 0;
  private readonly stateFile: string | undefined;

  constructor(options: DeviceStateOptions) {
    this.deviceId = options.deviceId;
    this.boots = options.boots;
    this.bootId = randomGuid(this.boots);
    this.baseFreeDiskBytes = options.freeDiskBytes;
    this.windowsSaysRebootPending = options.rebootPending;
    for (const kb of options.installed) this.installed.add(kb);
    this.stateFile = options.stateFile;
    if (this.stateFile) this.load(this.stateFile);
  }

  isRebootPending(): boolean {
    return this.windowsSaysRebootPending || this.awaitingReboot.size > 0;
  }

  /** Installed, or waiting for a restart to be. */
  isInstalledOrPending(kb: string): boolean {
    return this.installed.has(kb) || this.awaitingReboot.has(kb);
  }

  freeDiskBytes(): number {
    let used = 0;
    for (const bytes of this.staged.values()) used += bytes;
    return Math.max(0, this.baseFreeDiskBytes - used);
  }

  /**
   * Windows came back up: a new boot id, what waited for the restart is installed, and every reboot
   * acknowledged before it is journalled as done (a re-delivery is answered "done", never rebooted again).
   */
  restarted(): { previousBootId: string; bootId: string; finished: string[] } {
    const previousBootId = this.bootId;
    this.bootId = randomGuid(this.boots);
    this.bootsDrawn++;
    for (const kb of this.awaitingReboot) this.installed.add(kb);
    const finished = [...this.awaitingReboot];
    this.awaitingReboot.clear();
    this.windowsSaysRebootPending = false;
    for (const [commandId, ackedBootId] of this.acknowledgedReboots) {
      this.journal.set(commandId, { status: 'succeeded', result: { previousBootId: ackedBootId, bootId: this.bootId } });
    }
    this.acknowledgedReboots.clear();
    return { previousBootId, bootId: this.bootId, finished };
  }

  private load(file: string): void {
    let state: PersistedDeviceState;
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as PersistedDeviceState;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new Error(`simulated device ${this.deviceId}: cannot read its state ${file}: ${(err as Error).message}`, { cause: err });
    }
    if (state.format !== 'patchflow-simulated-device/1') throw new Error(`simulated device ${this.deviceId}: ${file} is not a simulated device's state`);
    for (let i = 0; i < state.boots; i++) randomGuid(this.boots);
    this.bootsDrawn = state.boots;
    this.bootId = state.bootId;
    this.installed.clear();
    for (const kb of state.installed) this.installed.add(kb);
    for (const kb of state.awaitingReboot) this.awaitingReboot.add(kb);
    this.windowsSaysRebootPending = state.rebootPending;
    for (const [id, outcome] of state.journal) this.journal.set(id, outcome);
    for (const [id, bootId] of state.acknowledgedReboots) this.acknowledgedReboots.set(id, bootId);
    for (const [kb, n] of state.executions) this.executions.set(kb, n);
    for (const [kb, n] of state.uninstalls) this.uninstalls.set(kb, n);
  }

  /** Writes the state file (temp file, then rename: a crash leaves the old state or the new one). */
  save(): void {
    if (!this.stateFile) return;
    const state: PersistedDeviceState = {
      format: 'patchflow-simulated-device/1',
      bootId: this.bootId,
      boots: this.bootsDrawn,
      installed: [...this.installed],
      awaitingReboot: [...this.awaitingReboot],
      rebootPending: this.windowsSaysRebootPending,
      // The newest 4096 entries: as many as the agent's sequence window remembers.
      journal: [...this.journal.entries()].slice(-4096),
      acknowledgedReboots: [...this.acknowledgedReboots.entries()],
      executions: [...this.executions.entries()],
      uninstalls: [...this.uninstalls.entries()],
    };
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    const temp = `${this.stateFile}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, this.stateFile);
  }
}
