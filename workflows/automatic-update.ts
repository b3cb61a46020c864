import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  executeChild,
  isCancellation,
  patched,
  startChild,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import type { RolloutActivities } from '../activities';
import { distributionOffsetMs } from '../domain/distribution-window';
import { nextWindowStart } from '../domain/maintenance-window';
import { PatchStatus } from '../domain/patch-status';
import { localSlot, tally, type DeviceRunOutcome } from '../domain/rollout-tally';
import {
  EMPTY_COUNTS,
  autoHaltReason,
  haltRolloutSignal,
  resumeRolloutSignal,
  rolloutProgressQuery,
  type FleetHaltState,
  type HaltedKb,
  type RolloutCarry,
  type RolloutHalt,
  type RolloutCounts,
  type RolloutDevice,
  type RolloutInput,
  type RolloutProgress,
  type RolloutResult,
} from './automatic-update.contract';
import { INSTALL_WORKFLOW_TYPE, haltInstallSignal, installWorkflowId, type DeviceInstallInput, type InstallResult } from './install.contract';
import { SCAN_WORKFLOW_TYPE, scanWorkflowId, type PatchScanInput } from './scan.contract';
import { deviceSearchAttributes } from './search-attributes';
import { BOOKKEEPING_RETRY } from './retry-policies';
import type { deviceInstallWorkflow } from './device-install';

/**
 * patched() marker: the rollout lists its devices into PostgreSQL and reads them a page per run,
 * instead of carrying the whole list in its payloads (issue 15: past about 5,000 devices a rollout
 * failed on Temporal's payload limits).
 */
export const ROLLOUT_DEVICE_PAGES_PATCH = 'rollout-device-pages';

const rollouts = proxyLocalActivities<RolloutActivities>({
  startToCloseTimeout: '1 minute',
  retry: BOOKKEEPING_RETRY,
});

/**
 * For rollouts started before their input carried these values (their histories are replayed): the
 * values that code used, frozen here. New rollouts get theirs in the input (ROLLOUT_DEFAULTS, written
 * at start), so a change of default never reaches a running rollout. Never change these.
 */
const STARTED_WITHOUT = { devicesPerRun: 1000, failureCap: 5, offlineGraceSeconds: 1800 } as const;

/** Set by Temporal on workflows a Schedule starts: the time the run was scheduled for. */
const ScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', SearchAttributeType.DATETIME);

/** The failure type inside a child's failure chain, if any (DeviceBusy, DeviceOffline...). */
function failureType(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure && e.type) return e.type;
  }
  return undefined;
}

/**
 * One run of an Automatic Update (or scan) schedule over its scope: resolves the devices at run time,
 * starts each at its own deterministic moment inside the distribution window, never holds more than
 * `maxConcurrentDevices` open, and adds up what happened. Each device's run is a child workflow
 * (deviceInstallWorkflow with the schedule's reboot action and maintenance window, or
 * patchScanWorkflow), so the Web UI shows the rollout and, one click down, every device.
 */
export async function automaticUpdateWorkflow(input: RolloutInput): Promise<RolloutResult> {
  const info = workflowInfo();
  const carried = input.carried;
  const scheduledAt = carried?.scheduledAt
    ?? (info.typedSearchAttributes.get(ScheduledStartTime) ?? info.startTime).toISOString();
  const slot = localSlot(new Date(scheduledAt), input.timezone);
  const slotKey = slot.replace(/[^0-9]/g, '');
  let counts: RolloutCounts = carried?.counts ?? { ...EMPTY_COUNTS };
  const progress = { started: 0, inFlight: 0, waiting: 0 };
  const runs = (carried?.runs ?? 0) + 1;
  // The kill switch and the automatic halt (issue 14). Rollouts started before it replay without.
  const haltable = patched('rollout-halt');
  let halted: RolloutHalt | undefined = carried?.halted;
  const haltedKbs = new Map<string, HaltedKb>((carried?.haltedKbs ?? []).map((k) => [k.kb, k]));
  let autoHaltOff = carried?.autoHaltOff ?? false;
  /** running install children, by workflow id: the halt is forwarded to them */
  const runningInstalls = new Map<string, { signal: (def: typeof haltInstallSignal, arg: { reason: string; by: string; kb?: string }) => Promise<void> }>();
  const forwards: Promise<unknown>[] = [];
  const forward = (h: { reason: string; by: string; kb?: string }) => {
    for (const child of runningInstalls.values()) forwards.push(child.signal(haltInstallSignal, h).catch(() => undefined));
  };
  const haltWith = (h: { reason: string; by: string; kb?: string }) => {
    if (h.kb) {
      if (!haltedKbs.has(h.kb)) haltedKbs.set(h.kb, { kb: h.kb, reason: h.reason, by: h.by });
    } else {
      halted = { by: h.by === 'automatic' ? 'automatic' : 'operator', reason: h.reason, actor: h.by, at: new Date().toISOString() };
    }
    forward(h);
    setCurrentDetails(summary());
  };
  const haltView = () => (haltable ? { ...(halted ? { halted } : {}), ...(haltedKbs.size ? { haltedKbs: [...haltedKbs.values()].sort((a, b) => a.kb.localeCompare(b.kb)) } : {}) } : {});
  setHandler(rolloutProgressQuery, (): RolloutProgress => ({
    scheduleName: input.scheduleName, kind: input.kind, scheduledAt, ...progress, counts, runs, ...haltView(),
  }));
  if (haltable) {
    setHandler(haltRolloutSignal, (h) => haltWith(h));
    setHandler(resumeRolloutSignal, ({ kb, fleet }) => {
      if (kb) haltedKbs.delete(kb);
      else if (halted && !(fleet && halted.by === 'automatic')) {
        if (halted.by === 'automatic') autoHaltOff = true;
        halted = undefined;
      }
      setCurrentDetails(summary());
    });
  }
  /** The fleet halt state (kill switch) in force now: read at start and before each batch. */
  const applyFleetHalt = (state: FleetHaltState) => {
    if (state.all && !halted) haltWith({ reason: state.all.reason, by: state.all.by });
    for (const k of state.kbs) if (!haltedKbs.has(k.kb)) haltWith({ reason: k.reason, by: k.by, kb: k.kb });
  };
  const checkAutoHalt = () => {
    if (!haltable || !input.autoHalt || autoHaltOff || halted) return;
    const finished = counts.done + counts.failed;
    if (finished >= input.autoHalt.minFinished && finished > 0 && counts.failed / finished > input.autoHalt.failureRate) {
      const reason = autoHaltReason(counts.failed, finished, input.autoHalt.failureRate);
      haltWith({ reason, by: 'automatic' });
      // Recorded and audited like an operator's halt, so GET /halt lists it and an operator can resume
      // it. Not cancellable: a cancellation right after the halt still leaves the record. Rollouts that
      // halted themselves before this replay without it.
      if (patched('rollout-auto-halt-audit')) {
        forwards.push(CancellationScope.nonCancellable(() => rollouts.recordAutoHalt({
          workflowId: info.workflowId, scheduleId: input.scheduleId, scheduleName: input.scheduleName,
          reason, failed: counts.failed, finished, failureRate: input.autoHalt!.failureRate,
        })));
      }
    }
  };

  if (!carried) {
    const fresh = await rollouts.beginRollout({
      workflowId: info.workflowId, scheduleId: input.scheduleId, kind: input.kind, localSlot: slot, scheduledAt,
    });
    if (!fresh) {
      setCurrentDetails(`skipped: ${input.scheduleName} already ran at ${slot} (${input.timezone})`);
      return { outcome: 'skipped_duplicate_local_date', localSlot: slot, counts, runs };
    }
  }
  if (haltable) applyFleetHalt(await rollouts.readFleetHalt());
  const perRun = input.devicesPerRun ?? Math.max(STARTED_WITHOUT.devicesPerRun, input.maxConcurrentDevices);
  const { batch, next } = await thisRunsDevices();
  if (!carried) counts = { ...counts, devices: next.total };

  const windowMs = input.distributionWindowMinutes * 60_000;
  const start = new Date(scheduledAt).getTime();
  const planned = batch
    .map((d) => ({ d, at: start + distributionOffsetMs(`${input.scheduleId}/${slot}`, d.deviceId, windowMs) }))
    .sort((a, b) => a.at - b.at || a.d.deviceId.localeCompare(b.d.deviceId));
  progress.waiting = planned.length;

  function summary(): string {
    const halt = halted ? `HALTED (${halted.by === 'automatic' ? 'automatic' : `by ${halted.actor ?? 'operator'}`}: ${halted.reason}); ` : '';
    const kbs = haltedKbs.size ? `halted KBs ${[...haltedKbs.keys()].sort().join(', ')}; ` : '';
    return halt + kbs + plainSummary();
  }
  function plainSummary(): string {
    return `**${input.scheduleName}** (${input.kind === 'scan' ? 'scan' : 'Automatic Update'}, ${slot} ${input.timezone}): `
      + `${counts.done} done, ${counts.failed} failed, ${counts.offline} offline, ${counts.busy} busy, `
      + `${counts.rebootPending} reboot pending; ${counts.patchesInstalled} patches installed, ${counts.patchesFailed} failed `
      + `(${progress.inFlight} running, ${progress.waiting} waiting)`;
  }
  setCurrentDetails(summary());

  const running: Promise<void>[] = [];
  let endedHalted = false;
  try {
    for (const { d, at } of planned) {
      const wait = at - new Date().getTime();
      if (wait > 0) await sleep(wait);
      if (input.maintenanceWindow) {
        // A device waiting for the maintenance window must not hold a concurrency slot meanwhile (that
        // would hold back every later device by up to a day): wait here, then take a slot.
        const opens = nextWindowStart(input.maintenanceWindow, new Date(), input.timezone).getTime() - new Date().getTime();
        if (opens > 0) await sleep(opens);
      }
      // While halted no device starts: the rollout waits here for resume (or its cancellation).
      await condition(() => progress.inFlight < input.maxConcurrentDevices && !halted);
      progress.waiting -= 1;
      progress.inFlight += 1;
      progress.started += 1;
      running.push(runDevice(d).then((outcome) => {
        counts = tally(counts, outcome);
        progress.inFlight -= 1;
        checkAutoHalt();
        setCurrentDetails(summary());
      }));
    }
  } catch (err) {
    // Cancelled while halted: the devices not yet started never start; the rollout ends halted.
    if (!(haltable && halted && isCancellation(err))) throw err;
    endedHalted = true;
  }
  await Promise.all(running);
  if (endedHalted) {
    await CancellationScope.nonCancellable(async () => {
      await Promise.all(forwards);
      await rollouts.finishRollout({ workflowId: info.workflowId, counts });
    });
    setCurrentDetails(summary());
    return { outcome: 'halted', localSlot: slot, counts, runs, ...haltView() };
  }
  await Promise.all(forwards);

  if (next.more) {
    // Bounded history: the next run of this workflow carries on with the remaining devices.
    await condition(allHandlersFinished);
    await continueAsNew<typeof automaticUpdateWorkflow>({
      ...input,
      carried: {
        ...next.carry, counts, startedAt: carried?.startedAt ?? info.startTime.toISOString(), scheduledAt, runs,
        ...(haltable ? { ...haltView(), ...(autoHaltOff ? { autoHaltOff } : {}) } : {}),
      },
    });
  }
  await rollouts.finishRollout({ workflowId: info.workflowId, counts });
  setCurrentDetails(summary());
  return { outcome: 'completed', localSlot: slot, counts, runs, ...haltView() };

  /**
   * This run's devices and where the next run goes on. A rollout lists its devices once into
   * PostgreSQL and reads a page per run, so its payloads stay small at any fleet size (one that
   * carried a whole list in an activity result and the continue-as-new input failed past about
   * 5,000 devices on Temporal's 2 MiB payload limit). Rollouts started before that replay as they ran.
   */
  async function thisRunsDevices(): Promise<{ batch: RolloutDevice[]; next: { more: boolean; total: number; carry: Pick<RolloutCarry, 'remaining' | 'listed'> } }> {
    if (carried?.remaining) {
      const rest = carried.remaining.slice(perRun);
      return { batch: carried.remaining.slice(0, perRun), next: { more: rest.length > 0, total: carried.remaining.length, carry: { remaining: rest } } };
    }
    let listed = carried?.listed;
    if (!listed) {
      if (!patched(ROLLOUT_DEVICE_PAGES_PATCH)) {
        const devices = await rollouts.resolveRolloutDevices(input.scope);
        const rest = devices.slice(perRun);
        return { batch: devices.slice(0, perRun), next: { more: rest.length > 0, total: devices.length, carry: { remaining: rest } } };
      }
      listed = { offset: 0, total: (await rollouts.listRolloutDevices({ workflowId: info.workflowId, scope: input.scope })).total };
    }
    const page = listed.offset < listed.total
      ? await rollouts.rolloutDevicePage({ workflowId: info.workflowId, offset: listed.offset, limit: perRun })
      : [];
    const offset = listed.offset + page.length;
    return { batch: page, next: { more: offset < listed.total && page.length > 0, total: listed.total, carry: { listed: { offset, total: listed.total } } } };
  }

  async function runDevice(d: RolloutDevice): Promise<DeviceRunOutcome> {
    const offlineAfterSeconds = input.offlineAfterSeconds ?? input.distributionWindowMinutes * 60 + STARTED_WITHOUT.offlineGraceSeconds;
    const labels = { id: d.deviceId, name: d.deviceName, clientId: d.clientId, siteId: d.siteId };
    try {
      if (input.kind === 'scan') {
        const scanInput: PatchScanInput = {
          deviceId: d.deviceId, deviceName: d.deviceName, clientName: d.clientName, siteName: d.siteName,
          reason: `schedule ${input.scheduleName}`, offlineAfterSeconds,
          retryInitialSeconds: input.installTiming?.retryInitialSeconds, retryMaxSeconds: input.installTiming?.retryMaxSeconds,
          scanTimeoutSeconds: input.installTiming?.commandTimeoutSeconds?.scan,
        };
        await executeChild(SCAN_WORKFLOW_TYPE, {
          workflowId: scanWorkflowId(d.deviceId, `sched-${input.scheduleId.slice(0, 8)}-${slotKey}`),
          args: [scanInput],
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
          staticSummary: `Scheduled scan (${input.scheduleName}) of ${d.deviceName} · ${d.clientName} / ${d.siteName}`,
          typedSearchAttributes: deviceSearchAttributes(labels, 'scan'),
        });
        return { kind: 'done', installed: 0, failed: 0, rebootPending: false };
      }
      const installInput: DeviceInstallInput = {
        deviceId: d.deviceId, deviceName: d.deviceName, clientId: d.clientId, clientName: d.clientName,
        siteId: d.siteId, siteName: d.siteName, rebootAllowed: true,
        workingFolder: d.workingFolder, installFolder: d.installFolder,
        requestedBy: `schedule:${input.scheduleId}`, timing: input.installTiming,
        // A per-patch schedule: the same child, with its KBs (no new command, so old histories replay).
        ...(input.kbs ? { kbs: input.kbs } : {}),
        // The schedule's health check: also no new command unless the schedule has one.
        ...(input.healthCheck ? { healthCheck: input.healthCheck } : {}),
        automatic: {
          timezone: input.timezone, rebootAction: input.rebootAction, maintenanceWindow: input.maintenanceWindow,
          offlineAfterSeconds, failureCap: input.failureCap ?? STARTED_WITHOUT.failureCap,
          // only the deferral action reads it (deadline and grace): other installs' input is as before
          ...(input.rebootAction.action === 'ask_user_allow_deferrals' && d.lastSeenAt ? { lastSeenAt: d.lastSeenAt } : {}),
        },
      };
      const childOptions = {
        workflowId: installWorkflowId(d.deviceId, `au-${input.scheduleId.slice(0, 8)}-${slotKey}`),
        args: [installInput] as [DeviceInstallInput],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `Automatic Update (${input.scheduleName}) of ${d.deviceName} · ${d.clientName} / ${d.siteName}`,
        typedSearchAttributes: deviceSearchAttributes(labels, 'automatic-update'),
      };
      let result: InstallResult;
      if (haltable) {
        // Started, then awaited (the same commands as executeChild), so a halt can reach it while it runs.
        const child = await startChild<typeof deviceInstallWorkflow>(INSTALL_WORKFLOW_TYPE, childOptions);
        runningInstalls.set(childOptions.workflowId, child);
        try {
          // A KB halted before this device started: the install leaves it out (the halt signal with kb).
          for (const k of [...haltedKbs.values()].sort((a, b) => a.kb.localeCompare(b.kb))) {
            await child.signal(haltInstallSignal, k);
          }
          result = await child.result();
        } finally {
          runningInstalls.delete(childOptions.workflowId);
        }
      } else {
        result = (await executeChild(INSTALL_WORKFLOW_TYPE, childOptions)) as InstallResult;
      }
      if (result.outcome === 'offline') return offline(d);
      const installed = result.patches.filter((p) => p.status === PatchStatus.Installed || p.status === PatchStatus.RebootRequired).length;
      const failed = result.patches.filter((p) => p.status === PatchStatus.Failed || (p.status === PatchStatus.Pending && p.error)).length;
      const rebootPending = result.patches.some((p) => p.status === PatchStatus.RebootRequired);
      // A failed health check is a failure of the device (rolled back, or left needing attention).
      if (result.healthCheck?.healthy === false) return { kind: 'failed', installed, failed, rebootPending, healthCheckFailed: true, rolledBack: result.rolledBack?.length ?? 0 };
      return { kind: failed > 0 ? 'failed' : 'done', installed, failed, rebootPending };
    } catch (err) {
      if (isCancellation(err) && !(err instanceof ChildWorkflowFailure)) throw err;
      const type = failureType(err);
      if (type === 'DeviceBusy') return { kind: 'busy' };
      if (type === 'DeviceOffline') return offline(d);
      return { kind: 'failed', installed: 0, failed: 0, rebootPending: false };
    }
  }

  async function offline(d: RolloutDevice): Promise<DeviceRunOutcome> {
    if (input.missedRun === 'run_on_check_in') await rollouts.recordMissedRun({ deviceId: d.deviceId, scheduleId: input.scheduleId });
    return { kind: 'offline' };
  }
}
