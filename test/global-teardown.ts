import fs from 'node:fs';

/** Stops what test/global-setup.ts started and removes its scratch folder. */
export default async function globalTeardown(): Promise<void> {
  const g = globalThis as Record<string, any>;
  await g.__patchflowTemporal?.stop();
  await g.__patchflowPg?.stop();
  if (g.__patchflowScratch) fs.rmSync(g.__patchflowScratch, { recursive: true, force: true });
}
