import { Classification } from './device-protocol';
import { compliancePercent, COMPLIANT_STATUSES, NOT_APPLICABLE_STATUSES } from './patch-overview';
import { PatchStatus } from './patch-status';

/** One device with its patch statuses counted, as the repository reads it (one query, no I/O here). */
export interface FleetDeviceFacts {
  deviceId: string;
  deviceName: string;
  deviceType: 'server' | 'workstation';
  clientId: string;
  clientName: string;
  siteId: string;
  siteName: string;
  lastCheckInAt: string | null;
  lastScanAt: string | null;
  /** count of this device's patches per status */
  statusCounts: Partial<Record<PatchStatus, number>>;
  /** Missing patches classified Critical Updates */
  missingCritical: number;
  /** Missing patches classified Security Updates */
  missingSecurity: number;
  /** why Automatic Update skips the device (its latest Patch Test failed); null or absent: not blocked */
  automaticUpdateBlocked?: string | null;
}

export interface FleetDevice extends FleetDeviceFacts {
  /** nothing applicable left to install: every patch is Installed, Ignored or Superseded */
  fullyPatched: boolean;
  failed: number;
  rebootRequired: boolean;
  /** never scanned, or last scanned longer ago than the stale-scan limit */
  staleScan: boolean;
  /** never checked in, or not within the offline limit */
  offline: boolean;
}

export interface ComplianceFigure { devices: number; fullyPatched: number; compliancePercent: number }

export interface FleetSummaryOptions {
  now: Date;
  /** a scan older than this is stale (the dashboard's "last scan older than 7 days") */
  staleScanDays: number;
  /** a device that has not polled for this long is offline */
  offlineAfterSeconds: number;
}

export interface FleetSummary {
  totals: ComplianceFigure & { missingCritical: number; missingSecurity: number; failed: number; rebootRequired: number; staleScan: number; offline: number; patchTestFailed: number };
  clients: (ComplianceFigure & { clientId: string; clientName: string; sites: (ComplianceFigure & { siteId: string; siteName: string })[] })[];
  devices: FleetDevice[];
}

const NOT_OUTSTANDING = new Set<PatchStatus>([...COMPLIANT_STATUSES, ...NOT_APPLICABLE_STATUSES]);

/**
 * A device is fully patched when nothing applicable is left: every patch Installed, or out of
 * scope (Ignored, Superseded). Reboot Required is not finished (the same rule as the Patch
 * Overview Report's compliance), so the fleet page and the report never disagree.
 */
export function isFullyPatched(statusCounts: Partial<Record<PatchStatus, number>>): boolean {
  return Object.entries(statusCounts).every(([status, n]) => !n || NOT_OUTSTANDING.has(status as PatchStatus));
}

function figure(devices: FleetDevice[]): ComplianceFigure {
  const fullyPatched = devices.filter((d) => d.fullyPatched).length;
  // A client or site with no devices is fully compliant by the report's rule (nothing applies).
  return { devices: devices.length, fullyPatched, compliancePercent: compliancePercent(fullyPatched, devices.length) };
}

/** The fleet page's figures: compliance per client and site, and the per-device flags each list counts. */
export function summariseFleet(facts: readonly FleetDeviceFacts[], options: FleetSummaryOptions): FleetSummary {
  const now = options.now.getTime();
  const devices = facts.map((f): FleetDevice => ({
    ...f,
    fullyPatched: isFullyPatched(f.statusCounts),
    failed: f.statusCounts[PatchStatus.Failed] ?? 0,
    rebootRequired: (f.statusCounts[PatchStatus.RebootRequired] ?? 0) > 0,
    staleScan: f.lastScanAt === null || now - Date.parse(f.lastScanAt) > options.staleScanDays * 86_400_000,
    offline: f.lastCheckInAt === null || now - Date.parse(f.lastCheckInAt) > options.offlineAfterSeconds * 1000,
  }));
  const clients = new Map<string, { clientId: string; clientName: string; sites: Map<string, { siteId: string; siteName: string; devices: FleetDevice[] }>; devices: FleetDevice[] }>();
  for (const d of devices) {
    let c = clients.get(d.clientId);
    if (!c) clients.set(d.clientId, c = { clientId: d.clientId, clientName: d.clientName, sites: new Map(), devices: [] });
    c.devices.push(d);
    let s = c.sites.get(d.siteId);
    if (!s) c.sites.set(d.siteId, s = { siteId: d.siteId, siteName: d.siteName, devices: [] });
    s.devices.push(d);
  }
  const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
  return {
    totals: {
      ...figure(devices),
      missingCritical: devices.reduce((n, d) => n + d.missingCritical, 0),
      missingSecurity: devices.reduce((n, d) => n + d.missingSecurity, 0),
      failed: devices.reduce((n, d) => n + d.failed, 0),
      rebootRequired: devices.filter((d) => d.rebootRequired).length,
      staleScan: devices.filter((d) => d.staleScan).length,
      offline: devices.filter((d) => d.offline).length,
      patchTestFailed: devices.filter((d) => d.automaticUpdateBlocked).length,
    },
    clients: [...clients.values()]
      .map((c) => ({ name: c.clientName, value: c }))
      .sort(byName)
      .map(({ value: c }) => ({
        clientId: c.clientId, clientName: c.clientName, ...figure(c.devices),
        sites: [...c.sites.values()].map((s) => ({ name: s.siteName, value: s })).sort(byName)
          .map(({ value: s }) => ({ siteId: s.siteId, siteName: s.siteName, ...figure(s.devices) })),
      })),
    devices,
  };
}

/** The classifications the fleet page counts as "missing critical / security". */
export const CRITICAL_CLASSIFICATION = Classification.CriticalUpdate;
export const SECURITY_CLASSIFICATION = Classification.SecurityUpdate;
