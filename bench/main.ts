import { Command, InvalidArgumentError, Option } from 'commander';
import { auBench } from './au-bench';
import { gatewayBench } from './gateway-bench';
import { installBench } from './install-bench';
import { openWorkflowsBench } from './open-workflows-bench';
import { reportBench } from './report-bench';
import { resolverBench } from './resolver-bench';
import { statusWritesBench } from './status-writes-bench';
import { whatIfBench } from './what-if-bench';

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

/** `npm run bench -- <name> [options]`: benchmarks that print figures (never timed assertions in tests). */
const program = new Command('bench').description('Patchflow benchmarks');
program
  .command('install', { isDefault: true })
  .description('N devices, one install each, through API, gateway, worker, Temporal and PostgreSQL')
  .option('--devices <n>', 'number of simulated devices', positiveInt, 20)
  .action(async (opts: { devices: number }) => installBench(opts.devices));
program
  .command('au')
  .description('one Automatic Update rollout over N devices, against a no-op baseline on the same Temporal server')
  .option('--devices <n>', 'number of simulated devices', positiveInt, 100)
  .option('--fleet-processes <n>', 'child processes the simulated agents run in (default: one per core, more if ulimit -n needs them)', positiveInt)
  .option('--max-minutes <n>', 'stop the rollout after this long and print the partial figures (marked so)', positiveInt, 20)
  .option('--baseline-devices <n>', 'a smaller bare-Temporal baseline (default: the same N); the ratio compares rates', positiveInt)
  .option('--poll-wait <seconds>', 'the agents\' long-poll wait', positiveInt, 20)
  .addOption(new Option('--shape <shape>', 'split: api/main.ts and worker/main.ts in their own processes, as in production; single: API, gateway and worker in the bench\'s process')
    .choices(['split', 'single']).default('split'))
  .option('--gateway-processes <n>', 'split: api/main.ts\'s GATEWAY_PROCESSES (node:cluster, one port)', positiveInt, 1)
  .option('--workers <n>', 'split: worker/main.ts processes', positiveInt, 1)
  .option('--statements', 'split: run pg_stat_statements on the bench\'s PostgreSQL and print the rollout\'s statements per device')
  .action(async (opts: { devices: number; fleetProcesses?: number; maxMinutes: number; baselineDevices?: number; pollWait: number; shape: 'split' | 'single'; gatewayProcesses: number; workers: number; statements?: boolean }, cmd: Command) => {
    if (opts.shape === 'single' && (opts.gatewayProcesses !== 1 || opts.workers !== 1 || opts.statements)) cmd.error('error: --gateway-processes, --workers and --statements are for --shape split');
    await auBench({
      devices: opts.devices, fleetProcesses: opts.fleetProcesses, maxMinutes: opts.maxMinutes, baselineDevices: opts.baselineDevices, pollWaitSeconds: opts.pollWait,
      shape: opts.shape, gatewayProcesses: opts.gatewayProcesses, workers: opts.workers, statements: opts.statements,
    });
  });
program
  .command('gateway')
  .description('check-ins/s the agent gateway answers: autocannon (in a child process) on 127.0.0.1, a bounded number of requests')
  .option('--devices <n>', 'enrolled devices whose credentials the requests rotate through', positiveInt, 1000)
  .option('--connections <n>', 'concurrent kept-alive HTTPS connections', positiveInt, 50)
  .option('--requests <n>', 'check-ins to send', positiveInt, 50000)
  .option('--max-seconds <n>', 'stop after this long even if not all were sent', positiveInt, 60)
  .option('--gateway-processes <n>', 'send the load to api/main.ts with GATEWAY_PROCESSES=n (node:cluster) instead of the bench process\'s gateway', positiveInt)
  .action(async (opts: { devices: number; connections: number; requests: number; maxSeconds: number; gatewayProcesses?: number }) => gatewayBench(opts));
program
  .command('open-workflows')
  .description('the worker process\'s RSS with N device installs open at once, most holding an execute, some waiting on a device that never polls')
  .option('--workflows <n>', 'device installs open at once (one device each)', positiveInt, 1000)
  .option('--offline-percent <n>', 'share of devices that never poll (their install waits on its pre-scan)', (v) => Number(v), 10)
  .option('--steady-seconds <n>', 'how long to sample once every install waits on its device', positiveInt, 60)
  .option('--max-minutes <n>', 'stop after this long and print the figures marked PARTIAL', positiveInt, 20)
  .option('--worker-node-options <flags>', 'Node flags of the worker process, e.g. "--max-old-space-size=512" (WORKER_* settings come from the environment)')
  .option('--heap-snapshot <dir>', 'write a heap snapshot of each worker thread into <dir> at the end')
  .action(async (opts: { workflows: number; offlinePercent: number; steadySeconds: number; maxMinutes: number; workerNodeOptions?: string; heapSnapshot?: string }) =>
    openWorkflowsBench({ workflows: opts.workflows, offlinePercent: opts.offlinePercent, steadySeconds: opts.steadySeconds, maxMinutes: opts.maxMinutes, workerNodeOptions: opts.workerNodeOptions, heapSnapshotDir: opts.heapSnapshot }));
program
  .command('resolver')
  .description('every (device, patch) approval decision of a seeded fleet, in one resolveFleet pass')
  .option('--devices <n>', 'number of devices', positiveInt, 10000)
  .option('--patches <n>', 'number of patches', positiveInt, 3000)
  .action((opts: { devices: number; patches: number }) => resolverBench(opts.devices, opts.patches));

program
  .command('report')
  .description('the Patch Overview Report as CSV over HTTP against COPY of the same query, on a seeded fleet')
  .option('--devices <n>', 'number of devices', positiveInt, 1000)
  .option('--patches <n>', 'number of patches (rows: devices × patches)', positiveInt, 1000)
  .action(async (opts: { devices: number; patches: number }) => reportBench(opts.devices, opts.patches));

program
  .command('what-if')
  .description('POST /what-if\'s answer (load, resolve, predict, diff) for a proposal on a seeded fleet with an "all devices" schedule')
  .option('--devices <n>', 'number of devices', positiveInt, 10000)
  .option('--patches <n>', 'number of catalog patches', positiveInt, 3000)
  .option('--applicable <percent>', 'share of (device, patch) pairs a device reports', (v) => Number(v), 2)
  .action(async (opts: { devices: number; patches: number; applicable: number }) => whatIfBench(opts.devices, opts.patches, opts.applicable));

program
  .command('status-writes')
  .description('install bookkeeping status writes under a rollout: a transaction per write against group commit, on a seeded database')
  .option('--devices <n>', 'installs (one device each)', positiveInt, 5000)
  .option('--patches <n>', 'patches per install', positiveInt, 3)
  .option('--concurrency <n>', 'installs writing at once (open device workflows)', positiveInt, 1000)
  .action(async (opts: { devices: number; patches: number; concurrency: number }) => statusWritesBench(opts));

program.parseAsync().then(() => process.exit(0)).catch((err) => {
  console.error(err?.stack ?? err);
  process.exit(1);
});
