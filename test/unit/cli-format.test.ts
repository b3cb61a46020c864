import type { InstallView } from '../../api/install-service';
import { deviceTypeOf, osFor, simName } from '../../cli/simulate';
import {
  formatDate, formatExitCode, formatLastResult, parseDeviceName, parseDeviceType, parseInstallKey, parseIntOption, parseKbs,
  parsePatchStatus, parseUuid, renderFields, renderTable, truncate, UsageError,
} from '../../cli/format';
import { devicePatchesTable, installText } from '../../cli/views';

describe('renderTable', () => {
  it('aligns every column to its widest cell, two spaces apart, without trailing spaces', () => {
    const out = renderTable(['KB', 'STATUS', 'CODE'], [
      ['KB5034441', 'installed', 0],
      ['KB890830', 'failed', '0x80070643'],
    ]);
    expect(out.split('\n')).toEqual([
      'KB         STATUS     CODE',
      'KB5034441  installed  0',
      'KB890830   failed     0x80070643',
    ]);
  });

  it("shows '-' for empty cells and keeps the header when there are no rows", () => {
    expect(renderTable(['A', 'B'], [[null, undefined], ['', 'x']]).split('\n')).toEqual(['A  B', '-  -', '-  x']);
    expect(renderTable(['ID', 'NAME'], [])).toBe('ID  NAME');
  });

  it('pads labels of field lists', () => {
    expect(renderFields([['ID', 'a'], ['Last check-in', null]])).toBe('ID             a\nLast check-in  -');
  });
});

describe('truncate', () => {
  it('cuts long text with an ellipsis and leaves short text alone', () => {
    expect(truncate('2024-01 Cumulative Update for Windows 11', 12)).toBe('2024-01 Cum…');
    expect(truncate('short', 12)).toBe('short');
    expect(truncate(null, 5)).toBe('');
    expect(truncate('abcdef', 6)).toBe('abcdef');
  });
});

describe('formatDate', () => {
  it('prints UTC to the second, and - when absent', () => {
    expect(formatDate('2024-05-01T12:34:56.789Z')).toBe('2024-05-01 12:34:56 UTC');
    expect(formatDate('2024-05-01T14:34:56+02:00')).toBe('2024-05-01 12:34:56 UTC');
    expect(formatDate(null)).toBe('-');
    expect(formatDate(undefined)).toBe('-');
  });
  it('passes through text that is not a date', () => {
    expect(formatDate('soon')).toBe('soon');
  });
});

describe('formatExitCode', () => {
  it('prints small codes in decimal and HRESULT-sized codes as 0x-hex', () => {
    expect(formatExitCode(0)).toBe('0');
    expect(formatExitCode(3010)).toBe('3010');
    expect(formatExitCode(0xffff)).toBe('65535');
    expect(formatExitCode(0x80070643)).toBe('0x80070643');
    expect(formatExitCode(0x00240006)).toBe('0x00240006');
  });
  it('reads a signed HRESULT as unsigned', () => {
    expect(formatExitCode(-2147023293)).toBe('0x80070643'); // 0x80070643 | 0
  });
  it("prints '-' when there is no code", () => {
    expect(formatExitCode(null)).toBe('-');
    expect(formatExitCode(undefined)).toBe('-');
  });
  it('combines code and error for the last result column', () => {
    expect(formatLastResult(0x80070643, 'Fatal error during installation.')).toBe('0x80070643 Fatal error during installation.');
    expect(formatLastResult(null, 'download hash mismatch')).toBe('download hash mismatch');
    expect(formatLastResult(0, null)).toBe('0');
    expect(formatLastResult(null, null)).toBe('-');
  });
});

describe('argument checks', () => {
  it('accepts KBs in any case, space or comma separated, and de-duplicates them', () => {
    expect(parseKbs(['kb5034441', 'KB890830,KB5034441'])).toEqual(['KB5034441', 'KB890830']);
  });
  it('refuses KBs that are not KB + 6 to 8 digits, naming them', () => {
    expect(() => parseKbs(['KB12345'])).toThrow(/not a KB number: KB12345/);
    expect(() => parseKbs(['5034441'])).toThrow(UsageError);
    expect(() => parseKbs(['KB123456789'])).toThrow(UsageError);
    expect(() => parseKbs([','])).toThrow(/at least one KB/);
  });
  it('checks device types', () => {
    expect(parseDeviceType('Server')).toBe('server');
    expect(parseDeviceType('workstation')).toBe('workstation');
    expect(() => parseDeviceType('laptop')).toThrow(/server or workstation/);
  });
  it('checks UUIDs and lower-cases them', () => {
    expect(parseUuid('7F0C8D6E-1111-4222-8333-444455556666', 'device id')).toBe('7f0c8d6e-1111-4222-8333-444455556666');
    expect(() => parseUuid('SIM-001', 'device id')).toThrow(/device id must be a UUID/);
  });
  it('checks patch statuses, accepting the spoken forms', () => {
    expect(parsePatchStatus('missing')).toBe('missing');
    expect(parsePatchStatus('Reboot Required')).toBe('reboot_required');
    expect(parsePatchStatus('reboot-required')).toBe('reboot_required');
    expect(() => parsePatchStatus('done')).toThrow(/must be one of missing, pending/);
  });
  it('checks install keys and device names like the API does', () => {
    expect(parseInstallKey('lx3k9a-0f1e2d')).toBe('lx3k9a-0f1e2d');
    expect(() => parseInstallKey('install/abc')).toThrow(UsageError);
    expect(parseDeviceName(' SRV-01 ')).toBe('SRV-01');
    expect(() => parseDeviceName('-bad')).toThrow(/host name/);
    expect(() => parseDeviceName('a'.repeat(64))).toThrow(UsageError);
  });
  it('checks integer options against their range', () => {
    expect(parseIntOption('3', '--simulate', 1, 500)).toBe(3);
    expect(() => parseIntOption('0', '--simulate', 1, 500)).toThrow(/from 1 to 500/);
    expect(() => parseIntOption('2.5', '--poll-wait', 1, 120)).toThrow(UsageError);
    expect(() => parseIntOption('ten', '--seed', 0, 10)).toThrow(UsageError);
  });
});

describe('simulated fleet naming', () => {
  it('names devices SIM-001… and mixes Windows kinds by type', () => {
    expect(simName(1)).toBe('SIM-001');
    expect(simName(42)).toBe('SIM-042');
    expect([0, 1, 2, 3].map((i) => osFor(i))).toEqual(['server2022', 'win11', 'server2019', 'win10']);
    expect([0, 1, 2].map((i) => osFor(i, 'server'))).toEqual(['server2022', 'server2019', 'server2022']);
    expect([0, 1].map((i) => osFor(i, 'workstation'))).toEqual(['win11', 'win10']);
    expect(deviceTypeOf('server2019')).toBe('server');
    expect(deviceTypeOf('win10')).toBe('workstation');
  });
});

describe('views', () => {
  it('renders a device patch list with truncated titles and hex exit codes', () => {
    const out = devicePatchesTable([{
      updateId: 'u1', kb: 'KB5034441', title: '2024-01 Security Update for Windows Recovery Environment (very long title)',
      product: 'Windows 10', classification: 'Security Updates', severity: 'Important', status: 'failed',
      statusChangedAt: '2024-01-10T00:00:00Z', installedAt: null, lastExitCode: 0x80070643, lastError: 'Fatal error during installation.',
      failedAttempts: 1, lastOperationId: null, rolledBackAt: null, loopComebacks: 0,
    }]);
    const [head, row] = out.split('\n');
    expect(head).toMatch(/^KB\s+TITLE\s+CLASSIFICATION\s+STATUS\s+INSTALLED\s+LAST RESULT$/);
    expect(row).toContain('…');
    expect(row).toMatch(/failed\s+-\s+0x80070643 Fatal error/);
  });

  it('renders a finished install with its outcome, cleanup and patches', () => {
    const view: InstallView = {
      workflowId: 'install/d/k', status: 'COMPLETED', startedAt: '2024-05-01T12:00:00Z', closedAt: '2024-05-01T12:03:00Z', failure: null,
      progress: null,
      result: {
        step: 'done', outcome: 'partially_failed', skippedKbs: ['KB890830'], cancelRequested: false, rebooted: true,
        cleanup: { removedFiles: 3, workingFolderEmpty: true, installFolderEmpty: true },
        patches: [
          { updateId: 'a', kb: 'KB5034441', title: 'Update A', status: 'installed', exitCode: 3010 },
          { updateId: 'b', kb: 'KB5034439', title: 'Update B', status: 'failed', exitCode: 0x80070643, error: 'Fatal error during installation.' },
        ],
      },
    };
    const out = installText(view);
    expect(out).toMatch(/^Install\s+install\/d\/k$/m);
    expect(out).toMatch(/^Outcome\s+partially_failed$/m);
    expect(out).toMatch(/^Rebooted\s+yes$/m);
    expect(out).toMatch(/^Skipped\s+KB890830/m);
    expect(out).toMatch(/^Cleanup\s+3 file\(s\) removed/m);
    expect(out).toMatch(/^KB5034439\s+Update B\s+failed\s+0x80070643\s+Fatal error/m);
  });

  it('renders a health check that failed, what it rolled back and what needs attention', () => {
    const out = installText({
      workflowId: 'install/d/k', status: 'COMPLETED', startedAt: '2024-05-01T12:00:00Z', closedAt: '2024-05-01T12:30:00Z', failure: null, progress: null,
      result: {
        step: 'done', outcome: 'failed', skippedKbs: [], cancelRequested: false, rebooted: true, cleanup: null,
        patches: [{ updateId: 'a', kb: 'KB5035857', title: 'CU', status: 'failed', error: 'rolled back: health check failed: Spooler: stopped (expected running)' }],
        healthCheck: { check: 'services running: Spooler', healthy: false, output: 'Spooler: stopped (expected running)', afterRollback: { healthy: false, output: 'Spooler: stopped (expected running)' } },
        rolledBack: ['KB5035857'], needsAttention: 'health check failed (Spooler: stopped (expected running)); still unhealthy after the rollback',
      },
    });
    expect(out).toMatch(/^Health check\s+services running: Spooler: FAILED: Spooler: stopped \(expected running\)$/m);
    expect(out).toMatch(/^After rollback\s+still failing: Spooler: stopped/m);
    expect(out).toMatch(/^Rolled back\s+KB5035857$/m);
    expect(out).toMatch(/^Needs attention\s+health check failed/m);
  });

  it('renders a failed workflow without progress', () => {
    const out = installText({
      workflowId: 'install/d/k', status: 'TERMINATED', startedAt: '2024-05-01T12:00:00Z', closedAt: null, progress: null, result: null, failure: 'Terminated',
    });
    expect(out).toMatch(/^Failure\s+Terminated$/m);
    expect(out).not.toMatch(/^KB/m);
  });
});

import { initialUpdateText } from '../../cli/views';

describe('initial update view', () => {
  test('shows cycle, step, what is left, what needs attention, and an offline device', () => {
    const text = initialUpdateText({
      workflowId: 'initial-update/d1', status: 'RUNNING', startedAt: '', closedAt: null, historyLength: 120,
      progress: {
        cycle: 4, step: 'install', currentGroup: 'os_security', remaining: ['KB5035845'], installed: ['KB5031539'],
        failed: [{ updateId: 'u', kb: 'KB5033909', attempts: 5, needsAttention: true, lastError: '0x80070643 ERROR_INSTALL_FAILURE' }],
        reboots: 2, runs: 1, startedAt: '', cancelRequested: false,
      },
      result: null, failure: null,
      device: { lastCheckInAt: '2026-11-23T10:00:00.000Z', online: false, waitingForDeviceSince: '2026-11-23T10:00:00.000Z' },
    });
    expect(text).toContain('cycle 4, install (os_security); 2 reboots');
    expect(text).toContain('remaining: KB5035845');
    expect(text).toContain('failed KB5033909: 5 attempts (needs attention)');
    expect(text).toContain('waiting for the device since 2026-11-23T10:00:00.000Z');
  });
});

import { rolloutsText, schedulesText } from '../../cli/views';

describe('schedule and rollout views', () => {
  test('a schedule shows when it runs, its scope, reboot action and next runs', () => {
    const text = schedulesText([{
      id: 's1', name: 'Weekly AU', kind: 'automatic_update', scopeType: 'client', scopeId: 'c1', paused: true,
      timing: { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'Europe/London' }, distributionWindowMinutes: 60,
      maintenanceWindow: null, rebootAction: { action: 'skip_if_user_logged_on' }, missedRun: 'run_on_check_in', missedRunReboot: false, maxConcurrentDevices: 200,
      createdAt: '', updatedAt: '', description: 'Every Wednesday at 02:00 Europe/London', maintenanceWindowText: null,
      rebootActionText: 'Skip reboot if user logged in', temporalScheduleId: 'patchflow-schedule-s1',
      nextRunTimes: ['2026-11-25T02:00:00.000Z'], recentRuns: [],
    }]);
    expect(text).toContain('Weekly AU  (automatic_update, PAUSED)');
    expect(text).toContain('Every Wednesday at 02:00 Europe/London; distribution window 60 min');
    expect(text).toContain('scope:  client:c1; reboot: Skip reboot if user logged in; missed run: run_on_check_in (no reboot)');
    expect(text).toContain('next:   2026-11-25T02:00:00.000Z');
  });
  test('a finished rollout shows its counts; a running one says so', () => {
    const text = rolloutsText([
      { workflowId: 'automatic-update/s1-2026-11-25T02:00:00Z', scheduleId: 's1', kind: 'automatic_update', localSlot: '2026-11-25 02:00',
        scheduledAt: null, startedAt: '2026-11-25T02:00:01.000Z', finishedAt: '2026-11-25T02:30:00.000Z',
        counts: { devices: 50, done: 40, failed: 4, offline: 5, busy: 1, rebootPending: 0, patchesInstalled: 84, patchesFailed: 4 } },
      { workflowId: 'w2', scheduleId: 's1', kind: 'automatic_update', localSlot: null, scheduledAt: null, startedAt: 'x', finishedAt: null, counts: {} },
    ]);
    expect(text).toContain('50 devices: 40 done, 4 failed, 5 offline, 1 busy, 0 reboot pending; 84 patches installed, 4 failed');
    expect(text).toContain('running');
  });
});
