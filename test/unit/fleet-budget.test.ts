import { checkGatewayBudget, FDS_PER_AGENT, FDS_RESERVED_PER_PROCESS, FleetBudgetError, openFileLimit, planFleet, proxyProcesses } from '../../agent/fleet-budget';
import { describeTimetable, faultTimetable, summarizeFaultsDone } from '../../bench/soak-timetable';
import { soakDrainMinutes } from '../../bench/soak';

describe('fleet file-descriptor budget', () => {
  test.each([
    // devices, fdLimit, processes, minProcesses → shares
    [10, 20000, undefined, 1, [10]],
    [10_000, 20000, undefined, 2, [5000, 5000]],
    [10_000, 4096, undefined, 1, [1264, 1262, 1262, 1262, 1262, 1262, 1262, 1262].length],
    [5, 20000, 3, undefined, [2, 2, 1]],
    [2, 20000, undefined, 8, [1, 1]],
  ])('%i agents under ulimit -n %i (processes %s, at least %s)', (devices, fdLimit, processes, minProcesses, expected) => {
    const plan = planFleet({ devices, fdLimit, processes, minProcesses });
    if (typeof expected === 'number') expect(plan.shares).toHaveLength(expected);
    else expect(plan.shares).toEqual(expected);
    expect(plan.shares.reduce((a, b) => a + b, 0)).toBe(devices);
    for (const share of plan.shares) expect(share * FDS_PER_AGENT + FDS_RESERVED_PER_PROCESS).toBeLessThanOrEqual(fdLimit);
  });

  test('too few processes for the fleet: the error names ulimit -n and how many processes would do', () => {
    expect(() => planFleet({ devices: 10_000, fdLimit: 1024, processes: 2 })).toThrow(FleetBudgetError);
    expect(() => planFleet({ devices: 10_000, fdLimit: 1024, processes: 2 })).toThrow(/ulimit -n is 1024 .* use 34 processes or raise ulimit -n/);
  });

  test('a limit too small for one agent names ulimit -n', () => {
    expect(() => planFleet({ devices: 1, fdLimit: 100 })).toThrow(/open-file limit \(ulimit -n\) is 100/);
  });

  test('the gateway side: one socket per polling agent must fit in its own limit', () => {
    expect(() => checkGatewayBudget(10_000, 20_000)).not.toThrow();
    expect(() => checkGatewayBudget(20_000, 20_000)).toThrow(/ulimit -n is 20000: raise it/);
    expect(() => checkGatewayBudget(20_000, undefined)).not.toThrow();
  });

  test('reads the soft limit from /proc/self/limits', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                524288               files\n';
    expect(openFileLimit(text)).toBe(20000);
    expect(openFileLimit('Max open files            unlimited            unlimited            files\n')).toBe(Number.MAX_SAFE_INTEGER);
    expect(openFileLimit('nothing here')).toBeUndefined();
  });
});

describe('the soak proxy\'s processes', () => {
  test('one process while the agents\' two descriptors each fit in four fifths of the limit, more past that', () => {
    expect(proxyProcesses(500, 20_000)).toBe(1);
    expect(proxyProcesses(7_936, 20_000)).toBe(1);
    // The 10,000-device soak's proxy died of EMFILE in one process at ulimit -n 20,000.
    expect(proxyProcesses(10_000, 20_000)).toBe(2);
    expect(proxyProcesses(10_000, 1024)).toBe(29);
    expect(() => proxyProcesses(10, 100)).toThrow(/ulimit -n/);
  });
});

describe('soak fault timetable', () => {
  test('every fault kind once or more, a quarter of the workers every 30 s, in time order', () => {
    const t = faultTimetable(120);
    expect(t.map((f) => `${f.atSeconds} ${f.kind}`)).toEqual([
      '10 kill-agent-process', '30 kill-workers-share', '40 restart-temporal', '50 kill-all-workers',
      '60 kill-workers-share', '70 restart-postgres', '90 kill-workers-share', '120 kill-workers-share',
    ]);
  });

  test('the log names the one-off faults by time and the share kills as one period to the horizon', () => {
    expect(describeTimetable(faultTimetable(7200))).toBe(
      '10 kill-agent-process; 40 restart-temporal; 50 kill-all-workers; 70 restart-postgres; kill-workers-share every 30 s from 30 s to 7200 s or the end of the rollout',
    );
    expect(describeTimetable(faultTimetable(20))).toBe('10 kill-agent-process; 40 restart-temporal; 50 kill-all-workers; 70 restart-postgres');
  });

  test('the report lists each one-off fault and the share kills as one line', () => {
    expect(summarizeFaultsDone(['kill-agent-process at 10 s', 'kill-workers-share at 30 s', 'restart-temporal at 40 s', 'kill-workers-share at 60 s', 'kill-workers-share at 90 s']))
      .toEqual(['kill-agent-process at 10 s', 'restart-temporal at 40 s', 'kill-workers-share 3× (from 30 s to 90 s)']);
    expect(summarizeFaultsDone(['kill-workers-share at 30 s', 'restart-postgres at 70 s skipped: the rollout had finished']))
      .toEqual(['restart-postgres at 70 s skipped: the rollout had finished', 'kill-workers-share 1× (at 30 s)']);
    expect(summarizeFaultsDone([])).toEqual([]);
  });

  test('the drain deadline is an hour, longer for fleets this machine drains slower than that', () => {
    expect(soakDrainMinutes(500)).toBe(60);
    expect(soakDrainMinutes(3000)).toBe(60);
    expect(soakDrainMinutes(10_000)).toBe(200);
  });
});
