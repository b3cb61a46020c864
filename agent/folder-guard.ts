/**
 * The device's own check of a working or install folder on a POSIX machine, with the real file system,
 * before anything is written to it or deleted from it: the server's rules first (domain/folders.ts
 * `checkFolder`: no system folder), then the folder is created if missing (mode 0700, parents 0755),
 * its real path (symlinks resolved) is checked against the same rules again (a symlink to /etc is
 * /etc), and every component of the real path is lstat'ed for owner and mode (`posixOwnershipProblem`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkFolder, FolderPlatform, posixOwnershipProblem, type FolderProblem, type FolderRole, type PosixPathComponent } from '../domain/folders';

export interface GuardedFolder {
  /** the folder as the device names it (inside `root` when the executor runs in one) */
  canonical: string;
  /** where it is on this machine's file system (`root` + canonical) */
  local: string;
}

/**
 * The folder, ready to use, or why the device refuses it. `root` ("/" on a real machine) is where the
 * device's file system is: a Debian root in tests (the walk then covers the root's own path too).
 */
export async function guardPosixFolder(
  folder: unknown,
  role: FolderRole,
  options: { root?: string; agentUid?: number } = {},
): Promise<{ ok: true; folder: GuardedFolder } | { ok: false; problem: FolderProblem }> {
  const root = path.resolve(options.root ?? '/');
  const agentUid = options.agentUid ?? process.getuid?.() ?? 0;
  const label = `${role} folder`;
  const named = checkFolder(folder, { role, platform: FolderPlatform.Posix });
  if (!named.ok) return named;
  const local = path.join(root, named.canonical);
  // The parents first: a folder created under a foreign-owned parent would already be in its hands.
  const parentProblem = await walkProblem(path.dirname(local), agentUid, label, true);
  if (parentProblem && parentProblem !== 'missing') return { ok: false, problem: parentProblem };
  await fs.mkdir(path.dirname(local), { recursive: true, mode: 0o755 });
  await fs.mkdir(local, { mode: 0o700 }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  const real = await fs.realpath(local);
  if (real !== local) {
    // A symlink somewhere on the way: judge where it really leads, inside the device's root.
    const inside = path.relative(root, real);
    if (inside.startsWith('..') || path.isAbsolute(inside)) {
      return { ok: false, problem: { rule: 'not-directory', message: `${label} "${named.canonical}" leads out of the device's root to ${real} (rule: not-directory)` } };
    }
    const again = checkFolder(`/${inside}`, { role, platform: FolderPlatform.Posix });
    if (!again.ok) return { ok: false, problem: { rule: again.problem.rule, message: `${label} "${named.canonical}" is a link to /${inside}: ${again.problem.message}` } };
  }
  const problem = await walkProblem(real, agentUid, label, false);
  if (problem) return { ok: false, problem: problem === 'missing' ? { rule: 'not-directory', message: `${label} ${real} vanished while checked (rule: not-directory)` } : problem };
  return { ok: true, folder: { canonical: named.canonical, local: real } };
}

/** lstat of each component of `dir` from "/" down; 'missing' when a component does not exist (yet). */
async function walkProblem(dir: string, agentUid: number, label: string, allowMissing: boolean): Promise<FolderProblem | 'missing' | undefined> {
  const components: PosixPathComponent[] = [];
  const parts = dir.split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    try {
      const st = await fs.lstat(p);
      components.push({ path: p, uid: st.uid, mode: st.mode, isDirectory: st.isDirectory(), isSymbolicLink: st.isSymbolicLink() });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && allowMissing) {
        // The existing part must be sound, and the last existing one is a parent, never the target.
        return posixOwnershipProblem([...components, { path: '(to create)', uid: agentUid, mode: 0o40700, isDirectory: true, isSymbolicLink: false }], agentUid, label) ?? 'missing';
      }
      throw err;
    }
  }
  // When checking parents only, the last component is not the target: judge it as a parent.
  return allowMissing
    ? posixOwnershipProblem([...components, { path: '(target)', uid: agentUid, mode: 0o40700, isDirectory: true, isSymbolicLink: false }], agentUid, label)
    : posixOwnershipProblem(components, agentUid, label);
}
