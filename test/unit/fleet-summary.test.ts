import { isFullyPatched, summariseFleet, type FleetDeviceFacts } from '../../domain/fleet-summary';
import { actionReaches, offeredActions } from '../../domain/patch-management';

describe('a device is fully patched when nothing applicable is left to install', () => {
  test.each([
    [{}, true],
    [{ installed: 12 }, true],
    [{ installed: 3, ignored: 1, superseded: 2 }, true],
    [{ installed: 3, missing: 0 }, true],
    [{ installed: 3, missing: 1 }, false],
    [{ installed: 3, pending: 1 }, false],
    [{ installed: 3, installing: 1 }, false],
    [{ installed: 3, failed: 1 }, false],
    // Reboot Required is not finished until the reboot and rescan (as the report's compliance says)
    [{ installed: 3, reboot_required: 1 }, false],
  ])('%j → %s', (counts, expected) => {
    expect(isFullyPatched(counts)).toBe(expected);
  });
});

const NOW = new Date('2026-03-10T12:00:00Z');
const device = (over: Partial<FleetDeviceFacts>): FleetDeviceFacts => ({
  deviceId: 'd', deviceName: 'SRV-01', deviceType: 'server', clientId: 'c1', clientName: 'Contoso', siteId: 's1', siteName: 'HQ',
  lastCheckInAt: '2026-03-10T11:59:00Z', lastScanAt: '2026-03-09T12:00:00Z', statusCounts: { installed: 4 }, missingCritical: 0, missingSecurity: 0,
  ...over,
});

test('compliance per client and site is fully patched devices over devices, sorted by name', () => {
  const s = summariseFleet([
    device({ deviceId: 'a', clientId: 'c2', clientName: 'Fabrikam', siteId: 's3', siteName: 'Main' }),
    device({ deviceId: 'b', siteId: 's2', siteName: 'Branch', statusCounts: { installed: 2, missing: 1 }, missingCritical: 1 }),
    device({ deviceId: 'c' }),
    device({ deviceId: 'd', statusCounts: { failed: 2, reboot_required: 1 }, missingSecurity: 0 }),
  ], { now: NOW, staleScanDays: 7, offlineAfterSeconds: 300 });
  expect(s.totals).toMatchObject({ devices: 4, fullyPatched: 2, compliancePercent: 50, missingCritical: 1, failed: 2, rebootRequired: 1 });
  expect(s.clients.map((c) => [c.clientName, c.devices, c.fullyPatched, c.compliancePercent])).toEqual([['Contoso', 3, 1, 33.3], ['Fabrikam', 1, 1, 100]]);
  expect(s.clients[0]!.sites.map((x) => [x.siteName, x.devices, x.fullyPatched])).toEqual([['Branch', 1, 0], ['HQ', 2, 1]]);
});

describe('stale scans and offline devices', () => {
  test.each([
    ['scanned a day ago, polled a minute ago', {}, { staleScan: false, offline: false }],
    ['never scanned', { lastScanAt: null }, { staleScan: true, offline: false }],
    ['scanned 8 days ago', { lastScanAt: '2026-03-02T12:00:00Z' }, { staleScan: true, offline: false }],
    ['scanned exactly 7 days ago', { lastScanAt: '2026-03-03T12:00:00Z' }, { staleScan: false, offline: false }],
    ['never checked in', { lastCheckInAt: null }, { staleScan: false, offline: true }],
    ['last polled 6 minutes ago', { lastCheckInAt: '2026-03-10T11:54:00Z' }, { staleScan: false, offline: true }],
  ])('%s', (_name, over, expected) => {
    const [d] = summariseFleet([device(over)], { now: NOW, staleScanDays: 7, offlineAfterSeconds: 300 }).devices;
    expect({ staleScan: d!.staleScan, offline: d!.offline }).toEqual(expected);
  });
});

describe('the wizard offers an action only where a status allows it', () => {
  test.each([
    ['approve', 'missing', true, true], ['approve', 'failed', true, true], ['approve', 'installed', true, false],
    ['ignore', 'missing', true, true], ['ignore', 'installed', true, false],
    ['reprocess_failed', 'failed', true, true], ['reprocess_failed', 'missing', true, false],
    ['uninstall', 'installed', true, true], ['uninstall', 'installed', false, false], ['uninstall', 'missing', true, false],
    ['inherit', 'installing', true, true], ['do_nothing', 'superseded', true, true],
  ] as const)('%s on a %s patch (uninstallable %s) → %s', (action, status, uninstallable, expected) => {
    expect(actionReaches(action, status, { uninstallable })).toBe(expected);
  });

  test('patches found nowhere get Inherit and Do Nothing only', () => {
    expect(offeredActions([], { uninstallable: true })).toEqual(['inherit', 'do_nothing']);
    expect(offeredActions(['installed', 'failed'], { uninstallable: true })).toEqual(['inherit', 'approve', 'ignore', 'do_nothing', 'reprocess_failed', 'uninstall']);
    expect(offeredActions(['installed'], { uninstallable: false })).toEqual(['inherit', 'do_nothing']);
  });
});
