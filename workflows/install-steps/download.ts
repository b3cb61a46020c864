/** Step 2: inside the maintenance window, download the patches to the working folder (SHA-256 checked). */
import { isCancellation, patched, setCurrentDetails, sleep } from '@temporalio/workflow';
import type { DownloadPatchesResult, DownloadResult } from '../../domain/device-protocol';
import { downloadSummary } from '../../domain/file-source';
import { nextWindowStart } from '../../domain/maintenance-window';
import { PatchStatus } from '../../domain/patch-status';
import type { PatchProgress } from '../install.contract';
import { ONE_DOWNLOAD_COMMAND_PATCH } from './markers';
import { failureText, type InstallRun } from './install-run';

/** The patches that downloaded, in order: the next steps copy and execute only these. */
export async function download(run: InstallRun): Promise<PatchProgress[]> {
  const { input, state } = run;
  if (state.patches.length === 0) return [];
  // A batched install writes Pending only when it has to wait for the window: else Installing at once
  // (since the batched execute, the pre-scan's bookkeeping wrote it already).
  const waits = !run.batched || run.outsideMaintenanceWindow();
  if (waits) await run.record(state.patches.map((p) => run.change(p, PatchStatus.Pending)));
  await waitForMaintenanceWindow(run);
  run.enter('download', `${state.patches.length} patches to ${input.workingFolder}`);
  if (waits || !run.installingWritten) await run.record(state.patches.map((p) => run.change(p, PatchStatus.Installing)));
  return patched(ONE_DOWNLOAD_COMMAND_PATCH) ? downloadAllAtOnce(run) : downloadOneByOne(run);
}

/** One command for every patch a KB halt has not taken out; the device answers for each patch. */
async function downloadAllAtOnce(run: InstallRun): Promise<PatchProgress[]> {
  const { input, state, timing } = run;
  const wanted: PatchProgress[] = [];
  for (const p of state.patches) {
    const halt = run.kbHalt(p);
    if (halt) await run.skipHaltedKb(p, halt);
    else wanted.push(p);
  }
  if (wanted.length === 0) return [];
  let got: DownloadPatchesResult;
  try {
    got = await run.command('download', { patches: wanted.map((p) => run.files.get(p.updateId)!), workingFolder: input.workingFolder },
      `download ${wanted.length} patches to ${input.workingFolder}`,
      // Each attempt may take as long as one download per patch did.
      { extraSeconds: timing.commandTimeoutSeconds.download * (wanted.length - 1) }) as DownloadPatchesResult;
  } catch (err) {
    if (isCancellation(err)) throw err;
    // The device refused the whole command for good (an unsafe folder...): every patch fails with its reason.
    const { message } = failureText(err);
    await run.record(wanted.map((p) => run.change(p, PatchStatus.Failed, { error: `download refused: ${message}`, countFailure: true })));
    return [];
  }
  const answered = new Map(got.downloaded.map((d) => [d.updateId, d]));
  const refusals = new Map(got.failed.map((f) => [f.updateId, f.error]));
  const downloaded = wanted.filter((p) => answered.has(p.updateId));
  for (const p of downloaded) {
    const source = answered.get(p.updateId)!.source;
    // Not a command: the progress and the result say which source served each file.
    if (source) p.download = source;
  }
  const served = downloaded.filter((p) => p.download).map((p) => `${p.kb} ${downloadSummary(p.download!)}`);
  setCurrentDetails(`**download**: ${downloaded.length} of ${state.patches.length} to ${input.workingFolder}${served.length ? `; ${served.join('; ')}` : ''}`);
  // A permanent download failure (e.g. a hash mismatch) fails that patch, never the others; a patch the
  // device did not answer for is not believed downloaded.
  const failed = wanted.filter((p) => !answered.has(p.updateId));
  if (failed.length > 0) {
    await run.record(failed.map((p) => {
      const error = refusals.get(p.updateId);
      return run.change(p, PatchStatus.Failed, {
        error: `download refused: ${error ? error.message : 'the device did not report this patch downloaded'}`, countFailure: true,
      });
    }));
  }
  return downloaded;
}

/** Installs before the one download command: a download command per patch. */
async function downloadOneByOne(run: InstallRun): Promise<PatchProgress[]> {
  const { input, state } = run;
  const downloaded: PatchProgress[] = [];
  for (const p of state.patches) {
    const halt = run.kbHalt(p);
    if (halt) {
      await run.skipHaltedKb(p, halt);
      continue;
    }
    try {
      const got = await run.command('download', { patch: run.files.get(p.updateId)!, workingFolder: input.workingFolder }, `download ${p.kb}`) as DownloadResult;
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
