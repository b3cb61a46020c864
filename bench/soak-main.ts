import { Command, InvalidArgumentError } from 'commander';
import { soak } from './soak';

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

/** `npm run soak -- --devices N [--workers 3] [--execute-ms 20] [--max-minutes M]`: exits 1 when a check fails (never on a timing). */
const program = new Command('soak')
  .description('an Automatic Update over N devices on separate processes, fault-free then under a timetable of faults; checks nothing was lost or run twice')
  .option('--devices <n>', 'simulated devices', positiveInt, 200)
  .option('--workers <n>', 'worker processes (2–3)', positiveInt, 3)
  .option('--faulty-only', 'skip the fault-free reference run (no drain ratio)')
  .option('--execute-ms <n>', 'how long the simulated installer runs per patch (longer: the rollout lasts through the fault timetable)', positiveInt, 20)
  .option('--max-minutes <n>', 'how long a run may take to drain before it fails (default: 60, or devices/50 when that is more)', positiveInt)
  .action(async (opts: { devices: number; workers: number; faultyOnly?: boolean; executeMs: number; maxMinutes?: number }) => {
    const ok = await soak({ devices: opts.devices, workers: opts.workers, faultyOnly: opts.faultyOnly, executeMs: opts.executeMs, maxMinutes: opts.maxMinutes });
    process.exit(ok ? 0 : 1);
  });
program.parseAsync().catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
