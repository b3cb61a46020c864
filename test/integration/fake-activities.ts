/**
 * In-memory stand-ins for every activity the workflows call (same names and signatures as
 * activities/index.ts), for tests on Temporal's time-skipping server: no PostgreSQL, no agents.
 *
 * Every call is logged with the WORKFLOW time it ran at: the activity's scheduled timestamp, which the
 * time-skipping server stamps with its (skipped) clock. Device commands are regular activities, so
 * their times are the server's; the bookkeeping steps are local activities, whose times come from the
 * worker and are logged only for ordering, never asserted on.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DeviceCommandActivities, InstallBookkeepingActivities, ReleaseActivities, RolloutActivities, ScanActivities } from '../../activities';
import type { RingResults } from '../../domain/release-plan';
import type { ApprovalSelection } from '../../activities/install-bookkeeping';
import type { AuditEntry } from '../../db/audit-repository';
import type { PatchStateChange } from '../../db/patch-repository';
import type { ScanSummary } from '../../db/scan-repository';
import {
  Classification,
  RebootBehavior,
  Severity,
  type CommandPayloads,
  type CommandResults,
  type CommandType,
  type ExecutePatchesPayload,
  type GoAhead,
  type PatchExecution,
  type PatchFile,
  type PatchStart,
  type RebootPayload,
  type RebootResult,
  type ScannedUpdate,
  type ScanResult,
} from '../../domain/device-protocol';
import type { AutoHaltRecord, FleetHaltState, RolloutCounts, RolloutDevice, RolloutScope } from '../../workflows/automatic-update.contract';
import { executeGoAheadQuery } from '../../workflows/install.contract';

export interface CallRecord {
  activity: string;
  /** workflow (server) time of this attempt, ms since the epoch */
  atMs: number;
  workflowId: string;
  deviceId?: string;
  /** deviceCommand only */
  type?: CommandType;
  payload?: unknown;
  result?: unknown;
  /** this attempt's start-to-close timeout */
  startToCloseTimeoutMs: number;
  local: boolean;
}

export interface FakeOptions {
  devices: number;
  /** a user is logged on to every device (modes that respect users then skip or decline) */
  userLoggedOn?: boolean;
  /** how a logged-on user answers an `ask` prompt: nobody answers by default */
  userAnswer?: 'yes' | 'no' | 'none';
  /** runs inside each execute (each patch of an execute_patches) before it answers, e.g. to let workflow time pass while an installer runs */
  whileExecuting?: () => Promise<void>;
  /**
   * the go-ahead before each patch of an execute_patches command, as the gateway would relay it
   * (e.g. the install's executeGoAheadQuery at the server's time); default: always go ahead
   */
  goAhead?: (workflowId: string, runId: string, start: PatchStart) => Promise<GoAhead>;
  /**
   * the server's clock inside a step (the time-skipping server's): with `offline`, a patch of an
   * execute_patches command that comes due while the device is away gets no go-ahead (the agent could
   * not ask), and it and the rest are answered not started
   */
  nowMs?: () => Promise<number>;
  /** exit codes the first executes answer, in order (e.g. 1618: Windows Installer busy); 3010 after */
  executeExitCodes?: number[];
  /**
   * devices (by index from 1) on which an installed KB5034763 (the bad cumulative update) stops the
   * Spooler service from starting: a health check finds it stopped until the update is removed
   */
  badUpdateOn?: number[];
  /** a restart never finishes what waited for it (the update is offered again after every restart) */
  updatesNeverStick?: boolean;
  /** exit codes the first uninstalls answer, in order (e.g. 0x80070643: the removal fails); 3010 after */
  uninstallExitCodes?: number[];
  /** devices whose every execute fails (exit code 1603) */
  failingDevices?: (deviceId: string) => boolean;
  /** a release's rings by size: the first N devices are ring 0, the next M ring 1... (default: all in ring 0) */
  ringSizes?: number[];
  /** the fleet halt state readFleetHalt answers (default: no halt) */
  fleetHalt?: () => FleetHaltState;
  /** devices (by index, 1-based) whose every execute fails with exit code 1603, e.g. to fail 10% of a fleet */
  failDevices?: Set<number>;
  /** the logged-on user postpones this many `ask_defer` reboot questions (for the full minutes), then accepts */
  userDefers?: number;
  /**
   * workflow time (ms) during which every device is away: a device command in it fails, and is offered
   * again at `toMs` (the retry Temporal would make once the device polls again)
   */
  offline?: { fromMs: number; toMs: number };
  /** what selection answers as the patches' first offer to the device (ISO), for deadlines */
  availableAt?: string;
  /** the device's last check-in as the rollout lists it (ISO) */
  lastSeenAt?: string;
}

/** The bad cumulative update of `badUpdateOn`. */
export const BAD_UPDATE_ID = '7b9e2f14-3c8d-4a51-b2e6-90f1d4c3a802';

/** Two missing cumulative updates, as WUA reports them (a new boot id per restart). */
export function missingUpdates(installed: boolean): ScannedUpdate[] {
  return [
    {
      updateId: '0e5c5a3a-6f0f-4b0e-9f8e-5d3d1c2b1a01', revision: 200, kb: 'KB5034441',
      title: '2024-01 Security Update for Windows 10 Version 22H2 for x64-based Systems (KB5034441)',
      product: 'Windows 10, version 1903 and later', classification: Classification.SecurityUpdate, severity: Severity.Important,
      publishedAt: '2024-01-09', sizeBytes: 454_031_360,
      sha256: 'a3f1c7d2e4b5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f1',
      downloadUrl: 'https://catalog.s.download.windowsupdate.com/d/msdownload/update/software/secu/2024/01/windows10.0-kb5034441-x64.msu',
      fileName: 'windows10.0-kb5034441-x64.msu', rebootBehavior: RebootBehavior.AlwaysRequiresReboot, installed,
      securityBulletin: null, installType: 'normal', supersededBy: null, uninstallable: true,
    },
    {
      updateId: '7b9e2f14-3c8d-4a51-b2e6-90f1d4c3a802', revision: 1, kb: 'KB5034763',
      title: '2024-02 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5034763)',
      product: 'Windows 10, version 1903 and later', classification: Classification.SecurityUpdate, severity: Severity.Critical,
      publishedAt: '2024-02-13', sizeBytes: 689_963_008,
      sha256: '5c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d',
      downloadUrl: 'https://catalog.s.download.windowsupdate.com/c/msdownload/update/software/secu/2024/02/windows10.0-kb5034763-x64.msu',
      fileName: 'windows10.0-kb5034763-x64.msu', rebootBehavior: RebootBehavior.AlwaysRequiresReboot, installed,
      securityBulletin: null, installType: 'normal', supersededBy: null, uninstallable: true,
    },
  ];
}

export function fakeDevice(i: number): RolloutDevice {
  const n = String(i).padStart(3, '0');
  return {
    deviceId: `00000000-0000-4000-8000-000000000${n}`, deviceName: `WS-${n}`,
    clientId: 'c1', clientName: 'Acme', siteId: 's1', siteName: 'HQ',
    workingFolder: 'C:\\ProgramData\\Patchflow\\work', installFolder: 'C:\\ProgramData\\Patchflow\\install',
  };
}

/**
 * The go-ahead as the gateway relays it (api/command-result-service.ts): the install's own answer to
 * executeGoAheadQuery, at the server's clock (the time-skipping server's, here).
 */
export const goAheadFromInstall = (client: Client, nowMs: () => Promise<number>): NonNullable<FakeOptions['goAhead']> =>
  async (workflowId, runId, start) => client.workflow.getHandle(workflowId, runId).query(executeGoAheadQuery, { ...start, at: new Date(await nowMs()).toISOString() });

/** The KBs whose installer ran, in order (execute, or the executed patches of execute_patches); one device's only when given. */
export function executedKbs(calls: CallRecord[], deviceId?: string): string[] {
  return deviceCommands(calls, deviceId).flatMap((c) => {
    if (c.result === 'offline') return [];
    if (c.type === 'execute') return [(c.payload as { patch: { kb: string } }).patch.kb];
    if (c.type === 'execute_patches') return ((c.result as { patches?: PatchExecution[] } | undefined)?.patches ?? []).filter((p) => p.status === 'executed').map((p) => p.kb);
    return [];
  });
}

/** The device commands in a log of calls, in the order they ran; one device's only when given. */
export const deviceCommands = (calls: CallRecord[], deviceId?: string): CallRecord[] =>
  calls.filter((c) => c.activity === 'deviceCommand' && (deviceId === undefined || c.deviceId === deviceId));

/** The install workflow that ran on a device, by the workflow id its first device command carries. */
export const childOf = (calls: CallRecord[], deviceId: string): string => deviceCommands(calls, deviceId)[0]!.workflowId;

interface DeviceState { bootId: string; bootCount: number; executed: Set<string>; installed: Set<string>; failedKbs: Set<string>; postponed: number }

type AllActivities = DeviceCommandActivities & InstallBookkeepingActivities & ScanActivities & RolloutActivities & ReleaseActivities;

export function createFakeActivities(options: FakeOptions): { activities: AllActivities; calls: CallRecord[]; devices: RolloutDevice[] } {
  const calls: CallRecord[] = [];
  const exitCodes = [...(options.executeExitCodes ?? [])];
  const uninstallCodes = [...(options.uninstallExitCodes ?? [])];
  const devices = Array.from({ length: options.devices }, (_, i) => fakeDevice(i + 1));
  const state = new Map<string, DeviceState>();
  /** a release's ring `index`: the devices after the earlier rings' (FakeOptions.ringSizes) */
  const ringDevices = (index: number): RolloutDevice[] => {
    const sizes = options.ringSizes ?? [devices.length];
    const from = sizes.slice(0, index).reduce((a, b) => a + b, 0);
    return devices.slice(from, from + (sizes[index] ?? 0));
  };
  const deviceState = (id: string): DeviceState => {
    let s = state.get(id);
    if (!s) state.set(id, (s = { bootId: `${id}-boot-0`, bootCount: 0, executed: new Set(), installed: new Set(), failedKbs: new Set(), postponed: 0 }));
    return s;
  };

  /** the device lists rollouts stored (listRolloutDevices), by rollout workflow id */
  const storedLists = new Map<string, RolloutDevice[]>();
  function scopeDevices(scope: RolloutScope): RolloutDevice[] {
    if (options.lastSeenAt) return devices.map((d) => ({ ...d, lastSeenAt: options.lastSeenAt }));
    if (!scope.ring) return devices;
    const only = scope.ring.deviceIds ? new Set(scope.ring.deviceIds) : undefined;
    return ringDevices(scope.ring.index).filter((d) => !only || only.has(d.deviceId));
  }
  function log(activity: string, extra: Partial<CallRecord> = {}): CallRecord {
    const info = Context.current().info;
    const record: CallRecord = {
      activity,
      atMs: info.currentAttemptScheduledTimestampMs ?? info.scheduledTimestampMs,
      workflowId: info.workflowExecution?.workflowId ?? '',
      startToCloseTimeoutMs: info.startToCloseTimeoutMs,
      local: info.isLocal,
      ...extra,
    };
    calls.push(record);
    return record;
  }

  function reboot(deviceId: string, payload: RebootPayload): RebootResult {
    const s = deviceState(deviceId);
    const previousBootId = s.bootId;
    const mode = payload.mode ?? { kind: 'immediate' as const };
    const skip = (reason: NonNullable<RebootResult['skipped']>['reason'], waitedMinutes = 0): RebootResult =>
      ({ previousBootId, bootId: previousBootId, skipped: { reason }, userWasLoggedOn: true, waitedMinutes });
    let waitedMinutes = 0;
    if (options.userLoggedOn) {
      switch (mode.kind) {
        case 'skip_if_user_logged_on':
          return skip('user_logged_on');
        case 'warn':
          waitedMinutes = mode.minutes;
          break;
        case 'ask_every':
          waitedMinutes = mode.minutes; // the user accepts at the second prompt
          break;
        case 'ask_defer':
          if (s.postponed < (options.userDefers ?? 0) && mode.deferralsLeft > 0) {
            s.postponed += 1;
            return { ...skip('user_deferred'), deferredMinutes: mode.minutes };
          }
          break;
        case 'ask':
          if (options.userAnswer === 'no') return skip('user_declined');
          if (options.userAnswer !== 'yes') {
            if (mode.ifNoAnswer === 'do_nothing') return skip('no_answer', mode.minutes);
            waitedMinutes = mode.minutes;
          }
          break;
        default:
          break;
      }
    }
    s.bootCount += 1;
    s.bootId = `${deviceId}-boot-${s.bootCount}`;
    if (!options.updatesNeverStick) for (const u of s.executed) s.installed.add(u);
    s.executed.clear();
    return { previousBootId, bootId: s.bootId, userWasLoggedOn: Boolean(options.userLoggedOn), waitedMinutes };
  }

  function executeOnDevice(deviceId: string, p: PatchFile): CommandResults['execute'] {
    const s = deviceState(deviceId);
    const failing = options.failingDevices?.(deviceId) || options.failDevices?.has(devices.findIndex((d) => d.deviceId === deviceId) + 1);
    const exitCode = failing ? 1603 : exitCodes.shift() ?? 3010;
    if (exitCode === 3010) s.executed.add(p.updateId);
    if (exitCode === 1603) s.failedKbs.add(p.kb);
    else s.failedKbs.delete(p.kb);
    return { kb: p.kb, exitCode, durationMs: 412_000, alreadyInstalled: false };
  }

  /** An execute_patches command as an agent runs it: a go-ahead before each patch, an answer for each. */
  async function executePatches(deviceId: string, payload: ExecutePatchesPayload): Promise<CommandResults['execute_patches']> {
    const info = Context.current().info;
    const patches: PatchExecution[] = [];
    for (let i = 0; i < payload.patches.length; i++) {
      const p = payload.patches[i]!;
      const away = options.offline;
      const now = away && options.nowMs ? await options.nowMs() : undefined;
      if (away && now !== undefined && now >= away.fromMs && now < away.toMs) {
        for (const r of payload.patches.slice(i)) patches.push({ updateId: r.updateId, kb: r.kb, status: 'not_started', reason: 'no_go_ahead', message: 'no go-ahead from the gateway: the device is offline' });
        break;
      }
      const go = options.goAhead ? await options.goAhead(info.workflowExecution!.workflowId, info.workflowExecution!.runId, { updateId: p.updateId, kb: p.kb }) : { proceed: true as const };
      if (!go.proceed) {
        const rest = go.reason === 'kb_halted' ? [p] : payload.patches.slice(i);
        for (const r of rest) patches.push({ updateId: r.updateId, kb: r.kb, status: 'not_started', reason: go.reason, message: go.message });
        if (go.reason === 'kb_halted') continue;
        break;
      }
      if (options.whileExecuting) await options.whileExecuting();
      const r = executeOnDevice(deviceId, p);
      patches.push({ updateId: p.updateId, kb: p.kb, status: 'executed', exitCode: r.exitCode, durationMs: r.durationMs, alreadyInstalled: r.alreadyInstalled });
    }
    return { patches };
  }

  function answer<T extends CommandType>(deviceId: string, type: T, payload: CommandPayloads[T]): CommandResults[T] {
    const s = deviceState(deviceId);
    const executeOne = (p: PatchFile) => executeOnDevice(deviceId, p);
    const results: { [K in Exclude<CommandType, 'trust_keys'>]: () => CommandResults[K] } = {
      scan: (): ScanResult => ({
        bootId: s.bootId,
        // 3010 leaves an update pending until the restart: WUA reports it installed only afterwards.
        updates: missingUpdates(false).map((u) => ({ ...u, installed: s.installed.has(u.updateId) })),
        rebootPending: s.executed.size > 0,
        freeDiskBytes: 48_318_382_080,
        scannedAt: new Date(Context.current().info.currentAttemptScheduledTimestampMs).toISOString(),
      }),
      download: () => {
        const d = payload as CommandPayloads['download'];
        const one = (p: PatchFile) => ({ kb: p.kb, path: `${d.workingFolder}\\${p.fileName}`, sha256: p.sha256, bytes: p.sizeBytes });
        // One patch (installs before the one download command) or all of them.
        return 'patches' in d ? { downloaded: d.patches.map((p) => ({ updateId: p.updateId, ...one(p) })), failed: [] } : one(d.patch);
      },
      copy: () => {
        const c = payload as CommandPayloads['copy'];
        return { copied: c.patches.map((p) => ({ kb: p.kb, path: `${c.installFolder}\\${p.fileName}` })) };
      },
      execute: () => executeOne((payload as CommandPayloads['execute']).patch),
      // answered in deviceCommand (it asks for a go-ahead before each patch)
      execute_patches: () => { throw new Error('execute_patches is answered by executePatches'); },
      reboot: () => reboot(deviceId, payload as RebootPayload),
      cleanup: () => ({ removedFiles: 4, workingFolderEmpty: true, installFolderEmpty: true }),
      uninstall: () => {
        const u = payload as CommandPayloads['uninstall'];
        const exitCode = uninstallCodes.shift() ?? 3010;
        if (exitCode === 3010 || exitCode === 0) {
          s.installed.delete(u.updateId);
          s.executed.delete(u.updateId);
        }
        return { kb: u.kb, exitCode, durationMs: 30_000, notInstalled: false };
      },
      // A healthy machine running as System: every check of a Patch Test passes.
      patch_test: () => {
        const t = payload as CommandPayloads['patch_test'];
        return {
          credential: { kind: 'system' as const }, workingFolder: t.workingFolder,
          workingFolderAcl: { path: t.workingFolder, exists: true, ownerSid: 'S-1-5-18', rules: ['S-1-5-18', 'S-1-5-20'].map((sid) => ({ sid, allow: true, rights: 0x1f01ff, inheritOnly: false })) },
          freeBytes: 48_318_382_080,
          files: t.patches.map((f) => ({ patchId: f.kb, source: f.downloadUrl, expectedSha256: f.sha256, sizeBytes: f.sizeBytes, answered: true, sha256: f.sha256 })),
          services: { wuauserv: 'Manual' as const, msiserver: 'Manual' as const, BITS: 'Automatic' as const, CryptSvc: 'Automatic' as const, TrustedInstaller: 'Manual' as const },
        };
      },
      health_check: () => {
        const c = payload as CommandPayloads['health_check'];
        const index = devices.findIndex((d) => d.deviceId === deviceId) + 1;
        const broken = (options.badUpdateOn ?? []).includes(index) && s.installed.has(BAD_UPDATE_ID);
        const names = c.check.kind === 'services_running' ? c.check.services : c.check.processes;
        const items = names.map((name) => ({ name, ok: !(broken && name === 'Spooler'), state: broken && name === 'Spooler' ? 'stopped' : 'running' }));
        return {
          healthy: items.every((i) => i.ok), items,
          output: items.map((i) => `${i.name}: ${i.state}${i.ok ? '' : ' (expected running)'}`).join('; '),
        };
      },
    };
    if (type === 'trust_keys') throw new Error('fake activities do not rotate keys');
    return results[type as Exclude<CommandType, 'trust_keys'>]() as CommandResults[T];
  }

  const activities: AllActivities = {
    async deviceCommand<T extends CommandType>(deviceId: string, type: T, payload: CommandPayloads[T]): Promise<unknown> {
      const record = log('deviceCommand', { deviceId, type, payload });
      const away = options.offline;
      if (away && record.atMs >= away.fromMs && record.atMs < away.toMs) {
        record.result = 'offline';
        throw ApplicationFailure.create({ type: 'DeviceOffline', message: `${deviceId} is offline`, nextRetryDelay: away.toMs - record.atMs });
      }
      if (type === 'execute' && options.whileExecuting) await options.whileExecuting();
      record.result = type === 'execute_patches' ? await executePatches(deviceId, payload as ExecutePatchesPayload) : answer(deviceId, type, payload);
      return record.result;
    },
    async claimDeviceOperation(args: { deviceId: string; workflowId: string; operation: string }): Promise<void> {
      log('claimDeviceOperation', { deviceId: args.deviceId });
    },
    async releaseDeviceOperation(args: { deviceId: string; workflowId: string }): Promise<void> {
      log('releaseDeviceOperation', { deviceId: args.deviceId });
    },
    async recordScan(deviceId: string, scan: ScanResult): Promise<Record<string, PatchFile>> {
      log('recordScan', { deviceId });
      return Object.fromEntries(scan.updates.map((u) => [u.updateId, {
        updateId: u.updateId, kb: u.kb, fileName: u.fileName, downloadUrl: u.downloadUrl, sizeBytes: u.sizeBytes, sha256: u.sha256,
      }]));
    },
    async recordPatchStates(args: { deviceId: string; workflowId: string; changes: (PatchStateChange & { kb: string })[] }): Promise<void> {
      log('recordPatchStates', { deviceId: args.deviceId, payload: args.changes });
    },
    async selectByApproval(args: { deviceId: string; candidates: string[]; installed: string[]; explicit: boolean; failureCap?: number }): Promise<ApprovalSelection> {
      log('selectByApproval', { deviceId: args.deviceId });
      return {
        attempts: {}, allowed: args.candidates, refused: [], uninstall: [], reprocessed: [],
        ...(options.availableAt ? { availableAt: options.availableAt } : {}),
      };
    },
    // The batched steps log the steps they fold, so a test reads the same calls on either path.
    async recordPreScan(args: { scan: ScanResult; question: { deviceId: string; candidates: string[]; installed: string[]; explicit: boolean; failureCap?: number }; installing?: { workflowId: string } }) {
      const catalog = await activities.recordScan(args.question.deviceId, args.scan);
      const selection = await activities.selectByApproval(args.question);
      if (args.installing) {
        const allowed = new Set(selection.allowed);
        await activities.recordPatchStates({
          deviceId: args.question.deviceId, workflowId: args.installing.workflowId,
          changes: args.scan.updates.filter((u) => args.question.candidates.includes(u.updateId) && allowed.has(u.updateId)).map((u) => ({ updateId: u.updateId, kb: u.kb, status: 'installing' })),
        });
      }
      return { catalog, selection };
    },
    async recordPostScan(args: { deviceId: string; workflowId: string; scan: ScanResult; changes: (PatchStateChange & { kb: string })[] }): Promise<void> {
      await activities.recordScan(args.deviceId, args.scan);
      await activities.recordPatchStates(args);
    },
    async finishInstall(args: { deviceId: string; workflowId: string; changes: (PatchStateChange & { kb: string })[]; release: boolean }): Promise<void> {
      await activities.recordPatchStates(args);
      if (args.release) await activities.releaseDeviceOperation(args);
    },
    async recordRollback(args: { deviceId: string; workflowId: string; changes: (PatchStateChange & { kb: string })[]; needsAttention?: string }): Promise<void> {
      log('recordRollback', { deviceId: args.deviceId, payload: args });
    },
    async withdrawOpenCommands(_args: { workflowId: string }): Promise<number> {
      log('withdrawOpenCommands');
      return 0;
    },
    async queueCleanupForCheckIn(args: { deviceId: string; workflowId: string }): Promise<string[]> {
      log('queueCleanupForCheckIn', { deviceId: args.deviceId });
      return [];
    },
    async audit(entry: AuditEntry): Promise<void> {
      log('audit', { deviceId: entry.deviceId, payload: entry });
    },
    async processDeviceScan(deviceId: string, scan: ScanResult): Promise<ScanSummary> {
      log('processDeviceScan', { deviceId });
      const installed = scan.updates.filter((u) => u.installed).length;
      return {
        changed: true, updatesReported: scan.updates.length, missing: scan.updates.length - installed, installed,
        newKbs: [], revisedKbs: [], unverified: 0, unverifiedKbs: [], rebootPending: scan.rebootPending,
      };
    },
    async scanTargets(deviceIds: string[]) {
      log('scanTargets', { payload: deviceIds });
      return deviceIds.map((id) => ({ id, name: `dev-${id.slice(0, 4)}`, clientId: 'c1', clientName: 'Client', siteId: 's1', siteName: 'Site' }));
    },
    async beginRollout(r: { workflowId: string; scheduleId: string; kind: string; localSlot: string; scheduledAt: string }): Promise<boolean> {
      log('beginRollout', { payload: r });
      return true;
    },
    async resolveRolloutDevices(scope: RolloutScope): Promise<RolloutDevice[]> {
      log('resolveRolloutDevices');
      return scopeDevices(scope);
    },
    async listRolloutDevices(args: { workflowId: string; scope: RolloutScope }): Promise<{ total: number }> {
      log('listRolloutDevices', { payload: args.scope });
      // Like the real one: a retry keeps the first list.
      if (!storedLists.has(args.workflowId)) storedLists.set(args.workflowId, scopeDevices(args.scope));
      return { total: storedLists.get(args.workflowId)!.length };
    },
    async rolloutDevicePage(args: { workflowId: string; offset: number; limit: number }): Promise<RolloutDevice[]> {
      log('rolloutDevicePage', { payload: { offset: args.offset, limit: args.limit } });
      return (storedLists.get(args.workflowId) ?? []).slice(args.offset, args.offset + args.limit);
    },
    async finishRollout(args: { workflowId: string; counts: RolloutCounts }): Promise<void> {
      log('finishRollout', { payload: args.counts });
    },
    async recordAutoHalt(args: AutoHaltRecord): Promise<void> {
      log('recordAutoHalt', { payload: args });
    },
    async readFleetHalt(): Promise<FleetHaltState> {
      log('readFleetHalt');
      return options.fleetHalt?.() ?? { kbs: [] };
    },
    async recordMissedRun(args: { deviceId: string; scheduleId: string }): Promise<void> {
      log('recordMissedRun', { deviceId: args.deviceId });
    },
    // A device succeeded when its installs finished (executed, or installed after the reboot), failed
    // when an execute failed on it, and has no result when nothing ran there.
    async ringResults(args: { scope: RolloutScope; kbs: string[] }): Promise<RingResults> {
      log('ringResults', { payload: args });
      const deviceIds = ringDevices(args.scope.ring?.index ?? 0).map((d) => d.deviceId);
      const r: RingResults = { devices: deviceIds.length, succeeded: 0, failed: 0, failedKbs: [], failedDeviceIds: [], pendingDeviceIds: [] };
      const failedKbs = new Set<string>();
      for (const id of deviceIds) {
        const s = state.get(id);
        const failed = s ? [...s.failedKbs].filter((kb) => args.kbs.includes(kb)) : [];
        if (failed.length > 0) {
          r.failed += 1;
          r.failedDeviceIds.push(id);
          for (const kb of failed) failedKbs.add(kb);
        } else if (s && s.installed.size + s.executed.size > 0) r.succeeded += 1;
        else r.pendingDeviceIds.push(id);
      }
      r.failedKbs = [...failedKbs].sort();
      return r;
    },
    async recordReleaseEvent(args: { workflowId: string; planId: string; cycle: string; ringIndex: number; text: string }): Promise<void> {
      log('recordReleaseEvent', { payload: args });
    },
  };
  return { activities, calls, devices };
}
