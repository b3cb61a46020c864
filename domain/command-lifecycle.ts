/**
 * The lifecycle of a device command (one row of agent_commands), in one table: every statement of
 * db/command-repository.ts that moves a command takes its "from" statuses from here, and the gateway,
 * the deviceCommand activity and the result completer ask this module what a status means, so no SQL
 * clause or handler keeps a list of its own.
 *
 *   pending ──claim──▶ claimed ──acknowledge (reboot)──▶ acknowledged
 *      ▲                  │  ╲                                │
 *      └─────release──────┘   ╲──────────finish──────────────▶ succeeded | failed
 *   record (a new attempt) and re-offer (a reboot that never happened) go back to pending;
 *   withdraw ends anything still waiting on the device (status `cancelled`).
 *
 * Why a claimed command can be claimed again: the poll reply that carried it may have been lost (its
 * lease ran out, or the agent says it restarted). Why a failed command can be finished again or
 * recorded anew: a retryable failure is the device's "not now", and the next attempt asks again.
 */

export const CommandStatus = {
  /** waiting for the device's next poll */
  Pending: 'pending',
  /** handed to a poll; the device has it unless that reply was lost */
  Claimed: 'claimed',
  /** a reboot the device said it is starting: done when the device comes back with a new boot id */
  Acknowledged: 'acknowledged',
  Succeeded: 'succeeded',
  Failed: 'failed',
  /** withdrawn: its install was cancelled or its device retired; no answer is wanted any more */
  Withdrawn: 'cancelled',
} as const;
export type CommandStatus = (typeof CommandStatus)[keyof typeof CommandStatus];

export const COMMAND_STATUSES: readonly CommandStatus[] = Object.values(CommandStatus);

/** What moves a command. */
export const CommandEvent = {
  /** the deviceCommand activity records a new attempt of the step */
  Record: 'record',
  /** a poll takes it (again, when its earlier claim may have been lost) */
  Claim: 'claim',
  /** a poll that could not hand it out gives it back */
  Release: 'release',
  /** the device says it is rebooting */
  Acknowledge: 'acknowledge',
  /** the device's answer is stored (or the server decides one: a reboot proven done or given up) */
  Finish: 'finish',
  /** an acknowledged reboot whose device came back with the same boot id is offered again */
  ReofferReboot: 'reoffer-reboot',
  /** the install is cancelled or the device retired */
  Withdraw: 'withdraw',
} as const;
export type CommandEvent = (typeof CommandEvent)[keyof typeof CommandEvent];

const { Pending, Claimed, Acknowledged, Succeeded, Failed, Withdrawn } = CommandStatus;

/**
 * The table: for each event, the statuses it may start from and those it may lead to. `Record` on a
 * finished or acknowledged row is no transition (the row keeps its status: see `afterRecord`), so
 * those statuses are not among its "from".
 */
export const COMMAND_TRANSITIONS: Readonly<Record<CommandEvent, { from: readonly CommandStatus[]; to: readonly CommandStatus[] }>> = {
  [CommandEvent.Record]: { from: [Pending, Claimed, Failed], to: [Pending] },
  [CommandEvent.Claim]: { from: [Pending, Claimed], to: [Claimed] },
  [CommandEvent.Release]: { from: [Claimed], to: [Pending] },
  [CommandEvent.Acknowledge]: { from: [Pending, Claimed], to: [Acknowledged] },
  [CommandEvent.Finish]: { from: [Pending, Claimed, Acknowledged, Failed], to: [Succeeded, Failed] },
  [CommandEvent.ReofferReboot]: { from: [Acknowledged], to: [Pending] },
  [CommandEvent.Withdraw]: { from: [Pending, Claimed, Acknowledged], to: [Withdrawn] },
};

/** Whether some event moves a command from `from` to `to`. */
export function canTransition(from: CommandStatus, to: CommandStatus): boolean {
  return Object.values(COMMAND_TRANSITIONS).some((t) => t.from.includes(from) && t.to.includes(to));
}

/** Statuses that wait on the device: heartbeated, withdrawable, and the only ones progress applies to. */
export const WAITING_ON_DEVICE: readonly CommandStatus[] = COMMAND_TRANSITIONS[CommandEvent.Withdraw].from;

export const isWaitingOnDevice = (status: CommandStatus): boolean => WAITING_ON_DEVICE.includes(status);

/** Statuses that hold the device's answer, which is owed to Temporal until delivered. */
export const ANSWERED: readonly CommandStatus[] = COMMAND_TRANSITIONS[CommandEvent.Finish].to;

/** A poll can take it: pending, or claimed with a claim that may have been lost (the caller's lease rule). */
export const CLAIMABLE: readonly CommandStatus[] = COMMAND_TRANSITIONS[CommandEvent.Claim].from;

/**
 * What recording a new attempt leaves the row at: a finished answer is kept (the attempt returns it
 * instead of asking again), a permanent failure too, an acknowledged reboot keeps waiting for its new
 * boot id, a withdrawn one stays withdrawn; anything else is offered to the device again.
 */
export function afterRecord(status: CommandStatus, error: { retryable: boolean } | null): CommandStatus {
  if (status === Failed) return error?.retryable ? Pending : Failed;
  return COMMAND_TRANSITIONS[CommandEvent.Record].from.includes(status) ? Pending : status;
}

/**
 * A status list as SQL (`('pending', 'claimed')`), for the repository's statements. The statuses are
 * this module's constants, never input, and a literal list keeps each statement's plan what it was.
 */
export function sqlStatuses(statuses: readonly CommandStatus[]): string {
  for (const s of statuses) if (!/^[a-z]+$/.test(s)) throw new Error(`not a command status: ${s}`);
  return `(${statuses.map((s) => `'${s}'`).join(', ')})`;
}

/** The "from" statuses of an event, as SQL. */
export const sqlFrom = (event: CommandEvent): string => sqlStatuses(COMMAND_TRANSITIONS[event].from);

/**
 * What a check-in with boot id `bootId` says of an acknowledged reboot: a new boot id proves it
 * finished; the same one long after the acknowledgement says the agent died before restarting (the
 * reboot never happened); anything else keeps waiting. The one place this is decided: the gateway's
 * check-in and the deviceCommand activity's retry both ask it.
 */
export function rebootVerdict(
  reboot: { ackedBootId: string | null; acknowledgedSecondsAgo: number },
  bootId: string | undefined | null,
  rebootTimeoutSeconds: number,
): 'finished' | 'never-happened' | 'waiting' {
  if (!bootId || !reboot.ackedBootId) return 'waiting';
  if (bootId !== reboot.ackedBootId) return 'finished';
  return reboot.acknowledgedSecondsAgo > rebootTimeoutSeconds ? 'never-happened' : 'waiting';
}
