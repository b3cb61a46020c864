/**
 * The Patch Test: what an install would meet, with nothing run, staged or changed. The machine only
 * reports (its state, `SimulatedPatchTestState`); the server evaluates.
 */
import { CommandErrorCode, type AgentCommand, type CommandOutcome } from '../../domain/device-protocol';
import { FolderPlatform, FolderRole } from '../../domain/folders';
import { SYSTEM_SID, WINDOWS_UPDATE_SERVICES, type PatchTestObservation, type ServiceStartType } from '../../domain/patch-test';
import { findUpdate, normaliseKb, sha256Of, simulatedFileContent } from '../catalog';
import { safeFolder } from './folders';
import type { SimulatedMachine } from './machine';

/** Start types of the Windows Update services on a fresh Windows Server (Manual is fine; only Disabled fails). */
export const DEFAULT_WU_SERVICES: Record<(typeof WINDOWS_UPDATE_SERVICES)[number], ServiceStartType> = {
  wuauserv: 'Manual', msiserver: 'Manual', BITS: 'Manual', CryptSvc: 'Automatic', TrustedInstaller: 'Manual',
};

/** FileSystemRights.FullControl */
const FULL_CONTROL = 0x1f01ff;
const ADMINISTRATORS_SID = 'S-1-5-32-544';

/** The working folder is the path the file system resolves (a junction's target): where files would land. */
export function patchTest(m: SimulatedMachine, command: AgentCommand<'patch_test'>): CommandOutcome {
  const t = m.patchTest;
  const folder = safeFolder(command.payload?.workingFolder, FolderRole.Working);
  if (typeof folder !== 'string') return m.log.refuse(command, { code: CommandErrorCode.UnsafeFolder, message: folder.refused, retryable: false });
  const resolved = t.workingFolderTarget ?? folder;
  const credential: PatchTestObservation['credential'] = t.credential
    ? { kind: 'set', account: t.credential.account, sid: t.credential.sid, verified: t.credential.valid,
      ...(t.credential.valid ? {} : { error: 'LogonUser: the user name or password is incorrect (simulated)' }) }
    : { kind: 'system' };
  const full = (sid: string) => ({ sid, allow: true, rights: FULL_CONTROL, inheritOnly: false });
  const rules = t.workingFolderRules
    ?? [full(SYSTEM_SID), full(ADMINISTRATORS_SID), ...(t.credential ? [full(t.credential.sid)] : [])];
  const unreachable = t.unreachableSources ?? [];
  const corrupt = new Set([...(t.corruptSourceKbs ?? []).map(normaliseKb), ...m.faults.corruptDownloads()]);
  const files = (command.payload.patches ?? []).map((patch) => {
    const kb = normaliseKb(patch.kb);
    const base = { patchId: kb, source: patch.downloadUrl, expectedSha256: patch.sha256, sizeBytes: patch.sizeBytes };
    if (unreachable.some((prefix) => patch.downloadUrl.startsWith(prefix))) {
      return { ...base, answered: false, sha256: null, error: `GET ${patch.downloadUrl}: connect ETIMEDOUT (simulated)` };
    }
    const update = findUpdate(patch);
    if (!update) return { ...base, answered: false, sha256: null, error: `GET ${patch.downloadUrl} answered 404 Not Found` };
    let content = simulatedFileContent(update);
    if (corrupt.has(kb)) content = content.subarray(0, Math.floor(content.length / 2));
    // The bytes are hashed as they arrive and never written: a Patch Test stages nothing.
    return { ...base, answered: true, sha256: sha256Of(content) };
  });
  const services = Object.fromEntries(WINDOWS_UPDATE_SERVICES.map((name) => [name, t.services?.[name] ?? DEFAULT_WU_SERVICES[name]]));
  const observation: PatchTestObservation = {
    credential, platform: FolderPlatform.Windows, workingFolder: resolved,
    workingFolderAcl: { path: resolved, exists: true, ownerSid: SYSTEM_SID, rules },
    freeBytes: m.state.freeDiskBytes(), files, services,
  };
  m.log.record({ commandId: command.id, type: command.type, detail: `observed ${files.length} files, working folder ${resolved}` });
  return { status: 'succeeded', result: observation };
}
