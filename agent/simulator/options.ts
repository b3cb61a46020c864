/**
 * What a simulated Windows machine is told to be (SimulatedDeviceOptions) and what it is asked per
 * command (HandleOptions): the shapes every other module of the simulator reads.
 */
import type { CommandType } from '../../domain/device-protocol';
import type { ServiceStartType } from '../../domain/patch-test';
import type { FolderAcl } from '../../domain/wua-schemas';
import type { DeviceOs } from '../catalog';
import type { ExecutorHandleOptions } from '../executor';

/** The device stops polling for a while: after receiving a matching command, before answering it. */
export interface OfflineSpell {
  /** only after a command of this type (any type when unset) */
  afterCommand?: CommandType;
  /** only after a command about this KB (download, execute, or a copy that includes it) */
  kb?: string;
  durationMs: number;
  /** how many matching commands trigger the spell; default 1 */
  times?: number;
}

export interface SimulatedDeviceOptions {
  /** local identity of the simulated machine (not the server's device id, which enrollment assigns) */
  id: string;
  /** a real local directory; `C:\X\Y` maps to `<sandboxDir>/C/X/Y` */
  sandboxDir: string;
  /** hostname sent at enrollment; default: the id upper-cased */
  name?: string;
  /** default: drawn from the seed */
  os?: DeviceOs;
  /** every random choice derives from it; default: derived from the id */
  seed?: number;
  /** catalog KBs that are not installed; default: a seeded subset of 3–8 applicable updates */
  missingKbs?: string[];
  /** exit codes returned by successive real executions of a KB; 0 (or 3010 for "always reboot" updates) after */
  exitCodes?: Record<string, number[]>;
  /** KBs whose downloads arrive corrupted (truncated) from every file source, so the SHA-256 check refuses them */
  corruptDownloads?: string[];
  /**
   * the site's LAN share (agent/lan-share.ts): a folder every device of the site shares, under the
   * simulator's data directory; unset, the lan-share source fails ("no LAN share") and the next is tried
   */
  lanShareDir?: string;
  /** how long a restart keeps the device away; default 3000 ms */
  rebootDurationMs?: number;
  offline?: OfflineSpell[];
  /** probability (0–1) that a download or an execution fails at random (seeded); default 0 */
  failureRate?: number;
  /** free space on C: before anything is staged; default: drawn from the seed (20–120 GB) */
  freeDiskBytes?: number;
  /** how long an installer runs; default 50 ms */
  executeDurationMs?: number;
  /** how long a download takes; default 20 ms */
  downloadDurationMs?: number;
  /** Windows already says a restart is pending (e.g. from an install outside Patchflow) */
  rebootPending?: boolean;
  /**
   * `{ KB_A: KB_B }`: KB_A is not applicable until KB_B is installed (effective, not waiting for a
   * restart): scans leave it out and executing it answers 0x80240017 (WU_E_NOT_APPLICABLE). Models a
   * patch whose prerequisite arrives in a later cycle, e.g. a cumulative update that Windows reports
   * only once the servicing stack it needs is in. An update already installed is reported as usual.
   * Default: none. `SERVER_2019_PREREQUISITES` (catalog) is the realistic set for Server 2019.
   */
  prerequisites?: Record<string, string>;
  /** clock for timestamps in results and events; default: the system clock */
  now?: () => Date;
  /** a user is logged on (reboot modes warn, skip or ask them); default false: nobody, so every mode restarts at once */
  userLoggedOn?: boolean;
  /**
   * Successive answers the logged-on user gives to reboot prompts: "yes", "no", or "none" (no answer
   * within the prompt's minutes). Each prompt uses one; when they run out the user does not answer.
   */
  rebootAnswers?: RebootAnswer[];
  /**
   * The logged-on user postpones this many `ask_defer` reboot questions (each for the full minutes
   * offered), then accepts the next one: the user of the deferral reboot action, deterministic for
   * tests and the demo. Default 0. Queued `rebootAnswers` are used first ("defer" postpones too).
   */
  defersReboots?: number;
  /** real milliseconds one "minute" of a reboot warning or prompt takes in the simulation; default 10 */
  minuteMs?: number;
  /**
   * Keeps the machine's state (installed updates, updates waiting for a restart, the journal, the boot
   * id) in this JSON file, as a real machine keeps it on disk: a device built again on the same file
   * (a restarted `npm start` or `patchflow agent --simulate`) is the machine as it was, and its options
   * that choose what is missing no longer apply. Unset: the state lives as long as the object.
   */
  stateFile?: string;
  /** the services the machine runs (health checks: services running); default `DEFAULT_SERVICES` */
  services?: string[];
  /**
   * `{ KB: [services] }`: a bad cumulative update. Once KB is installed (effective, after its restart)
   * these services fail to start, so a health check finds them stopped; removing KB heals them.
   */
  breaksServices?: Record<string, string[]>;
  /**
   * KBs in an update loop: the installer reports success, the scan right after agrees, and the scan
   * after that finds the update missing again (a detection rule that never sticks).
   */
  updateLoops?: string[];
  /** exit codes returned by successive real removals of a KB (wusa /uninstall); 0 (3010 if "always reboot") after */
  uninstallExitCodes?: Record<string, number[]>;
  /** what a Patch Test finds on this machine (default: everything an install needs is in order) */
  patchTest?: SimulatedPatchTestState;
}

/**
 * The parts of a machine a Patch Test looks at, each able to fail it (seed 003), deterministically:
 * nothing here is random. Change it with `setPatchTestState` (a technician fixes the machine).
 */
export interface SimulatedPatchTestState {
  /** the agent's Set Credentials account; absent: it runs as System. `valid: false` fails the logon */
  credential?: { account: string; sid: string; valid: boolean };
  /** the working folder is a directory junction to this folder (e.g. `C:\\Windows\\Temp`, a protected one) */
  workingFolderTarget?: string;
  /** the working folder's access rules; default: System and Administrators full control, and the Set Credentials account */
  workingFolderRules?: FolderAcl['rules'];
  /** file sources that do not answer: a patch's URL starting with one of these fails (e.g. `https://catalog.example`) */
  unreachableSources?: string[];
  /** KBs whose file source serves other bytes than the catalog's (the hash check fails) */
  corruptSourceKbs?: string[];
  /** start types of the Windows Update services; those not named are as Windows installs them (`DEFAULT_WU_SERVICES`) */
  services?: Partial<Record<string, ServiceStartType>>;
}

/** What a logged-on user does with a reboot prompt: accept, decline, or ignore it until it times out. */
export type RebootAnswer = 'yes' | 'no' | 'none' | 'defer';

/** What one command is run with: progress, the gateway cache, and a stop signal. */
export interface HandleOptions {
  /** called while a long step (download) runs, e.g. at 50% and 100% */
  onProgress?: (progress: { message: string; percent?: number }) => void;
  /** the Patchflow cache over the gateway, with the device's credential (agent/agent-runner.ts) */
  cachedFile?: ExecutorHandleOptions['cachedFile'];
  /** the agent stops: a reboot warning or prompt in progress ends without restarting (a retryable failure) */
  signal?: AbortSignal;
  /** an execute_patches command's go-ahead before each patch (agent/execute-patches.ts) */
  askToStart?: ExecutorHandleOptions['askToStart'];
}

