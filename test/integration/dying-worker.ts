/**
 * A worker process that dies the moment it takes a device step, before the step records its command
 * (issue 16: the worker killed between taking a device step and recording it). Everything else runs
 * as in the real worker. Spawned by test/integration/recovery.test.ts; configured by environment:
 * DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE, PATCHFLOW_WORKFLOW_BUNDLE, COMMAND_SIGNING_KEY_PATH.
 */
import fs from 'node:fs';
import os from 'node:os';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createActivities } from '../../activities';
import { keyringFromPem } from '../../config/command-keys';
import { createPool } from '../../db/database';
import { connectClient } from '../../worker/temporal-connection';

async function main(): Promise<void> {
  const env = (name: string): string => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is required`);
    return v;
  };
  const log = pino({ level: 'silent' });
  const db = createPool(env('DATABASE_URL'));
  const settings = { TEMPORAL_NAMESPACE: 'default', TEMPORAL_TLS: false } as const;
  const client = await connectClient(env('TEMPORAL_ADDRESS'), settings);
  const commandKeys = keyringFromPem(fs.readFileSync(env('COMMAND_SIGNING_KEY_PATH'), 'utf8'));
  const activities = createActivities({ db, client, log, commandKeys, reportsDir: os.tmpdir() });
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: env('TEMPORAL_ADDRESS') }),
    namespace: 'default',
    taskQueue: env('TEMPORAL_TASK_QUEUE'),
    workflowBundle: { codePath: env('PATCHFLOW_WORKFLOW_BUNDLE') },
    activities: {
      ...activities,
      // Taken, never recorded: the process is gone before the command reaches PostgreSQL.
      deviceCommand: async () => { process.kill(process.pid, 'SIGKILL'); await new Promise(() => undefined); },
    },
  });
  await worker.run();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
