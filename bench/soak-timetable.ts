/** What the soak does to its stack, and when (seconds after the rollout is triggered). */
export interface Fault {
  atSeconds: number;
  kind: 'kill-workers-share' | 'kill-all-workers' | 'restart-temporal' | 'restart-postgres' | 'kill-agent-process';
}

/** How often a quarter of the workers is killed, from the first period on. */
export const WORKER_SHARE_PERIOD_SECONDS = 30;

/**
 * The faulty run's timetable: kill -9 a quarter of the workers (at least one) every 30 s and all of
 * them once, restart the Temporal dev server once and PostgreSQL once, kill -9 an agent process once
 * (and start it again). Early and dense, so a CI-sized rollout of a few minutes meets every one of them;
 * faults due after the rollout has finished are reported as skipped. (The proxy's dropped answers and
 * the agent killed after acknowledging a reboot run throughout, outside this table.) The soak passes
 * its drain deadline as the horizon, so the share kills last as long as the rollout does.
 */
export function faultTimetable(horizonSeconds = 600): Fault[] {
  const faults: Fault[] = [
    { atSeconds: 10, kind: 'kill-agent-process' },
    { atSeconds: 40, kind: 'restart-temporal' },
    { atSeconds: 50, kind: 'kill-all-workers' },
    { atSeconds: 70, kind: 'restart-postgres' },
  ];
  for (let t = WORKER_SHARE_PERIOD_SECONDS; t <= horizonSeconds; t += WORKER_SHARE_PERIOD_SECONDS) faults.push({ atSeconds: t, kind: 'kill-workers-share' });
  return faults.sort((a, b) => a.atSeconds - b.atSeconds);
}

/** The timetable for the log: the one-off faults by time, the share kills as one line (a long run has hundreds). */
export function describeTimetable(faults: Fault[]): string {
  const shares = faults.filter((f) => f.kind === 'kill-workers-share');
  const oneOff = faults.filter((f) => f.kind !== 'kill-workers-share').map((f) => `${f.atSeconds} ${f.kind}`);
  if (shares.length === 0) return oneOff.join('; ');
  const last = shares[shares.length - 1]!.atSeconds;
  return [...oneOff, `kill-workers-share every ${WORKER_SHARE_PERIOD_SECONDS} s from ${shares[0]!.atSeconds} s to ${last} s or the end of the rollout`].join('; ');
}

/**
 * The faults a run met, for the report: each one-off fault on its own line, in the order they ran, and
 * the share kills (one every 30 s, 173 in a 10,000-device run) as one line with their count and span.
 */
export function summarizeFaultsDone(done: string[]): string[] {
  const shareAt = done.map((f) => /^kill-workers-share at (\d+) s$/.exec(f)?.[1]).filter((t): t is string => t !== undefined).map(Number);
  const others = done.filter((f) => !/^kill-workers-share at \d+ s$/.test(f));
  if (shareAt.length === 0) return others;
  const span = shareAt.length === 1 ? `at ${shareAt[0]} s` : `from ${Math.min(...shareAt)} s to ${Math.max(...shareAt)} s`;
  return [...others, `kill-workers-share ${shareAt.length}× (${span})`];
}
