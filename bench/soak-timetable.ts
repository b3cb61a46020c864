/** What the soak does to its stack, and when (seconds after the rollout is triggered). */
export interface Fault {
  atSeconds: number;
  kind: 'kill-workers-share' | 'kill-all-workers' | 'restart-temporal' | 'restart-postgres' | 'kill-agent-process';
}

/**
 * The faulty run's timetable: kill -9 a quarter of the workers (at least one) every 30 s and all of
 * them once, restart the Temporal dev server once and PostgreSQL once, kill -9 an agent process once
 * (and start it again). Early and dense, so a CI-sized rollout of a few minutes meets every one of them;
 * faults due after the rollout has finished are reported as skipped. (The proxy's dropped answers and
 * the agent killed after acknowledging a reboot run throughout, outside this table.)
 */
export function faultTimetable(horizonSeconds = 600): Fault[] {
  const faults: Fault[] = [
    { atSeconds: 10, kind: 'kill-agent-process' },
    { atSeconds: 40, kind: 'restart-temporal' },
    { atSeconds: 50, kind: 'kill-all-workers' },
    { atSeconds: 70, kind: 'restart-postgres' },
  ];
  for (let t = 30; t <= horizonSeconds; t += 30) faults.push({ atSeconds: t, kind: 'kill-workers-share' });
  return faults.sort((a, b) => a.atSeconds - b.atSeconds);
}
