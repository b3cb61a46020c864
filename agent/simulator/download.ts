/**
 * One patch's download into the working folder (a download of several runs it for each:
 * agent/download-patches.ts): its file sources tried in order, the bytes hashed as they arrive and again
 * as written, and the site's LAN share filled with verified bytes only.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CommandErrorCode, type AgentCommand, type CommandOutcome, type DownloadPayload } from '../../domain/device-protocol';
import { AllFileSourcesFailedError, downloadFromSources, FileSource, isFileSource, sourcesOf, type DownloadReport } from '../../domain/file-source';
import { FolderRole } from '../../domain/folders';
import { findUpdate, normaliseKb, sha256Of, simulatedFileContent, type CatalogUpdate } from '../catalog';
import { windowsJoin } from '../sandbox';
import { sleep } from '../timing';
import { safeFolder } from './folders';
import type { SimulatedMachine } from './machine';
import type { HandleOptions } from './options';

export async function download(
  m: SimulatedMachine,
  command: AgentCommand<'download'> & { payload: DownloadPayload },
  options: HandleOptions,
): Promise<CommandOutcome> {
  const { patch }: DownloadPayload = command.payload;
  const kb = normaliseKb(patch.kb);
  const workingFolder = safeFolder(command.payload.workingFolder, FolderRole.Working);
  if (typeof workingFolder !== 'string') return m.log.refuse(command, { code: CommandErrorCode.UnsafeFolder, message: workingFolder.refused, retryable: false, kb });
  const update = findUpdate(patch);
  if (!update) return m.log.refuse(command, { code: CommandErrorCode.DownloadFailed, message: `GET ${patch.downloadUrl} answered 404 Not Found: ${kb} is not in the catalog`, retryable: false, kb });
  const file = m.sandbox.localFile(workingFolder, patch.fileName);
  const windowsPath = windowsJoin(workingFolder, patch.fileName);
  const free = m.state.freeDiskBytes() + (m.state.staged.get(file) ?? 0);
  if (patch.sizeBytes > free) {
    return m.log.refuse(command, { code: CommandErrorCode.DiskFull, message: `${windowsPath} needs ${patch.sizeBytes} bytes, C: has ${free} free`, retryable: true, kb });
  }
  const expected = patch.sha256.toLowerCase();
  const sources = sourcesOf(command.payload);
  options.onProgress?.({ message: `downloading ${patch.fileName} (${sources.join(', then ')})`, percent: 50 });
  // Which failures were the hash check's: a download whose every source served bad bytes is a hash
  // mismatch (final); one where a source could not be reached may work on a later delivery.
  const mismatched = new Set<FileSource>();
  const hashProblem = (bytes: Buffer, source: FileSource): string | undefined => {
    const actual = sha256Of(bytes);
    if (actual === expected) return undefined;
    mismatched.add(source);
    return `SHA-256 of ${windowsPath}${sources.length > 1 ? ` from ${source}` : ''} is ${actual}, catalog says ${expected}`;
  };
  let got: { bytes: Buffer; report: DownloadReport };
  try {
    got = await downloadFromSources(sources, (source) => fetchFrom(m, { source, patch, update, options }), hashProblem);
  } catch (err) {
    if (!(err instanceof AllFileSourcesFailedError)) throw err;
    const allHashes = err.failures.every((f) => mismatched.has(f.source));
    // One source: its own words, as before file sources existed.
    const message = err.failures.length === 1 ? err.failures[0]!.reason : err.message;
    return m.log.refuse(command, { code: allHashes ? CommandErrorCode.HashMismatch : CommandErrorCode.DownloadFailed, message, retryable: !allHashes, kb });
  }
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, got.bytes);
  m.state.staged.set(file, patch.sizeBytes);
  // Checked again as written: the bytes on disk are what execute will run.
  const actual = sha256Of(await readFile(file));
  if (actual !== expected) {
    await rm(file, { force: true });
    m.state.staged.delete(file);
    return m.log.refuse(command, { code: CommandErrorCode.HashMismatch, message: `SHA-256 of ${windowsPath} is ${actual}, catalog says ${expected}`, retryable: false, kb });
  }
  // One device per site fills the LAN share; only verified bytes go there.
  if (m.lanShare && sources.includes(FileSource.LanShare) && got.report.servedBy !== FileSource.LanShare) {
    await m.lanShare.fill(expected, got.bytes).catch(() => false);
  }
  options.onProgress?.({ message: `downloaded ${patch.fileName} from ${got.report.servedBy}, SHA-256 verified`, percent: 100 });
  const fell = got.report.fellBack.map((f) => `${f.source} failed`).join(', ');
  m.log.record({ commandId: command.id, type: command.type, kb, detail: `${windowsPath} (${got.bytes.length} bytes from ${got.report.servedBy}${fell ? `; ${fell}` : ''}, SHA-256 ok)` });
  // `bytes` is what was written: simulated installers are small stand-ins for the catalog's size.
  return { status: 'succeeded', result: { kb, path: windowsPath, sha256: actual, bytes: got.bytes.length, source: got.report } };
}

interface FetchRequest {
  source: FileSource;
  patch: DownloadPayload['patch'];
  update: CatalogUpdate;
  options: HandleOptions;
}

/** The bytes one file source gives for a patch (the caller checks the hash); throws when it cannot. */
async function fetchFrom(m: SimulatedMachine, { source, patch, update, options }: FetchRequest): Promise<Buffer> {
  let bytes: Buffer;
  if (!isFileSource(source)) throw new Error(`this agent does not know the file source "${String(source)}"`);
  switch (source) {
    case FileSource.Internet:
    case FileSource.TempMostFreeDrive:
      // The simulator has one drive: "the temp folder on the drive with most free space" is the internet download.
      await sleep(m.downloadDurationMs);
      if (m.faults.randomFailure()) throw new Error(`GET ${patch.downloadUrl} failed: connection reset (simulated)`);
      bytes = simulatedFileContent(update);
      break;
    case FileSource.Cache: {
      if (!options.cachedFile) throw new Error('no gateway to fetch from: the Patchflow cache is reached through the agent gateway');
      const res = await options.cachedFile(patch.sha256.toLowerCase(), options.signal);
      bytes = Buffer.from(await res.arrayBuffer());
      break;
    }
    case FileSource.LanShare:
      if (!m.lanShare) throw new Error('no LAN share configured on this device');
      bytes = await m.lanShare.read(patch.sha256.toLowerCase());
      break;
  }
  // A transfer cut short is the common real-world corruption: a truncated file.
  return m.faults.corruptDownloads().has(normaliseKb(patch.kb)) ? bytes.subarray(0, Math.floor(bytes.length / 2)) : bytes;
}
