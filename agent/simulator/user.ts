/**
 * The person at the machine, as far as a restart is concerned: logged on or not, and how they answer
 * reboot prompts (scripted answers first, then a habit of postponing `defersReboots` times).
 */
import type { RebootAnswer, SimulatedDeviceOptions } from './options';

export class LoggedOnUser {
  private loggedOn: boolean;
  private readonly answers: RebootAnswer[];
  /** ask_defer questions the user still postpones (options.defersReboots) */
  private postponementsLeft: number;

  constructor(options: Pick<SimulatedDeviceOptions, 'userLoggedOn' | 'rebootAnswers' | 'defersReboots'>) {
    this.loggedOn = options.userLoggedOn ?? false;
    this.answers = [...(options.rebootAnswers ?? [])];
    this.postponementsLeft = options.defersReboots ?? 0;
  }

  isLoggedOn(): boolean {
    return this.loggedOn;
  }
  logsOn(): void {
    this.loggedOn = true;
  }
  logsOff(): void {
    this.loggedOn = false;
  }

  /** Queues more answers to reboot prompts, after those not used yet. */
  queueAnswers(...answers: RebootAnswer[]): void {
    this.answers.push(...answers);
  }
  hasQueuedAnswers(): boolean {
    return this.answers.length > 0;
  }
  /** The next scripted answer to a prompt; once they run out the user does not answer. */
  answerPrompt(): RebootAnswer {
    return this.answers.shift() ?? 'none';
  }
  /** "Restart now, or postpone?" with no scripted answer left: postpone while the habit lasts, then accept. */
  answerByHabit(): 'defer' | 'yes' {
    if (this.postponementsLeft <= 0) return 'yes';
    this.postponementsLeft -= 1;
    return 'defer';
  }
}
