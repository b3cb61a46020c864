import { acknowledgedReboots, reofferReboot, storeOutcome, type CommandRow } from '../db/command-repository';
import type { CheckIn } from '../db/fleet-repository';
import { rebootVerdict } from '../domain/command-lifecycle';
import { CommandErrorCode, type CommandError, type RebootResult } from '../domain/device-protocol';
import { completeActivity, type CommandCompletionDeps } from './command-completion';
import { runMissedRunsOnCheckIn } from './missed-run-service';
import type { GatewayDeps } from './agent-gateway';

export type CheckInSettlementDeps = CommandCompletionDeps & Pick<GatewayDeps, 'taskQueue' | 'installTiming' | 'stalledReboot'>;

/**
 * What a recorded check-in settles: the Automatic Updates a device back from an offline spell missed,
 * and its acknowledged reboot (a new boot id proves it finished: complete it; the same boot id long
 * after says it never happened).
 */
export async function settleCheckIn(deps: CheckInSettlementDeps, device: { deviceId: string; bootId?: string }, seen: CheckIn): Promise<void> {
  if (seen.hasMissedRuns) {
    await runMissedRunsOnCheckIn(deps, device.deviceId).catch((err) => deps.log.warn({ err, deviceId: device.deviceId }, 'missed run not started'));
  }
  if (!device.bootId || !seen.hasAcknowledgedReboot) return;
  const rebootTimeoutSeconds = deps.stalledReboot?.rebootTimeoutSeconds ?? 1_800;
  for (const row of await acknowledgedReboots(deps.db, device.deviceId)) {
    const verdict = rebootVerdict(row, device.bootId, rebootTimeoutSeconds);
    if (verdict === 'finished') await finishReboot(deps, row, device.bootId);
    else if (verdict === 'never-happened') await offerRebootAgain(deps, row, device.bootId);
  }
}

/** A new boot id proves the acknowledged reboot done: store that and complete its step. */
async function finishReboot(deps: CheckInSettlementDeps, row: CommandRow, bootId: string): Promise<void> {
  const result: RebootResult = { previousBootId: row.ackedBootId!, bootId };
  if (await storeOutcome(deps.db, row.id, { status: 'succeeded', result })) {
    await completeActivity(deps, row, { status: 'succeeded', result });
    deps.log.info({ deviceId: row.deviceId, commandId: row.id, bootId }, 'reboot finished');
  }
}

/**
 * The agent acknowledged a reboot and died before restarting: the device is back with the same boot
 * id, so the reboot never happened. Offered again (a few times), then the step fails saying why.
 */
async function offerRebootAgain(deps: CheckInSettlementDeps, row: CommandRow, bootId: string): Promise<void> {
  const maxOffers = deps.stalledReboot?.maxOffers ?? 3;
  const offer = await reofferReboot(deps.db, row.id, bootId, maxOffers);
  if (offer.outcome === 'reoffered') {
    deps.log.warn({ deviceId: row.deviceId, commandId: row.id, bootId, offers: offer.row.rebootOffers }, 'acknowledged reboot never happened; offered again');
  } else if (offer.outcome === 'given-up') {
    const error: CommandError = {
      code: CommandErrorCode.RebootNotCompleted,
      message: `the device acknowledged the reboot ${maxOffers + 1} times but never restarted (boot id still ${bootId})`,
      retryable: false,
    };
    const stored = await storeOutcome(deps.db, row.id, { status: 'failed', error });
    if (stored) await completeActivity(deps, stored, { status: 'failed', error });
    deps.log.warn({ deviceId: row.deviceId, commandId: row.id, bootId }, 'reboot given up: the device never restarted');
  }
}
