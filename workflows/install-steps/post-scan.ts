/** Step 6: scan again and settle each patch (and each removal) by what the device now reports. */
import { PatchStatus } from '../../domain/patch-status';
import { bookkeeping, type Change, type InstallRun } from './install-run';

export async function postScan(run: InstallRun): Promise<void> {
  const { state, input } = run;
  run.enter('post-scan', 'verifying what was installed');
  const post = run.batched ? { scan: await run.scanDevice('post-scan') } : await run.scan('post-scan');
  const installedNow = new Set(post.scan.updates.filter((u) => u.installed).map((u) => u.updateId));
  const verified: Change[] = [];
  for (const p of state.patches) {
    if (p.status === PatchStatus.RebootRequired && installedNow.has(p.updateId)) {
      verified.push(run.change(p, PatchStatus.Installed, { installedAt: run.now() }));
    } else if (p.status === PatchStatus.Installed && !installedNow.has(p.updateId) && post.scan.updates.some((u) => u.updateId === p.updateId)) {
      verified.push(run.change(p, PatchStatus.Failed, { error: 'post-scan still reports the patch missing', countFailure: true }));
    }
  }
  // A removal counts once the post-scan no longer finds the update installed: it is Missing again.
  for (const r of state.removals ?? []) {
    if (r.error) continue;
    r.status = installedNow.has(r.updateId) ? PatchStatus.Installed : PatchStatus.Missing;
    if (r.status === PatchStatus.Installed) r.error = 'post-scan still reports the update installed (a reboot may finish the removal)';
    verified.push({ updateId: r.updateId, kb: r.kb, status: r.status, exitCode: r.exitCode, ...(r.error ? { error: r.error } : {}) });
  }
  if (run.batched) await bookkeeping.recordPostScan({ deviceId: input.deviceId, workflowId: run.workflowId, scan: post.scan, changes: run.apply(verified) });
  else await run.record(verified);
}
