import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../config/config';
import { freePort } from '../db/embedded-postgres';
import { startDevStack, type DevStack } from '../dev/stack';
import type { InstallTimingInput } from '../workflows/install.contract';

export const BENCH_API_KEY = 'bench-api-key-0123456789';

/**
 * The whole stack for a benchmark, in this process, on free ports and a scratch data folder: a dev
 * server and embedded PostgreSQL unless TEMPORAL_ADDRESS / DATABASE_URL name existing ones (every
 * figure says which it ran on). `stop()` also removes the scratch folder. `devices`: the fleet size,
 * so the two-person threshold (which holds a larger trigger for a second person) sits above it.
 */
export async function startBenchStack(name: string, installTiming?: InstallTimingInput, devices = 0): Promise<{ stack: DevStack; scratch: string; stop(): Promise<void> }> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `patchflow-${name}-`));
  const config = loadConfig({
    DATA_DIR: scratch, PORT: '0', LOG_LEVEL: 'warn', DEMO_DEVICES: '0',
    // The two-person rule holds a trigger reaching more devices than this (default 500): keep it above the bench's fleet.
    TWO_PERSON_DEVICE_THRESHOLD: String(Math.max(500, devices + 1)),
    TEMPORAL_DEV_PORT: String(await freePort()), TEMPORAL_UI_PORT: String(await freePort()),
    ...(process.env.TEMPORAL_ADDRESS ? { TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS } : {}),
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  } as NodeJS.ProcessEnv);
  const stack = await startDevStack(config, pino({ level: 'warn' }), { apiKey: BENCH_API_KEY, installTiming });
  return {
    stack,
    scratch,
    stop: async () => {
      await stack.stop();
      fs.rmSync(scratch, { recursive: true, force: true });
    },
  };
}
