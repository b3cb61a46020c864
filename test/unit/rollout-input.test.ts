import { catchupWindowOf, rolloutInputOf } from '../../api/schedule-service';
import { createScheduleSchema } from '../../api/schedule-schemas';
import type { ScheduleRow } from '../../db/schedule-repository';
import { ROLLOUT_DEFAULTS } from '../../workflows/automatic-update.contract';
import { DEFAULT_INSTALL_TIMING } from '../../workflows/install.contract';

const schedule: ScheduleRow = {
  id: '9d3c1c52-1f7e-4f0e-9a57-3f0e4b1f2c11', name: 'Nightly', kind: 'automatic_update', scopeType: 'all', scopeId: '',
  timing: { kind: 'daily', time: '02:00', timezone: 'Europe/London' } as ScheduleRow['timing'],
  distributionWindowMinutes: 90, maintenanceWindow: null, rebootAction: { action: 'reboot_immediately' },
  missedRun: 'skip', missedRunReboot: true, maxConcurrentDevices: 200, paused: false, createdAt: '', updatedAt: '',
};

test("a per-patch schedule's KBs go into its rollouts' input; a policy schedule's input has none", () => {
  expect(rolloutInputOf({ ...schedule, kbs: ['KB890830'] }, {}).kbs).toEqual(['KB890830']);
  expect('kbs' in rolloutInputOf({ ...schedule, kbs: null }, {})).toBe(false);
});

test("a schedule's health check goes into its rollouts' input (automatic updates only); none: no field", () => {
  const healthCheck = { check: { kind: 'services_running' as const, services: ['Spooler'] }, settleSeconds: 60 };
  expect(rolloutInputOf({ ...schedule, healthCheck }, {}).healthCheck).toEqual(healthCheck);
  expect('healthCheck' in rolloutInputOf({ ...schedule, healthCheck: null }, {})).toBe(false);
  expect('healthCheck' in rolloutInputOf({ ...schedule, kind: 'scan', healthCheck }, {})).toBe(false);
});

test('the schedule schema takes a named health check and refuses a script or a scan schedule with one, naming the field', () => {
  const base = { name: 'n', kind: 'automatic_update', scope: { scopeType: 'all' }, timing: { kind: 'daily', time: '02:00', timezone: 'UTC' } };
  const ok = createScheduleSchema.safeParse({ ...base, healthCheck: { check: { kind: 'processes_running', processes: ['nginx'] } } });
  expect(ok.success && ok.data.healthCheck).toEqual({ check: { kind: 'processes_running', processes: ['nginx'] } });
  const script = createScheduleSchema.safeParse({ ...base, healthCheck: { check: { kind: 'script', script: 'x' } } });
  expect(script.success).toBe(false);
  expect(script.error?.issues[0]?.path.slice(0, 2)).toEqual(['healthCheck', 'check']);
  const scan = createScheduleSchema.safeParse({ ...base, kind: 'scan', healthCheck: { check: { kind: 'services_running', services: ['Spooler'] } } });
  expect(scan.error?.issues.map((i) => i.path.join('.'))).toEqual(['healthCheck']);
  const noCheck = createScheduleSchema.safeParse(base);
  expect(noCheck.success && noCheck.data.healthCheck).toBeNull();
});

describe('a rollout starts with every default that shapes its command sequence written into its input', () => {
  test('devices per run, failure cap, offline deadline and the whole install timing are explicit', () => {
    const input = rolloutInputOf(schedule, {});
    expect(input).toMatchObject({
      devicesPerRun: ROLLOUT_DEFAULTS.devicesPerRun,
      failureCap: ROLLOUT_DEFAULTS.failureCap,
      offlineAfterSeconds: 90 * 60 + ROLLOUT_DEFAULTS.offlineGraceSeconds,
    });
    // Every timing field, busy retries included: none is left for the workflow to default.
    expect(input.installTiming).toEqual(DEFAULT_INSTALL_TIMING);
  });

  test('a concurrency above the batch size widens the batch; given timing and offline deadline are kept', () => {
    const input = rolloutInputOf({ ...schedule, maxConcurrentDevices: 1500 }, { installTiming: { busyRetries: 2, commandTimeoutSeconds: { scan: 5 } }, rolloutOfflineAfterSeconds: 30 });
    expect(input.devicesPerRun).toBe(1500);
    expect(input.offlineAfterSeconds).toBe(30);
    expect(input.installTiming).toEqual({
      ...DEFAULT_INSTALL_TIMING, busyRetries: 2, commandTimeoutSeconds: { ...DEFAULT_INSTALL_TIMING.commandTimeoutSeconds, scan: 5 },
    });
  });

  test('"run ASAP" notes offline devices as "run on check-in" does, and catches up a run the Schedule missed for 7 days', () => {
    expect(rolloutInputOf({ ...schedule, missedRun: 'run_asap' }, {}).missedRun).toBe('run_on_check_in');
    expect(rolloutInputOf({ ...schedule, missedRun: 'run_on_check_in' }, {}).missedRun).toBe('run_on_check_in');
    expect(rolloutInputOf(schedule, {}).missedRun).toBe('skip');
    expect(catchupWindowOf({ missedRun: 'run_asap' })).toBe('7 days');
    expect(catchupWindowOf({ missedRun: 'run_on_check_in' })).toBe('1 day');
    expect(catchupWindowOf({ missedRun: 'skip' })).toBe('1 day');
  });
});
