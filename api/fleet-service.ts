import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db } from '../db/database';
import {
  clearNeedsAttention, findClient, findDevice, findSite, insertClient, insertDevice, insertSite, updateDeviceFolders, updateSiteFileSource,
  type ClientRow, type DeviceRow, type SiteRow,
} from '../db/fleet-repository';
import type { FileSourcePolicy } from '../domain/file-source';
import { BadRequestError, ConflictError, NotFoundError } from '../domain/errors';
import { folderPlatformOf } from '../domain/folders';
import { hashSecret, newSecret } from './credentials';
import { canonicalFolders } from './operator-schemas';

/** Clients, sites and devices as operators register and change them: each change with its audit row. */

export async function createClient(db: Db, name: string, actor: string): Promise<ClientRow> {
  const client = await insertClient(db, name);
  await appendAudit(db, [{ actor, action: 'client.created', subject: client.id, details: { name: client.name } }]);
  return client;
}

export async function createSite(db: Db, clientId: string, site: { name: string; fileSource?: FileSourcePolicy }, actor: string): Promise<SiteRow> {
  if (!(await findClient(db, clientId))) throw new NotFoundError('client', clientId);
  return withTransaction(db, async (tx) => {
    const s = await insertSite(tx, clientId, site.name, site.fileSource);
    await appendAudit(tx, [{ actor, action: 'site.created', subject: s.id, details: { name: s.name, clientId, fileSource: s.fileSource } }]);
    return s;
  });
}

/** A site's file source (Kaseya "File Source"): where its devices get patch files from the next download on. */
export async function setSiteFileSource(db: Db, siteId: string, fileSource: FileSourcePolicy, actor: string): Promise<SiteRow> {
  const before = await findSite(db, siteId);
  if (!before) throw new NotFoundError('site', siteId);
  return withTransaction(db, async (tx) => {
    const s = await updateSiteFileSource(tx, siteId, fileSource);
    if (!s) throw new NotFoundError('site', siteId);
    await appendAudit(tx, [{ actor, action: 'site.file_source_set', subject: siteId, details: { clientId: s.clientId, from: before.fileSource, to: s.fileSource } }]);
    return s;
  });
}

export interface NewDevice { siteId: string; name: string; deviceType: string; os?: string; workingFolder: string; installFolder: string }

/** Registers a device with a new enrollment token, shown once: only its hash is stored. */
export async function registerDevice(db: Db, body: NewDevice, actor: string): Promise<{ device: DeviceRow; enrollmentToken: string }> {
  if (!(await findSite(db, body.siteId))) throw new NotFoundError('site', body.siteId);
  const enrollmentToken = newSecret();
  const device = await withTransaction(db, async (tx) => {
    const d = await insertDevice(tx, {
      siteId: body.siteId, name: body.name, deviceType: body.deviceType, os: body.os,
      enrollmentTokenHash: hashSecret(enrollmentToken), workingFolder: body.workingFolder, installFolder: body.installFolder,
    });
    await appendAudit(tx, [{
      actor, action: 'device.created', deviceId: d.id,
      details: { name: d.name, workingFolder: d.workingFolder, installFolder: d.installFolder },
    }]);
    return d;
  });
  return { device, enrollmentToken };
}

export async function deviceOr404(db: Db, deviceId: string): Promise<DeviceRow> {
  const device = await findDevice(db, deviceId);
  if (!device) throw new NotFoundError('device', deviceId);
  return device;
}

/**
 * An operator fixed a device an automatic rollback left "needs attention" (an uninstall failed) and
 * says what was done: the flag goes, and the note, with what it said, stays in the audit log.
 */
export async function clearDeviceNeedsAttention(db: Db, deviceId: string, note: string, actor: string): Promise<DeviceRow> {
  return withTransaction(db, async (tx) => {
    if (!(await findDevice(tx, deviceId))) throw new NotFoundError('device', deviceId);
    const cleared = await clearNeedsAttention(tx, deviceId);
    if (!cleared) throw new ConflictError(`device ${deviceId} does not need attention`);
    await appendAudit(tx, [{
      actor, action: 'device.needs_attention_cleared', deviceId,
      details: { note, reason: cleared.reason, since: cleared.since },
    }]);
    return (await findDevice(tx, deviceId))!;
  });
}

/** Changes a device's folders, checked by the same rules (and the device's OS) as at registration: 400 naming each wrong field. */
export async function changeDeviceFolders(
  db: Db, deviceId: string, change: { workingFolder?: string; installFolder?: string }, actor: string,
): Promise<DeviceRow> {
  const before = await deviceOr404(db, deviceId);
  const { folders, issues } = canonicalFolders(change, folderPlatformOf(before.os));
  if (issues.length > 0) throw new BadRequestError(issues.map((i) => `body.${i.field}: ${i.message}`).join('; '), issues[0]!.field);
  return withTransaction(db, async (tx) => {
    const d = await updateDeviceFolders(tx, deviceId, folders);
    if (!d) throw new NotFoundError('device', deviceId);
    await appendAudit(tx, [{
      actor, action: 'device.folders_changed', deviceId,
      details: {
        before: { workingFolder: before.workingFolder, installFolder: before.installFolder },
        after: { workingFolder: d.workingFolder, installFolder: d.installFolder },
      },
    }]);
    return d;
  });
}
