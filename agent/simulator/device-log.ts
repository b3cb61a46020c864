/** The simulated machine's own log (tests and demos read it) and the shape of a refusal. */
import type { AgentCommand, CommandError, CommandOutcome } from '../../domain/device-protocol';

/** One line of the device's own log, for tests and demos. */
export interface DeviceEvent {
  at: string;
  commandId?: string;
  /**
   * a command type, or "reboot-completed", "reboot-warning", "reboot-prompt", "reboot-skipped",
   * "offline", "online", "journal-hit"
   */
  type: string;
  kb?: string;
  detail: string;
}

/** Our own code for a command whose payload could never work (a file name with a path in it). */
export const INVALID_PAYLOAD = 'InvalidPayload';

/** Why a command was refused, and about which KB (the KB goes to the log, not to the answer). */
export interface Refusal extends CommandError {
  kb?: string;
}

export class DeviceLog {
  readonly events: DeviceEvent[] = [];

  constructor(private readonly now: () => Date) {}

  record(event: Omit<DeviceEvent, 'at'>): void {
    this.events.push({ at: this.now().toISOString(), ...event });
  }

  /** Logs the refusal and answers it as a failed command. */
  refuse(command: AgentCommand, { code, message, retryable, kb }: Refusal): CommandOutcome {
    const error: CommandError = { code, message, retryable };
    this.record({ commandId: command.id, type: command.type, kb, detail: `${code}: ${message}` });
    return { status: 'failed', error };
  }
}
