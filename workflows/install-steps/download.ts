/** Step 2: inside the maintenance window, download each patch to the working folder (SHA-256 checked). */
import { isCancellation, setCurrentDetails, sleep } from '@temporalio/workflow';
import { downloadSummary } from '../../domain/file-source';
import { nextWindowStart } from '../../domain/maintenance-window';
import { PatchStatus } from '../../domain/patch-status';
import type { PatchProgress } from '../install.contract';
import { failureText, type InstallRun } from './install-run';

/** The patches that downloaded, in order: the next steps copy and execute only these. */
export async function download(run: InstallRun): Promise<PatchProgress[]> {
  const { input, state } = run;
  const downloaded: PatchProgress[] = [];
  if (state.patches.length === 0) return downloaded;
  // A batched install writes Pending only when it has to wait for the window: else Installing at once.
  if (!run.batched || run.outsideMaintenanceWindow()) await run.record(state.patches.map((p) => run.change(p, PatchStatus.Pending)));
  await waitForMaintenanceWindow(run);
  run.enter('download', `${state.patches.length} patches to ${input.workingFolder}`);
  await run.record(state.patches.map((p) => run.change(p, PatchStatus.Installing)));
  for (const p of state.patches) {
    const halt = run.kbHalt(p);
    if (halt) {
      await run.skipHaltedKb(p, halt);
      continue;
    }
    try {
      const got = await run.command('download', { patch: run.files.get(p.updateId)!, workingFolder: input.workingFolder }, `download ${p.kb}`);
      downloaded.push(p);
      // Not a command: the progress, the result and the Web UI's current details say which source served it.
      if (got?.source) {
        p.download = got.source;
        setCurrentDetails(`**download**: ${downloaded.length} of ${state.patches.length} to ${input.workingFolder}; ${p.kb} ${downloadSummary(got.source)}`);
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      const f = failureText(err);
      // A permanent download failure (e.g. a hash mismatch) fails this patch, never the others.
      await run.record([run.change(p, PatchStatus.Failed, { error: `download refused: ${f.message}`, countFailure: true })]);
    }
  }
  return downloaded;
}

/** Installs start only inside the maintenance window: wait for it on a durable timer. */
async function waitForMaintenanceWindow(run: InstallRun): Promise<void> {
  const auto = run.auto;
  if (!auto?.maintenanceWindow || !run.outsideMaintenanceWindow()) return;
  const start = nextWindowStart(auto.maintenanceWindow, new Date(), auto.timezone);
  run.enter('pre-scan', `waiting for the maintenance window (${start.toISOString()})`);
  await sleep(Math.max(1000, start.getTime() - new Date().getTime()));
}
