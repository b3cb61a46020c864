import { createHash } from 'node:crypto';
import {
  Classification,
  RebootBehavior,
  Severity,
  type ScannedUpdate,
} from '../domain/device-protocol';

/**
 * The simulated Microsoft Update catalog: what a simulated device's Windows Update Agent finds.
 *
 * KB numbers, titles and dates follow Microsoft's naming for the January–March 2024 releases (and a few
 * older updates that stay applicable for years, such as servicing stacks); sizes are what those packages
 * roughly weigh. Some pairings are illustrative: this is a simulator, not a mirror of the catalog.
 *
 * Microsoft 365 Apps are left out on purpose: Click-to-Run builds ("Version 2401, Build 17231.20236")
 * carry no KB number, and the device protocol names every update by KB.
 */

/** The kinds of Windows a simulated device runs. */
export const DeviceOs = {
  /** Windows Server 2022 (21H2, build 20348) */
  Server2022: 'server2022',
  /** Windows Server 2019 (1809, build 17763) */
  Server2019: 'server2019',
  /** Windows 11 23H2 (build 22631) */
  Win11: 'win11',
  /** Windows 10 22H2 (build 19045) */
  Win10: 'win10',
} as const;
export type DeviceOs = (typeof DeviceOs)[keyof typeof DeviceOs];
export const ALL_OS: readonly DeviceOs[] = Object.values(DeviceOs);

/** One catalog entry: a scanned update without the per-device `installed` flag, plus where it applies. */
export interface CatalogUpdate extends Omit<ScannedUpdate, 'installed'> {
  appliesTo: readonly DeviceOs[];
}

type Entry = {
  kb: string;
  title: string;
  product: string;
  classification: Classification;
  severity: Severity;
  publishedAt: string;
  /** megabytes, as the catalog lists them */
  mb: number;
  reboot: RebootBehavior;
  fileName: string;
  appliesTo: readonly DeviceOs[];
  revision?: number;
};

/** Monthly cumulative updates supersede the earlier months' (Microsoft's LCU model). */
const SUPERSEDED_BY: Record<string, string> = {
  KB5034129: 'KB5035857', KB5034770: 'KB5035857', // Server 2022
  KB5034127: 'KB5035849', KB5034768: 'KB5035849', // Server 2019
  KB5034122: 'KB5035845', KB5034763: 'KB5035845', // Windows 10
  KB5031356: 'KB5035845', KB5032189: 'KB5035845', KB5033372: 'KB5035845',
  KB5032339: 'KB5033909', // .NET Framework on Windows 10
  KB5034123: 'KB5035853', KB5034765: 'KB5035853', KB5034204: 'KB5035853', // Windows 11
};
/**
 * Realistic prerequisites for Server 2019 (1809), for `SimulatedDeviceOptions.prerequisites`: every 1809
 * cumulative update since August 2021 needs the KB5005112 servicing stack first, and Windows reports the
 * cumulative update only once it is in. Opt-in: devices have no prerequisites unless given them.
 */
export const SERVER_2019_PREREQUISITES: Readonly<Record<string, string>> = Object.freeze({
  KB5034127: 'KB5005112',
  KB5034768: 'KB5005112',
  KB5035849: 'KB5005112',
});
/** The last updates that still carried a security bulletin id (bulletins ended in 2017). */
const BULLETINS: Record<string, string> = { KB2918614: 'MS14-049' };
/** .NET Framework 4.8.1 offline packages need an interactive installer: "Manual Install Only". */
const MANUAL_INSTALL_ONLY = new Set(['KB5011258', 'KB5011048']);

/** wusa /uninstall removes .msu updates, except servicing stacks, which Windows never removes. */
function isUninstallable(e: Entry): boolean {
  return e.fileName.endsWith('.msu') && !/servicing stack/i.test(e.title);
}

const { Server2022: S22, Server2019: S19, Win11: W11, Win10: W10 } = DeviceOs;
const C = Classification;
const S = Severity;
const R = RebootBehavior;
/** Office 2016 (MSI) sits on workstations and on RDS session hosts. */
const OFFICE_HOSTS = [W10, W11, S19] as const;

const ENTRIES: Entry[] = [
  // Windows Server 2022 — cumulative updates include the servicing stack since 2021, but standalone SSUs
  // still turn up on older images.
  { kb: 'KB5034129', title: '2024-01 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5034129)', product: 'Windows Server 2022', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-01-09', mb: 331.2, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5034129-x64.msu', appliesTo: [S22] },
  { kb: 'KB5034770', title: '2024-02 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5034770)', product: 'Windows Server 2022', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-02-13', mb: 344.8, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5034770-x64.msu', appliesTo: [S22] },
  { kb: 'KB5035857', title: '2024-03 Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5035857)', product: 'Windows Server 2022', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-03-12', mb: 359.5, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5035857-x64.msu', appliesTo: [S22] },
  // The WinRE update that fails with 0x80070643 when the recovery partition is too small.
  { kb: 'KB5034439', title: '2024-01 Security Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5034439)', product: 'Windows Server 2022', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 251.6, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5034439-x64.msu', appliesTo: [S22] },
  { kb: 'KB5031988', title: '2023-10 Servicing Stack Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5031988)', product: 'Windows Server 2022', classification: C.Update, severity: S.Unrated, publishedAt: '2023-10-10', mb: 14.9, reboot: R.NeverReboots, fileName: 'windows10.0-kb5031988-x64.msu', appliesTo: [S22] },
  { kb: 'KB5033118', title: '2023-12 Update for Microsoft server operating system version 21H2 for x64-based Systems (KB5033118)', product: 'Windows Server 2022', classification: C.CriticalUpdate, severity: S.Unrated, publishedAt: '2023-12-12', mb: 2.3, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5033118-x64.msu', appliesTo: [S22] },
  { kb: 'KB5033914', title: '2024-01 Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Microsoft server operating system version 21H2 for x64 (KB5033914)', product: '.NET Framework', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 71.4, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5033914-x64-ndp481.msu', appliesTo: [S22] },
  { kb: 'KB5011258', title: 'Microsoft .NET Framework 4.8.1 for Microsoft server operating system version 21H2 for x64 (KB5011258)', product: '.NET Framework', classification: C.FeaturePack, severity: S.Unrated, publishedAt: '2022-08-09', mb: 76.8, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5011258-x64-ndp481.msu', appliesTo: [S22] },

  // Windows Server 2019
  { kb: 'KB5034127', title: '2024-01 Cumulative Update for Windows Server 2019 for x64-based Systems (KB5034127)', product: 'Windows Server 2019', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-01-09', mb: 566.1, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5034127-x64.msu', appliesTo: [S19] },
  { kb: 'KB5034768', title: '2024-02 Cumulative Update for Windows Server 2019 for x64-based Systems (KB5034768)', product: 'Windows Server 2019', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-02-13', mb: 579.3, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5034768-x64.msu', appliesTo: [S19] },
  { kb: 'KB5035849', title: '2024-03 Cumulative Update for Windows Server 2019 for x64-based Systems (KB5035849)', product: 'Windows Server 2019', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-03-12', mb: 598.7, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5035849-x64.msu', appliesTo: [S19] },
  // 1809 cumulative updates need this servicing stack first, else 0x800f0823.
  { kb: 'KB5005112', title: '2021-08 Servicing Stack Update for Windows Server 2019 for x64-based Systems (KB5005112)', product: 'Windows Server 2019', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2021-08-10', mb: 13.2, reboot: R.NeverReboots, fileName: 'windows10.0-kb5005112-x64.msu', appliesTo: [S19] },
  { kb: 'KB5034232', title: '2024-01 Security Update for Windows Server 2019 for x64-based Systems (KB5034232)', product: 'Windows Server 2019', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 233.4, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5034232-x64.msu', appliesTo: [S19] },
  { kb: 'KB4589208', title: '2021-01 Update for Windows Server 2019 for x64-based Systems (KB4589208)', product: 'Windows Server 2019', classification: C.Update, severity: S.Unrated, publishedAt: '2021-01-12', mb: 2.9, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb4589208-v2-x64.msu', appliesTo: [S19] },
  { kb: 'KB5033904', title: '2024-01 Cumulative Update for .NET Framework 3.5, 4.7.2 and 4.8 for Windows Server 2019 for x64 (KB5033904)', product: '.NET Framework', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 74.2, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5033904-x64-ndp48.msu', appliesTo: [S19] },

  // Windows 10 22H2
  { kb: 'KB5034122', title: '2024-01 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5034122)', product: 'Windows 10', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-01-09', mb: 651.3, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5034122-x64.msu', appliesTo: [W10] },
  { kb: 'KB5034763', title: '2024-02 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5034763)', product: 'Windows 10', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-02-13', mb: 662.0, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5034763-x64.msu', appliesTo: [W10] },
  { kb: 'KB5035845', title: '2024-03 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5035845)', product: 'Windows 10', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-03-12', mb: 674.9, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5035845-x64.msu', appliesTo: [W10] },
  // The infamous one: fails with 0x80070643 on machines whose WinRE partition is under 250 MB free.
  { kb: 'KB5034441', title: '2024-01 Security Update for Windows 10 Version 22H2 for x64-based Systems (KB5034441)', product: 'Windows 10', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 258.1, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5034441-x64.msu', appliesTo: [W10] },
  { kb: 'KB5031539', title: '2023-10 Servicing Stack Update for Windows 10 Version 22H2 for x64-based Systems (KB5031539)', product: 'Windows 10', classification: C.Update, severity: S.Unrated, publishedAt: '2023-10-10', mb: 15.6, reboot: R.NeverReboots, fileName: 'windows10.0-kb5031539-x64.msu', appliesTo: [W10] },
  { kb: 'KB4023057', title: 'Update for Windows 10 Version 22H2 for x64-based Systems (KB4023057)', product: 'Windows 10', classification: C.CriticalUpdate, severity: S.Unrated, publishedAt: '2023-09-26', mb: 3.1, reboot: R.NeverReboots, fileName: 'windows10.0-kb4023057-x64.msu', appliesTo: [W10], revision: 212 },
  { kb: 'KB5033909', title: '2024-01 Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Windows 10 Version 22H2 for x64 (KB5033909)', product: '.NET Framework', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 72.5, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5033909-x64-ndp481.msu', appliesTo: [W10] },
  { kb: 'KB5011048', title: 'Microsoft .NET Framework 4.8.1 for Windows 10 Version 22H2 for x64 (KB5011048)', product: '.NET Framework', classification: C.FeaturePack, severity: S.Unrated, publishedAt: '2022-08-09', mb: 75.9, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5011048-x64-ndp481.msu', appliesTo: [W10] },
  // Older Windows 10 releases a machine that sat in a drawer still reports (the LCUs are superseded),
  // and the small platform updates that pile up on a never-patched machine.
  { kb: 'KB5031356', title: '2023-10 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5031356)', product: 'Windows 10', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2023-10-10', mb: 612.4, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5031356-x64.msu', appliesTo: [W10] },
  { kb: 'KB5032189', title: '2023-11 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5032189)', product: 'Windows 10', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2023-11-14', mb: 626.7, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5032189-x64.msu', appliesTo: [W10] },
  { kb: 'KB5033372', title: '2023-12 Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB5033372)', product: 'Windows 10', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2023-12-12', mb: 639.0, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb5033372-x64.msu', appliesTo: [W10] },
  { kb: 'KB5032339', title: '2023-11 Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Windows 10 Version 22H2 for x64 (KB5032339)', product: '.NET Framework', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2023-11-14', mb: 70.9, reboot: R.CanRequestReboot, fileName: 'windows10.0-kb5032339-x64-ndp481.msu', appliesTo: [W10] },
  { kb: 'KB4577586', title: 'Update for Removal of Adobe Flash Player for Windows 10 Version 22H2 for x64-based systems (KB4577586)', product: 'Windows 10', classification: C.Update, severity: S.Unrated, publishedAt: '2021-07-13', mb: 0.4, reboot: R.AlwaysRequiresReboot, fileName: 'windows10.0-kb4577586-x64.msu', appliesTo: [W10] },
  { kb: 'KB5005463', title: 'Update for Windows 10 Version 22H2 for x64-based Systems (KB5005463)', product: 'Windows 10', classification: C.Update, severity: S.Unrated, publishedAt: '2023-05-09', mb: 1.4, reboot: R.NeverReboots, fileName: 'windows10.0-kb5005463-x64.msu', appliesTo: [W10] },
  { kb: 'KB5001716', title: 'Update for Windows 10 Version 22H2 for x64-based Systems (KB5001716)', product: 'Windows 10', classification: C.CriticalUpdate, severity: S.Unrated, publishedAt: '2023-08-08', mb: 0.9, reboot: R.NeverReboots, fileName: 'windows10.0-kb5001716-x64.msu', appliesTo: [W10] },
  { kb: 'KB4481252', title: 'Update for Microsoft Silverlight (KB4481252)', product: 'Silverlight', classification: C.FeaturePack, severity: S.Unrated, publishedAt: '2019-02-12', mb: 7.3, reboot: R.NeverReboots, fileName: 'silverlight_x64-kb4481252.exe', appliesTo: [W10] },
  { kb: 'KB5002519', title: 'Security Update for Microsoft Excel 2016 (KB5002519) 64-Bit Edition', product: 'Office 2016', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2023-12-12', mb: 58.4, reboot: R.CanRequestReboot, fileName: 'excel2016-kb5002519-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB5002469', title: 'Security Update for Microsoft Word 2016 (KB5002469) 64-Bit Edition', product: 'Office 2016', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2023-11-14', mb: 29.8, reboot: R.CanRequestReboot, fileName: 'word2016-kb5002469-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB4475581', title: 'Service Pack 1 for Microsoft Office 2016 Language Interface Pack (KB4475581) 64-Bit Edition', product: 'Office 2016', classification: C.ServicePack, severity: S.Unrated, publishedAt: '2019-08-13', mb: 12.2, reboot: R.CanRequestReboot, fileName: 'lip2016-kb4475581-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },

  // Windows 11 23H2
  { kb: 'KB5034123', title: '2024-01 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5034123)', product: 'Windows 11', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-01-09', mb: 640.4, reboot: R.AlwaysRequiresReboot, fileName: 'windows11.0-kb5034123-x64.msu', appliesTo: [W11] },
  { kb: 'KB5034765', title: '2024-02 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5034765)', product: 'Windows 11', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-02-13', mb: 653.7, reboot: R.AlwaysRequiresReboot, fileName: 'windows11.0-kb5034765-x64.msu', appliesTo: [W11] },
  { kb: 'KB5035853', title: '2024-03 Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB5035853)', product: 'Windows 11', classification: C.SecurityUpdate, severity: S.Critical, publishedAt: '2024-03-12', mb: 668.2, reboot: R.AlwaysRequiresReboot, fileName: 'windows11.0-kb5035853-x64.msu', appliesTo: [W11] },
  // An optional non-security preview: no MSRC rating.
  { kb: 'KB5034204', title: '2024-01 Cumulative Update Preview for Windows 11 Version 23H2 for x64-based Systems (KB5034204)', product: 'Windows 11', classification: C.Update, severity: S.Unrated, publishedAt: '2024-01-23', mb: 646.0, reboot: R.AlwaysRequiresReboot, fileName: 'windows11.0-kb5034204-x64.msu', appliesTo: [W11] },
  // Windows no longer ships service packs; the enablement package is today's closest equivalent: a
  // version change that installs alone and wants its own restart.
  { kb: 'KB5027397', title: 'Feature Update to Windows 11, version 23H2 via Enablement Package (KB5027397)', product: 'Windows 11', classification: C.ServicePack, severity: S.Unrated, publishedAt: '2023-10-31', mb: 0.2, reboot: R.AlwaysRequiresReboot, fileName: 'windows11.0-kb5027397-x64.msu', appliesTo: [W11] },
  { kb: 'KB5033920', title: '2024-01 Cumulative Update for .NET Framework 3.5 and 4.8.1 for Windows 11, version 23H2 for x64 (KB5033920)', product: '.NET Framework', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 69.8, reboot: R.CanRequestReboot, fileName: 'windows11.0-kb5033920-x64-ndp481.msu', appliesTo: [W11] },

  // Every kind of Windows
  // Defender definitions change several times a day under the same KB: a new revision each time.
  { kb: 'KB2267602', title: 'Security Intelligence Update for Microsoft Defender Antivirus - KB2267602 (Version 1.407.480.0)', product: 'Microsoft Defender Antivirus', classification: C.Definition, severity: S.Unrated, publishedAt: '2024-03-14', mb: 134.6, reboot: R.NeverReboots, fileName: 'mpam-fe-kb2267602-x64.exe', appliesTo: [S22, S19, W11, W10], revision: 200 },
  { kb: 'KB4052623', title: 'Update for Microsoft Defender Antivirus antimalware platform - KB4052623 (Version 4.18.24020.7)', product: 'Microsoft Defender Antivirus', classification: C.Update, severity: S.Unrated, publishedAt: '2024-03-05', mb: 14.3, reboot: R.NeverReboots, fileName: 'updateplatform-kb4052623-x64.exe', appliesTo: [S22, S19, W11, W10], revision: 1 },
  { kb: 'KB890830', title: 'Windows Malicious Software Removal Tool x64 - v5.122 (KB890830)', product: 'Windows Malicious Software Removal Tool', classification: C.UpdateRollup, severity: S.Unrated, publishedAt: '2024-03-12', mb: 79.6, reboot: R.NeverReboots, fileName: 'windows-kb890830-x64-v5.122.exe', appliesTo: [S22, S19, W11, W10], revision: 122 },
  // Baselines install the installer engine first (Kaseya's Initial Update order); modelled on the
  // MS14-049 Windows Installer service fix so that ordering has something to act on.
  { kb: 'KB2918614', title: 'Security Update for Windows Installer (KB2918614)', product: 'Windows Installer', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2014-08-12', mb: 1.9, reboot: R.CanRequestReboot, fileName: 'windowsinstaller-kb2918614-x64.msu', appliesTo: [S22, S19, W11, W10] },

  // Office 2016 (MSI): updates ship as .exe wrappers around .msp patches; a restart only when files are in use.
  { kb: 'KB5002537', title: 'Security Update for Microsoft Office 2016 (KB5002537) 64-Bit Edition', product: 'Office 2016', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-01-09', mb: 45.7, reboot: R.CanRequestReboot, fileName: 'mso2016-kb5002537-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB5002542', title: 'Security Update for Microsoft Excel 2016 (KB5002542) 64-Bit Edition', product: 'Office 2016', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-02-13', mb: 61.2, reboot: R.CanRequestReboot, fileName: 'excel2016-kb5002542-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB5002538', title: 'Security Update for Microsoft Outlook 2016 (KB5002538) 64-Bit Edition', product: 'Office 2016', classification: C.SecurityUpdate, severity: S.Important, publishedAt: '2024-02-13', mb: 54.8, reboot: R.CanRequestReboot, fileName: 'outlook2016-kb5002538-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB5002467', title: 'Security Update for Microsoft Word 2016 (KB5002467) 64-Bit Edition', product: 'Office 2016', classification: C.SecurityUpdate, severity: S.Moderate, publishedAt: '2023-10-10', mb: 30.4, reboot: R.CanRequestReboot, fileName: 'word2016-kb5002467-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB5002511', title: 'Security Update for Microsoft Visio 2016 (KB5002511) 64-Bit Edition', product: 'Office 2016', classification: C.SecurityUpdate, severity: S.Low, publishedAt: '2023-12-12', mb: 22.1, reboot: R.CanRequestReboot, fileName: 'visio2016-kb5002511-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB5002520', title: 'Update for Microsoft Office 2016 (KB5002520) 64-Bit Edition', product: 'Office 2016', classification: C.Update, severity: S.Unrated, publishedAt: '2024-01-02', mb: 19.6, reboot: R.NeverReboots, fileName: 'mso2016-kb5002520-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
  { kb: 'KB4484104', title: 'Update for Microsoft Office 2016 (KB4484104) 64-Bit Edition', product: 'Office 2016', classification: C.CriticalUpdate, severity: S.Unrated, publishedAt: '2019-10-08', mb: 4.4, reboot: R.NeverReboots, fileName: 'mso2016-kb4484104-fullfile-x64-glb.exe', appliesTo: OFFICE_HOSTS },
];

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/** A stable GUID-shaped WUA update id derived from the KB, so every run sees the same ids. */
function updateIdOf(kb: string): string {
  const h = sha256Hex(`patchflow-simulated-catalog:${kb}`);
  // Version nibble 5 and RFC 4122 variant bits, as a name-based UUID would carry.
  const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Catalog download folders: "secu" for security releases, "defu" for definitions, "updt" otherwise. */
function downloadUrlOf(e: Entry): string {
  const folder = e.classification === C.SecurityUpdate ? 'secu' : e.classification === C.Definition ? 'defu' : 'updt';
  const [year, month] = e.publishedAt.split('-');
  return `https://catalog.s.download.windowsupdate.com/d/msdownload/update/software/${folder}/${year}/${month}/${e.fileName}`;
}

/** Simulated installers are tiny: the catalog's size is what a device reports, not what it writes. */
export const SIMULATED_FILE_BYTES = 1024;

type FileIdentity = Pick<CatalogUpdate, 'kb' | 'updateId' | 'revision' | 'fileName'>;

/** The bytes a simulated download writes for an update: a readable header padded to 1 KiB. */
export function simulatedFileContent(update: FileIdentity): Buffer {
  const header = `PATCHFLOW-SIMULATED-UPDATE\n${update.kb}\n${update.updateId}\n${update.revision}\n${update.fileName}\n`;
  return Buffer.from(header.padEnd(SIMULATED_FILE_BYTES, '.'), 'utf8');
}

function toCatalogUpdate(e: Entry): CatalogUpdate {
  const base = {
    updateId: updateIdOf(e.kb),
    revision: e.revision ?? 100 + (parseInt(sha256Hex(e.kb).slice(0, 4), 16) % 150),
    kb: e.kb,
    fileName: e.fileName,
  };
  return {
    ...base,
    title: e.title,
    product: e.product,
    classification: e.classification,
    severity: e.severity,
    publishedAt: e.publishedAt,
    sizeBytes: Math.round(e.mb * 1024 * 1024),
    sha256: sha256Hex(simulatedFileContent(base)),
    downloadUrl: downloadUrlOf(e),
    rebootBehavior: e.reboot,
    securityBulletin: BULLETINS[e.kb] ?? null,
    installType: MANUAL_INSTALL_ONLY.has(e.kb) ? 'manual_install_only' : 'normal',
    supersededBy: SUPERSEDED_BY[e.kb] ?? null,
    uninstallable: isUninstallable(e),
    appliesTo: e.appliesTo,
  };
}

/** Every update the simulator knows, in catalog order. KBs are unique. */
export const CATALOG: readonly CatalogUpdate[] = Object.freeze(ENTRIES.map(toCatalogUpdate));

const BY_KB = new Map(CATALOG.map((u) => [u.kb, u]));
const BY_UPDATE_ID = new Map(CATALOG.map((u) => [u.updateId, u]));
if (BY_KB.size !== CATALOG.length) throw new Error('simulated catalog: duplicate KB');

/** "kb5034441" or "5034441" → "KB5034441". */
export const normaliseKb = (kb: string) => kb.trim().toUpperCase().replace(/^(\d)/, 'KB$1');

/** The updates applicable to a kind of Windows, in catalog order. */
export function catalogFor(os: DeviceOs): CatalogUpdate[] {
  return CATALOG.filter((u) => u.appliesTo.includes(os));
}

/** A catalog update by KB or WUA update id. */
export function findUpdate(ref: { kb?: string; updateId?: string }): CatalogUpdate | undefined {
  return (ref.updateId ? BY_UPDATE_ID.get(ref.updateId) : undefined) ?? (ref.kb ? BY_KB.get(normaliseKb(ref.kb)) : undefined);
}

/** The SHA-256 (lower-case hex) of any buffer: what devices compare against the catalog. */
export function sha256Of(data: Buffer): string {
  return sha256Hex(data);
}
