/**
 * What the agent loop (agent/agent-runner.ts) needs from the machine it runs on. The simulator, the
 * Linux (apt/dpkg) executor and the Windows Update executor each implement it; the loop itself (trust,
 * polling, posting outcomes, backoff) is the same for all three.
 *
 * The contract every executor keeps:
 * - `handle` runs one admitted command (signature, device, expiry and sequence were checked before it
 *   is called) and never throws for a device failure: it answers a `CommandOutcome`.
 * - A command id with a final outcome is answered from the journal and nothing runs again, across a
 *   restart of the agent or of the machine (the journal is on disk for real executors).
 * - A command that was running when the agent died is re-checked against the machine's real state
 *   before anything runs again (for an install: ask the package manager whether it is installed).
 * - Nothing from the server is ever passed to a shell: arguments go to the program as an array.
 */
import type { AgentCommand, CommandOutcome } from '../domain/device-protocol';
import type { AskToStart } from './execute-patches';

export interface ExecutorHandleOptions {
  /** called while a long step (download, execute) runs */
  onProgress?: (progress: { message: string; percent?: number }) => void;
  /** the agent stops: a step in progress ends as a retryable failure, never half-applied */
  signal?: AbortSignal;
  /**
   * The Patchflow cache file source: GET /agent/v1/files/:sha256 with the device's credential (over the
   * gateway's pinned transport). Resolves with a 2xx response; rejects (GatewayError) otherwise. The
   * executor checks the hash of what it reads, whatever the server says it checked.
   */
  cachedFile?: (sha256: string, signal?: AbortSignal) => Promise<Response>;
  /**
   * An execute_patches command's question before each patch (agent/execute-patches.ts): the gateway
   * relays the install's go-ahead. Without it nothing of such a command starts.
   */
  askToStart?: AskToStart;
}

export interface DeviceExecutor {
  /** the machine's name as operators know it (hostname); sent at enrollment */
  readonly name: string;
  /** changes on every boot: how the gateway learns that a reboot really happened */
  readonly bootId: string;
  /** runs one command, answering from the journal when it already has a final outcome */
  handle(command: AgentCommand, options?: ExecutorHandleOptions): Promise<CommandOutcome>;
  /** the journal's final outcome for this command id, if any */
  journalEntry(commandId: string): CommandOutcome | undefined;
  /**
   * Restarts the machine once the gateway has the reboot's acknowledgement. A real executor asks the
   * OS and the process ends with the machine; the simulator waits out its reboot and gets a new boot id.
   */
  restart(signal: AbortSignal): Promise<void>;
}

/**
 * The agent's command journal (agent/command-journal.ts keeps it on disk for real executors): what ran,
 * and how it ended, by command id. It outlives the process and the boot.
 */
export interface CommandJournal {
  /** the final outcome recorded for this command id, if any */
  finished(commandId: string): CommandOutcome | undefined;
  /** durably notes that a command starts running (before anything on the machine changes) */
  begin(command: AgentCommand): Promise<void>;
  /** durably records a command's final outcome; later deliveries are answered from it */
  finish(commandId: string, outcome: CommandOutcome): Promise<void>;
  /** commands that began and never finished: the agent died while they ran (re-check before re-running) */
  interrupted(): AgentCommand[];
}
