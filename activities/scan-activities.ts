import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { findDevicesByIds } from '../db/fleet-repository';
import { processScan, type ScanSummary } from '../db/scan-repository';
import type { ScanResult } from '../domain/device-protocol';
import type { NamedDevice } from '../workflows/search-attributes';

/** A device as a scope scan starts its scan: what the summary and the search attributes name. */
export type ScanTarget = NamedDevice;

/** Processing a device's scan results (statuses, unverified updates), only when they changed. */
export function createScanActivities(deps: { db: Db; log: Logger }) {
  return {
    /**
     * Idempotent: processing the same scan twice finds the same digest the second time and writes
     * only the timestamp, so a retry after a lost answer changes nothing.
     */
    async processDeviceScan(deviceId: string, scan: ScanResult): Promise<ScanSummary> {
      const summary = await processScan(deps.db, deviceId, scan);
      deps.log.info({ deviceId, changed: summary.changed, newKbs: summary.newKbs, unverified: summary.unverified }, 'scan processed');
      return summary;
    },

    /**
     * The devices of a scope scan's batch that can still be scanned, with what the scans' summaries and
     * search attributes name (a device retired since the request is left out). Read-only.
     */
    async scanTargets(deviceIds: string[]): Promise<ScanTarget[]> {
      return (await findDevicesByIds(deps.db, deviceIds)).filter((d) => !d.retiredAt).map((d) => ({
        id: d.id, name: d.name, clientId: d.clientId, clientName: d.clientName, siteId: d.siteId, siteName: d.siteName,
      }));
    },
  };
}
