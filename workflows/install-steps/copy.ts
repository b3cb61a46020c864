/** Step 3: copy what downloaded from the working folder to the install folder, in one device step. */
import type { PatchProgress } from '../install.contract';
import type { InstallRun } from './install-run';

export async function copy(run: InstallRun, downloaded: PatchProgress[]): Promise<void> {
  if (downloaded.length === 0) return;
  const { input } = run;
  run.enter('copy', `${downloaded.length} patches to ${input.installFolder}`);
  await run.command(
    'copy',
    { patches: downloaded.map((p) => run.files.get(p.updateId)!), workingFolder: input.workingFolder, installFolder: input.installFolder },
    `copy ${downloaded.length} patches to ${input.installFolder}`,
  );
}
