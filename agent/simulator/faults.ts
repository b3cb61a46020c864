/**
 * The ugly parts a test or the demo asks a machine for, all seeded or scripted so the same options give
 * the same run: offline spells, corrupt downloads, random failures, scripted installer and uninstaller
 * exit codes, update loops, and bad updates that stop services.
 */
import type { CommandType } from '../../domain/device-protocol';
import { normaliseKb } from '../catalog';
import type { Random } from '../prng';
import type { OfflineSpell, SimulatedDeviceOptions } from './options';

type FaultOptions = Pick<SimulatedDeviceOptions,
  'offline' | 'corruptDownloads' | 'failureRate' | 'exitCodes' | 'uninstallExitCodes' | 'updateLoops' | 'breaksServices'>;

/** `{ KB: [codes] }` with the KBs normalised and the codes unsigned, as Windows reports them. */
function codeQueues(codes: Record<string, number[]> | undefined): Map<string, number[]> {
  return new Map(Object.entries(codes ?? {}).map(([kb, list]) => [normaliseKb(kb), list.map((c) => c >>> 0)]));
}

export class Faults {
  private readonly spells: { spell: OfflineSpell; remaining: number }[];
  private readonly corrupt: Set<string>;
  private readonly failureRate: number;
  private readonly exitCodeQueues: Map<string, number[]>;
  private readonly uninstallCodeQueues: Map<string, number[]>;
  private readonly loopingKbs: Set<string>;
  /** a looping KB → scans left that still see it installed */
  private readonly loopScansLeft = new Map<string, number>();
  private readonly breaksServices: Map<string, string[]>;

  /** `failures`: the seeded stream random download and install failures are drawn from */
  constructor(options: FaultOptions, private readonly failures: Random) {
    this.spells = (options.offline ?? []).map((spell) => ({ spell, remaining: spell.times ?? 1 }));
    this.corrupt = new Set((options.corruptDownloads ?? []).map(normaliseKb));
    this.failureRate = options.failureRate ?? 0;
    this.exitCodeQueues = codeQueues(options.exitCodes);
    this.uninstallCodeQueues = codeQueues(options.uninstallExitCodes);
    this.loopingKbs = new Set((options.updateLoops ?? []).map(normaliseKb));
    this.breaksServices = new Map(Object.entries(options.breaksServices ?? {}).map(([kb, names]) => [normaliseKb(kb), names]));
  }

  /**
   * How long to stay away after receiving a command of this type about these KBs, if an offline spell
   * matches it. Each match uses up one of the spell's `times`, so the same options give the same run.
   */
  offlineSpellFor(type: CommandType, kbs: string[]): number | undefined {
    for (const entry of this.spells) {
      const { spell } = entry;
      if (entry.remaining <= 0) continue;
      if (spell.afterCommand && spell.afterCommand !== type) continue;
      if (spell.kb && !kbs.includes(normaliseKb(spell.kb))) continue;
      entry.remaining--;
      return spell.durationMs;
    }
    return undefined;
  }

  /** KBs whose downloads arrive truncated from every file source. */
  corruptDownloads(): ReadonlySet<string> {
    return this.corrupt;
  }

  /** A seeded draw: does this download or execution fail at random? */
  randomFailure(): boolean {
    return this.failureRate > 0 && this.failures() < this.failureRate;
  }

  /** The next scripted exit code of a KB's installer, if any are left. */
  nextExitCode(kb: string): number | undefined {
    return this.exitCodeQueues.get(kb)?.shift();
  }

  /** The next scripted exit code of a KB's removal, if any are left. */
  nextUninstallExitCode(kb: string): number | undefined {
    return this.uninstallCodeQueues.get(kb)?.shift();
  }

  /** The install of a looping KB reported success: the scan after next finds it missing again. */
  installReported(kb: string): void {
    if (this.loopingKbs.has(kb)) this.loopScansLeft.set(kb, 1);
  }

  /** A scan runs: the looping KBs it finds missing again (the caller removes them from the installed set). */
  reofferedAtScan(installed: ReadonlySet<string>): string[] {
    const reoffered: string[] = [];
    for (const [kb, left] of [...this.loopScansLeft]) {
      if (!installed.has(kb)) continue;
      if (left > 0) this.loopScansLeft.set(kb, left - 1);
      else {
        this.loopScansLeft.delete(kb);
        reoffered.push(kb);
      }
    }
    return reoffered;
  }

  /** Services (lower-cased) that do not start because a bad update among these is installed. */
  servicesStoppedBy(installed: ReadonlySet<string>): Set<string> {
    const stopped = new Set<string>();
    for (const [kb, names] of this.breaksServices) if (installed.has(kb)) for (const n of names) stopped.add(n.toLowerCase());
    return stopped;
  }
}
