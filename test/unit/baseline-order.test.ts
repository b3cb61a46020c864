import { CATALOG, findUpdate } from '../../agent/catalog';
import {
  BaselineGroupKind,
  baselineGroupOf,
  firstBaselineGroup,
  planBaseline,
  type BaselineUpdate,
} from '../../domain/baseline-order';
import type { Classification } from '../../domain/device-protocol';

/** A catalog entry, reduced to what the baseline reads. */
function cat(kb: string): BaselineUpdate {
  const u = findUpdate({ kb });
  if (!u) throw new Error(`${kb} is not in the simulated catalog`);
  return { kb: u.kb, title: u.title, product: u.product, classification: u.classification };
}
const upd = (kb: string, title: string, product: string, classification: Classification): BaselineUpdate => ({ kb, title, product, classification });

// Updates the simulated catalog does not carry, with Microsoft's real titles.
const OFFICE_SP = upd('KB2850036', 'Service Pack 2 for Microsoft Office 2013 (KB2850036) 64-Bit Edition', 'Office 2013', 'Service Packs');
const OFFICE_SP_VISIO = upd('KB2817303', 'Service Pack 1 for Microsoft Visio 2013 (KB2817303) 64-Bit Edition', 'Visio 2013', 'Service Packs');
const OFFICE_ROLLUP = upd('KB2596614', 'Update Rollup for Microsoft Office 2010 (KB2596614) 32-Bit Edition', 'Office 2010', 'Update Rollups');
const OS_SP = upd('KB976932', 'Windows 7 Service Pack 1 for x64-based Systems (KB976932)', 'Windows 7', 'Service Packs');
const OS_TOOL = upd('KB4023814', 'Windows 10 Update Assistant (KB4023814)', 'Windows 10', 'Tools');
const DRIVER = upd('KB0000001', 'Intel Corporation - Display - 31.0.101.4502', 'Windows 10 and later drivers', 'Drivers');
const M365 = upd('KB5002099', 'Security Update for Microsoft 365 Apps for enterprise (KB5002099)', 'Microsoft 365 Apps', 'Security Updates');
const SERVER_2022_OS = upd('KB5035857', '2024-03 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5035857)', 'Microsoft Server Operating System-21H2', 'Security Updates');

const K = BaselineGroupKind;

describe('baselineGroupOf', () => {
  test.each<[string, BaselineUpdate, BaselineGroupKind]>([
    ['Windows Installer by product (KB2918614, Security Updates)', cat('KB2918614'), K.WindowsInstaller],
    ['Windows Installer by title, whatever the product', upd('KB942288', 'Windows Installer 4.5 Redistributable (KB942288)', 'Windows XP', 'Updates'), K.WindowsInstaller],
    ['OS service pack: Windows 7 SP1', OS_SP, K.OsServicePack],
    ['OS service pack: Windows 11 23H2 enablement package (KB5027397)', cat('KB5027397'), K.OsServicePack],
    ['OS update rollup: MSRT (KB890830)', cat('KB890830'), K.OsUpdateRollup],
    ['OS critical: Server 2022 (KB5033118)', cat('KB5033118'), K.OsCritical],
    ['OS critical: Windows 10 (KB4023057)', cat('KB4023057'), K.OsCritical],
    ['OS non-critical: Server 2022 servicing stack classified Updates (KB5031988)', cat('KB5031988'), K.OsNonCritical],
    ['OS non-critical: Server 2019 update (KB4589208)', cat('KB4589208'), K.OsNonCritical],
    ['OS non-critical: Windows 11 cumulative update preview (KB5034204)', cat('KB5034204'), K.OsNonCritical],
    ['OS non-critical: Tools', OS_TOOL, K.OsNonCritical],
    ['OS security: Server 2022 cumulative update (KB5035857)', cat('KB5035857'), K.OsSecurity],
    ['OS security: Server 2022 by its WSUS product name', SERVER_2022_OS, K.OsSecurity],
    ['OS security: Windows 10 WinRE update (KB5034441)', cat('KB5034441'), K.OsSecurity],
    ['OS security: Server 2019 servicing stack classified Security Updates (KB5005112)', cat('KB5005112'), K.OsSecurity],
    ['other: .NET Framework cumulative update (KB5033914)', cat('KB5033914'), K.Other],
    ['other: .NET Framework 4.8.1 feature pack (KB5011258)', cat('KB5011258'), K.Other],
    ['other: Defender definitions (KB2267602)', cat('KB2267602'), K.Other],
    ['other: Defender platform classified Updates (KB4052623)', cat('KB4052623'), K.Other],
    ['other: Windows Defender definitions under the old product name', upd('KB2267602', 'Definition Update for Windows Defender - KB2267602', 'Windows Defender', 'Definition Updates'), K.Other],
    ['other: drivers, even under a Windows product', DRIVER, K.Other],
    ['other: an unknown product', upd('KB1234567', 'Update for Something (KB1234567)', 'Contoso Widgets', 'Security Updates'), K.Other],
    ['Office service pack: Office 2013 SP2', OFFICE_SP, K.OfficeServicePack],
    ['Office service pack: Visio 2013 SP1', OFFICE_SP_VISIO, K.OfficeServicePack],
    ['Office update rollup: Office 2010', OFFICE_ROLLUP, K.OfficeUpdateRollup],
    ['Office other: security (KB5002537)', cat('KB5002537'), K.OfficeOther],
    ['Office other: Excel security (KB5002542)', cat('KB5002542'), K.OfficeOther],
    ['Office other: critical (KB4484104)', cat('KB4484104'), K.OfficeOther],
    ['Office other: plain update (KB5002520)', cat('KB5002520'), K.OfficeOther],
    ['Office other: Microsoft 365 Apps', M365, K.OfficeOther],
    ['Office other: per-application product (Outlook 2016)', upd('KB5002538', 'Security Update for Microsoft Outlook 2016 (KB5002538) 64-Bit Edition', 'Outlook 2016', 'Security Updates'), K.OfficeOther],
  ])('%s', (_name, update, kind) => {
    expect(baselineGroupOf(update)).toBe(kind);
  });

  test('every catalog entry lands in a group', () => {
    for (const u of CATALOG) expect(Object.values(BaselineGroupKind)).toContain(baselineGroupOf(u));
  });
});

const kbs = (groups: { kind: string; updates: BaselineUpdate[] }[]) => groups.map((g) => [g.kind, g.updates.map((u) => u.kb)]);

describe('planBaseline', () => {
  test('a mixed set installs in Kaseya\'s order, with other between OS and Office', () => {
    const mixed = [
      cat('KB5002537'), cat('KB4484104'), OFFICE_ROLLUP, OFFICE_SP, cat('KB2267602'), cat('KB5033914'),
      cat('KB5035857'), cat('KB5034439'), cat('KB5031988'), OS_TOOL, cat('KB5033118'), cat('KB890830'),
      cat('KB5027397'), cat('KB2918614'),
    ];
    const plan = planBaseline(mixed);
    expect(kbs(plan)).toEqual([
      [K.WindowsInstaller, ['KB2918614']],
      [K.OsServicePack, ['KB5027397']],
      [K.OsUpdateRollup, ['KB890830']],
      [K.OsCritical, ['KB5033118']],
      [K.OsNonCritical, ['KB5031988', 'KB4023814']], // the servicing stack first, then by KB
      [K.OsSecurity, ['KB5034439', 'KB5035857']],
      [K.Other, ['KB2267602', 'KB5033914']],
      [K.OfficeServicePack, ['KB2850036']],
      [K.OfficeUpdateRollup, ['KB2596614']],
      [K.OfficeOther, ['KB4484104', 'KB5002537']],
    ]);
    expect(plan.every((g) => g.rebootAfter === true && g.updates.length > 0)).toBe(true);
    // the planned objects are the ones given, not copies
    expect(plan[0]!.updates[0]).toBe(mixed[13]);
  });

  test('only non-empty groups', () => {
    expect(kbs(planBaseline([cat('KB5002537'), cat('KB2918614')]))).toEqual([
      [K.WindowsInstaller, ['KB2918614']],
      [K.OfficeOther, ['KB5002537']],
    ]);
    expect(planBaseline([])).toEqual([]);
  });

  test('two service packs make two groups, each alone, OS before Office', () => {
    const plan = planBaseline([OFFICE_SP_VISIO, cat('KB5035857'), OS_SP, OFFICE_SP, cat('KB5027397')]);
    expect(kbs(plan)).toEqual([
      [K.OsServicePack, ['KB976932']],
      [K.OsServicePack, ['KB5027397']],
      [K.OsSecurity, ['KB5035857']],
      [K.OfficeServicePack, ['KB2817303']],
      [K.OfficeServicePack, ['KB2850036']],
    ]);
  });

  test('the servicing stack goes before the cumulative update when both are Security Updates (Server 2019)', () => {
    const plan = planBaseline([cat('KB5035849'), cat('KB5034232'), cat('KB5005112')]);
    expect(kbs(plan)).toEqual([[K.OsSecurity, ['KB5005112', 'KB5034232', 'KB5035849']]]);
  });

  test('a servicing stack grouped after a cumulative update moves into the earliest group', () => {
    // A cumulative update preview ("Updates", group 5) and an SSU classified "Security Updates" (group 6).
    const ssu = upd('KB5005112', '2021-08 Servicing Stack Update for Windows 11 Version 23H2 for x64-based Systems (KB5005112)', 'Windows 11', 'Security Updates');
    const plan = planBaseline([cat('KB5034204'), ssu, cat('KB5035853'), cat('KB2918614')]);
    expect(kbs(plan)).toEqual([
      [K.WindowsInstaller, ['KB5005112', 'KB2918614']],
      [K.OsNonCritical, ['KB5034204']],
      [K.OsSecurity, ['KB5035853']],
    ]);
    // without an earlier group it joins the cumulative update's group, first
    expect(kbs(planBaseline([cat('KB5034204'), ssu, cat('KB5035853')]))).toEqual([
      [K.OsNonCritical, ['KB5005112', 'KB5034204']],
      [K.OsSecurity, ['KB5035853']],
    ]);
  });

  test('a servicing stack skips service pack groups (they install alone)', () => {
    const ssu = upd('KB5005112', 'Servicing Stack Update for Windows 11 (KB5005112)', 'Windows 11', 'Security Updates');
    const lcu = upd('KB5034204', 'Cumulative Update Preview for Windows 11 (KB5034204)', 'Windows 11', 'Critical Updates');
    expect(kbs(planBaseline([lcu, ssu, cat('KB5027397')]))).toEqual([
      [K.OsServicePack, ['KB5027397']],
      [K.OsCritical, ['KB5005112', 'KB5034204']],
    ]);
    // a cumulative update that is itself a service pack group: the SSU gets a group of its own before it
    const spLcu = upd('KB5034205', 'Cumulative Update for Windows 11 (KB5034205)', 'Windows 11', 'Service Packs');
    expect(kbs(planBaseline([spLcu, ssu]))).toEqual([
      [K.OsSecurity, ['KB5005112']],
      [K.OsServicePack, ['KB5034205']],
    ]);
  });

  test('in every plan, each servicing stack installs before every cumulative update', () => {
    const ssuSec = upd('KB5005112', 'Servicing Stack Update (KB5005112)', 'Windows Server 2019', 'Security Updates');
    const ssuUpd = upd('KB5031988', 'Servicing Stack Update (KB5031988)', 'Windows Server 2022', 'Updates');
    const lcus = [
      upd('KB5035849', 'Cumulative Update (KB5035849)', 'Windows Server 2019', 'Security Updates'),
      upd('KB5034204', 'Cumulative Update Preview (KB5034204)', 'Windows 11', 'Updates'),
      upd('KB5034206', 'Cumulative Update (KB5034206)', 'Windows 11', 'Critical Updates'),
      upd('KB5034207', 'Cumulative Update (KB5034207)', 'Windows 11', 'Update Rollups'),
    ];
    for (const ssu of [ssuSec, ssuUpd]) {
      for (const lcu of lcus) {
        const order = planBaseline([lcu, cat('KB5002537'), ssu, cat('KB890830')]).flatMap((g) => g.updates.map((u) => u.kb));
        expect(order.indexOf(ssu.kb)).toBeLessThan(order.indexOf(lcu.kb));
        expect(order).toHaveLength(4);
      }
    }
  });

  test('equal input gives equal output, whatever the input order', () => {
    const set = CATALOG.filter((u) => u.appliesTo.includes('win11') || u.appliesTo.includes('server2019'));
    const forward = JSON.stringify(planBaseline([...set]));
    const backward = JSON.stringify(planBaseline([...set].reverse()));
    expect(backward).toBe(forward);
    expect(JSON.stringify(planBaseline([...set]))).toBe(forward);
    // input is not mutated
    const copy = [...set];
    planBaseline(copy);
    expect(copy).toEqual(set);
  });
});

describe('firstBaselineGroup', () => {
  test('the first group, or undefined when nothing is missing', () => {
    expect(firstBaselineGroup([cat('KB5035857'), cat('KB2918614')])).toEqual({ kind: K.WindowsInstaller, updates: [cat('KB2918614')], rebootAfter: true });
    expect(firstBaselineGroup([])).toBeUndefined();
  });
});
