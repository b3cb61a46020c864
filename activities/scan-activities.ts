import type { Logger } from 'pino';
import type { Db } from '../db/database';
import { processScan, type ScanSummary } from '../db/scan-repository';
import type { ScanResult } from '../domain/device-protocol';

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
  };
}
