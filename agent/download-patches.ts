/**
 * The download of all an install's patches in one command (DownloadPatchesPayload), for every agent:
 * each patch goes through the agent's own one-patch download, which verifies the file's size and
 * SHA-256 against the signed catalog before it counts, so a batch verifies exactly what one patch does.
 */
import { CommandErrorCode, type CommandOutcome, type DownloadedPatch, type DownloadPatchesPayload, type DownloadPatchesResult, type DownloadPayload, type DownloadResult } from '../domain/device-protocol';

/** What an agent's one-patch download does with `{ patch, workingFolder, sources }`. */
export type DownloadOne = (payload: DownloadPayload) => Promise<CommandOutcome>;

/**
 * Downloads each patch in turn. A patch refused for good (a hash mismatch, a 404) is reported with its
 * reason and the others go on; an unsafe working folder refuses the whole command. A failure that may pass (the network, a full disk)
 * stops the batch and fails the command retryable, as a one-patch download does: the step is offered
 * again, and the next delivery downloads (and verifies) every file again.
 */
export async function downloadPatches(payload: DownloadPatchesPayload, downloadOne: DownloadOne): Promise<CommandOutcome> {
  const downloaded: DownloadedPatch[] = [];
  const failed: DownloadPatchesResult['failed'] = [];
  for (const patch of payload.patches) {
    const one: DownloadPayload = { patch, workingFolder: payload.workingFolder, ...(payload.sources ? { sources: payload.sources } : {}) };
    const outcome = await downloadOne(one);
    // The working folder is every patch's: its refusal is the command's, as a one-patch download's is.
    if (outcome.status === 'failed' && outcome.error.code === CommandErrorCode.UnsafeFolder) return outcome;
    if (outcome.status === 'succeeded') downloaded.push({ updateId: patch.updateId, ...(outcome.result as DownloadResult) });
    else if (outcome.status === 'failed' && outcome.error.retryable) {
      return { status: 'failed', error: { ...outcome.error, message: `${patch.kb}: ${outcome.error.message}` } };
    } else if (outcome.status === 'failed') failed.push({ updateId: patch.updateId, kb: patch.kb, error: outcome.error });
    else failed.push({ updateId: patch.updateId, kb: patch.kb, error: { code: 'DeviceError', message: 'the download was only acknowledged', retryable: false } });
  }
  const result: DownloadPatchesResult = { downloaded, failed };
  return { status: 'succeeded', result };
}

/** A download command carries one patch (installs before the one download command) or all of them. */
export function isDownloadOfPatches(payload: DownloadPayload | DownloadPatchesPayload): payload is DownloadPatchesPayload {
  return Array.isArray((payload as Partial<DownloadPatchesPayload>).patches);
}
