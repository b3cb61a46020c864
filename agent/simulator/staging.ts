/** Moving staged files: copy from the working folder to the install folder, and cleanup of both. */
import { copyFile, mkdir } from 'node:fs/promises';
import * as path from 'node:path';
import { CommandErrorCode, type AgentCommand, type CleanupPayload, type CommandOutcome, type CopyPayload } from '../../domain/device-protocol';
import { normaliseKb } from '../catalog';
import { emptyDirectory, fileExists, listFiles, windowsJoin } from '../sandbox';
import { safeFolders } from './folders';
import type { SimulatedMachine } from './machine';

export async function copy(m: SimulatedMachine, command: AgentCommand<'copy'>): Promise<CommandOutcome> {
  const { patches }: CopyPayload = command.payload;
  const folders = safeFolders(command.payload);
  if ('refused' in folders) return m.log.refuse(command, { code: CommandErrorCode.UnsafeFolder, message: folders.refused, retryable: false });
  const { workingFolder, installFolder } = folders;
  await mkdir(m.sandbox.localPath(installFolder), { recursive: true });
  const copied: { kb: string; path: string }[] = [];
  for (const patch of patches) {
    const kb = normaliseKb(patch.kb);
    const from = m.sandbox.localFile(workingFolder, patch.fileName);
    if (!(await fileExists(from))) {
      return m.log.refuse(command, { code: CommandErrorCode.FileMissing, message: `${windowsJoin(workingFolder, patch.fileName)} is missing; download ${kb} again`, retryable: true, kb });
    }
    const to = m.sandbox.localFile(installFolder, patch.fileName);
    await copyFile(from, to);
    m.state.staged.set(to, patch.sizeBytes);
    copied.push({ kb, path: windowsJoin(installFolder, patch.fileName) });
  }
  m.log.record({ commandId: command.id, type: command.type, detail: `copied ${copied.map((c) => c.kb).join(', ') || 'nothing'} to ${installFolder}` });
  return { status: 'succeeded', result: { copied } };
}

export async function cleanup(m: SimulatedMachine, command: AgentCommand<'cleanup'>): Promise<CommandOutcome> {
  // Cleanup deletes everything inside both folders: refusing a protected folder here, whatever the
  // server sent, is what keeps a wrong setting or a tampered command from emptying C:\Windows\System32.
  const folders = safeFolders(command.payload as CleanupPayload);
  if ('refused' in folders) return m.log.refuse(command, { code: CommandErrorCode.UnsafeFolder, message: folders.refused, retryable: false });
  const { workingFolder, installFolder } = folders;
  const working = m.sandbox.localPath(workingFolder);
  const install = m.sandbox.localPath(installFolder);
  const removedFiles = (await emptyDirectory(working)) + (await emptyDirectory(install));
  for (const file of [...m.state.staged.keys()]) {
    if (isInside(file, working) || isInside(file, install)) m.state.staged.delete(file);
  }
  const workingFolderEmpty = (await listFiles(working)).length === 0;
  const installFolderEmpty = (await listFiles(install)).length === 0;
  m.log.record({ commandId: command.id, type: command.type, detail: `removed ${removedFiles} files` });
  return { status: 'succeeded', result: { removedFiles, workingFolderEmpty, installFolderEmpty } };
}

function isInside(file: string, dir: string): boolean {
  const rel = path.relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}
