import fs from 'node:fs';
import path from 'node:path';

/**
 * CPU ticks (1/100 s) of a process and each of its descendants so far, by pid, from /proc (Linux; empty
 * elsewhere): each one's user + system time and that of its children it has reaped. So a child that
 * ended (a PostgreSQL backend whose connection closed, a restarted cluster worker) still counts, in its
 * parent's figure, instead of dropping out of the tree's sum.
 */
export function treeCpuTicks(rootPid: number): Map<number, number> {
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return new Map();
  }
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const e of entries) {
    try {
      const text = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      // The command name may hold spaces and parentheses: the fields start after the last ')'.
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // utime, stime, cutime, cstime (proc(5) fields 14-17)
      stats.set(Number(e), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) });
    } catch {
      // gone meanwhile
    }
  }
  const ticks = new Map<number, number>();
  const todo = [rootPid];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    const s = stats.get(pid);
    if (!s) continue;
    ticks.set(pid, s.ticks);
    for (const [child, c] of stats) if (c.ppid === pid) todo.push(child);
  }
  return ticks;
}

/**
 * CPU seconds a process tree used between two `treeCpuTicks` readings: processes that started since
 * count in full; one that ended since counts in its parent's reaped time (a parent outside the tree, or
 * one that never waits for it, loses it).
 */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) ticks += t - (before.get(pid) ?? 0);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** The embedded PostgreSQL's postmaster pid (the first line of postmaster.pid in its data folder), if running. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
