import { appendAudit } from '../db/audit-repository';
import { catalogFactsOf } from '../db/catalog-repository';
import type { Queryable } from '../db/database';
import type { ScanResult } from '../domain/device-protocol';
import { verifyScanReport } from '../domain/scan-verification';
import { scanReportSchema } from './agent-schemas';
import { describeZodError, HttpError } from './errors';

/**
 * Turns a device's scan answer into the `ScanResult` the workflows receive: the catalog's facts for each
 * update the catalog confirms (same id, same revision, a file to fetch), the rest unverified. Whatever
 * else the device claimed about an update it is compared with the catalog only to audit a contradiction
 * ("catalog.device_report_refused"); it never reaches the catalog, the workflow or another device.
 */
export async function scanResultFromReport(db: Queryable, deviceId: string, commandId: string, raw: unknown): Promise<ScanResult> {
  const parsed = scanReportSchema.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, describeZodError(parsed.error, 'body.result'));
  const report = parsed.data;
  const claims = ((raw as { updates?: unknown[] }).updates ?? []).map((u) => (u && typeof u === 'object' ? u as Record<string, unknown> : {}));
  const catalog = await catalogFactsOf(db, report.updates.map((u) => u.updateId));
  const { result, refusedClaims } = verifyScanReport(report, catalog, claims);
  await appendAudit(db, refusedClaims.map((c) => ({
    actor: `device:${deviceId}`,
    action: 'catalog.device_report_refused',
    deviceId,
    subject: c.kb,
    details: {
      updateId: c.updateId, commandId, reportedRevision: c.reportedRevision, catalogRevision: c.catalogRevision, fields: c.fields,
      reason: c.reportedRevision !== c.catalogRevision
        ? `reported revision ${c.reportedRevision}, the catalog has ${c.catalogRevision}: recorded as unverified for this device`
        : `the device's ${c.fields.join(', ')} contradict the catalog: ignored`,
    },
  })));
  return result;
}
