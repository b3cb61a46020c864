import { Classification, type ScannedUpdate } from './device-protocol';

/**
 * Baseline (Kaseya "Initial Update") install order: which group an update belongs to, and the ordered
 * groups a first full patch run installs, with a reboot and a rescan after every group.
 * Pure: no I/O, no clock. See DOMAIN-RULES §2.2, §3.4 and rules 19–21.
 */

/** The groups of a baseline, in the order they install. */
export const BaselineGroupKind = {
  /** The Windows Installer engine: first, so every later MSI-based patch runs on the fixed engine. */
  WindowsInstaller: 'windows_installer',
  /** OS service packs (and enablement packages / feature updates classified "Service Packs"): one per group. */
  OsServicePack: 'os_service_pack',
  /** OS update rollups (e.g. the Malicious Software Removal Tool). */
  OsUpdateRollup: 'os_update_rollup',
  /** OS critical updates (non-security fixes for critical bugs). */
  OsCritical: 'os_critical',
  /** Other OS updates: "Updates", "Feature Packs", "Tools" (servicing stacks are usually here). */
  OsNonCritical: 'os_non_critical',
  /** OS security updates, including the monthly cumulative updates. */
  OsSecurity: 'os_security',
  /**
   * Neither OS nor Office: .NET Framework, Defender (platform and definitions), drivers, anything
   * unrecognised. Installs after the OS groups and before the Office groups (see `GROUP_ORDER`).
   */
  Other: 'other',
  /** Office service packs: one per group. */
  OfficeServicePack: 'office_service_pack',
  /** Office update rollups. */
  OfficeUpdateRollup: 'office_update_rollup',
  /** Every remaining Office update (security, critical, plain updates). */
  OfficeOther: 'office_other',
} as const;
export type BaselineGroupKind = (typeof BaselineGroupKind)[keyof typeof BaselineGroupKind];

/**
 * The install order. Kaseya's nine groups keep their documented order; `other` sits between the OS
 * groups and the Office groups because:
 * - .NET Framework cumulative updates, the Defender platform and drivers are serviced through Windows
 *   (on Windows 10+ .NET updates are .msu packages installed by the same servicing stack), so they want
 *   the OS brought up to date first: the servicing stack, the cumulative update and their restart;
 * - Office (MSI .msp patches) depends on none of them, and keeping the Office groups last preserves
 *   Kaseya's documented tail (Office service packs → Office rollups → remaining Office updates);
 * - definitions and antimalware fixes are security content: better early than after every Office patch.
 */
const GROUP_ORDER: readonly BaselineGroupKind[] = [
  BaselineGroupKind.WindowsInstaller,
  BaselineGroupKind.OsServicePack,
  BaselineGroupKind.OsUpdateRollup,
  BaselineGroupKind.OsCritical,
  BaselineGroupKind.OsNonCritical,
  BaselineGroupKind.OsSecurity,
  BaselineGroupKind.Other,
  BaselineGroupKind.OfficeServicePack,
  BaselineGroupKind.OfficeUpdateRollup,
  BaselineGroupKind.OfficeOther,
];

/** The fields a baseline decision reads. */
export type BaselineUpdate = Pick<ScannedUpdate, 'kb' | 'title' | 'product' | 'classification'>;

/** One group of a baseline: installed together, then a restart and a rescan (whatever the reboot policy). */
export interface BaselineGroup<T extends BaselineUpdate = BaselineUpdate> {
  kind: BaselineGroupKind;
  updates: T[];
  rebootAfter: true;
}

const WINDOWS_INSTALLER = /\bWindows Installer\b/i;
/** Antimalware products stay out of the OS groups even when their product name starts with "Windows". */
const ANTIMALWARE_PRODUCT = /\b(Defender|Security Essentials|Forefront)\b/i;
/**
 * Windows products as WUA names them: "Windows Server 2019", "Windows 10", "Windows 11", "Windows
 * Installer", "Windows Malicious Software Removal Tool", "Windows 10, version 1903 and later", and the
 * Server 2022 product "Microsoft Server Operating System-21H2".
 */
const OS_PRODUCT = /^(Microsoft )?Windows\b|\bserver operating system\b/i;
/** Office products: "Office 2016", "Microsoft 365 Apps", and per-application products ("Excel 2016", …). */
const OFFICE_PRODUCT =
  /^(Microsoft )?Office\b|\bMicrosoft 365\b|\bOffice 365\b|\b(Excel|Word|Outlook|PowerPoint|Visio|Access|Publisher|OneNote|InfoPath|Lync|Skype for Business)\b|\bProject\b(?! Server)/i;
const SERVICING_STACK = /servicing stack/i;
const CUMULATIVE_UPDATE = /cumulative update/i;

/** A servicing stack update (same test as `planInstall`). */
export const isServicingStackUpdate = (u: Pick<ScannedUpdate, 'title'>): boolean => SERVICING_STACK.test(u.title);
/**
 * A cumulative update: the monthly LCU, its previews, and .NET Framework cumulative updates (also
 * installed by the servicing stack on Windows 10+, so the SSU goes before them too).
 */
export const isCumulativeUpdate = (u: Pick<ScannedUpdate, 'title'>): boolean => CUMULATIVE_UPDATE.test(u.title);

/**
 * The baseline group of an update. The product decides OS vs Office (titles only for Windows Installer);
 * the classification decides the group inside them. Definition updates and drivers are never OS groups:
 * they are content for an antimalware engine or a vendor's hardware package, not OS servicing.
 */
export function baselineGroupOf(u: BaselineUpdate): BaselineGroupKind {
  const product = u.product ?? '';
  if (/^Windows Installer\b/i.test(product) || WINDOWS_INSTALLER.test(u.title ?? '')) return BaselineGroupKind.WindowsInstaller;
  if (u.classification === Classification.Definition || u.classification === Classification.Driver) return BaselineGroupKind.Other;
  if (ANTIMALWARE_PRODUCT.test(product)) return BaselineGroupKind.Other;
  if (OS_PRODUCT.test(product)) {
    switch (u.classification) {
      case Classification.ServicePack: return BaselineGroupKind.OsServicePack;
      case Classification.UpdateRollup: return BaselineGroupKind.OsUpdateRollup;
      case Classification.CriticalUpdate: return BaselineGroupKind.OsCritical;
      case Classification.SecurityUpdate: return BaselineGroupKind.OsSecurity;
      // Updates, Feature Packs, Tools, and any classification WUA adds later.
      default: return BaselineGroupKind.OsNonCritical;
    }
  }
  if (OFFICE_PRODUCT.test(product)) {
    switch (u.classification) {
      case Classification.ServicePack: return BaselineGroupKind.OfficeServicePack;
      case Classification.UpdateRollup: return BaselineGroupKind.OfficeUpdateRollup;
      default: return BaselineGroupKind.OfficeOther;
    }
  }
  return BaselineGroupKind.Other;
}

const isServicePackGroup = (kind: BaselineGroupKind) =>
  kind === BaselineGroupKind.OsServicePack || kind === BaselineGroupKind.OfficeServicePack;

/** "KB5031988" → 5031988; NaN when there are no digits. */
const kbNumber = (kb: string) => Number.parseInt(kb.replace(/\D/g, ''), 10);

/** Servicing stacks first, then by KB number, then KB text and title, so equal input gives equal output. */
function compareInGroup(a: BaselineUpdate, b: BaselineUpdate): number {
  const ssu = Number(isServicingStackUpdate(b)) - Number(isServicingStackUpdate(a));
  if (ssu !== 0) return ssu;
  const na = kbNumber(a.kb);
  const nb = kbNumber(b.kb);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return cmp(a.kb.toUpperCase(), b.kb.toUpperCase()) || cmp(a.title, b.title) || cmp(a.product, b.product) || cmp(a.classification, b.classification);
}
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The ordered, non-empty groups of a baseline install for the updates given (pass the missing ones: the
 * plan does not read `installed`). Groups follow `GROUP_ORDER`; every service pack is a group of its own
 * (it installs alone, with its own restart and rescan); within a group servicing stacks come first, then
 * KB order. Every group has `rebootAfter: true`: a baseline restarts and rescans after each group,
 * ignoring the reboot policy (rule 20).
 *
 * Servicing stack before cumulative update (rule 21, §3.4): an SSU always runs before every LCU, either
 * in an earlier group or first in the LCU's own group. When the natural grouping would put an SSU in a
 * group after the first group holding a cumulative update (e.g. an SSU classified "Security Updates"
 * and a cumulative update preview classified "Updates"), the SSU moves into the earliest group that is
 * not a service pack (service packs install alone); if there is none before the cumulative update, it
 * gets a group of its own right before it.
 */
export function planBaseline<T extends BaselineUpdate>(updates: T[]): BaselineGroup<T>[] {
  const sorted = [...updates].sort(compareInGroup);
  const groups: BaselineGroup<T>[] = [];
  for (const kind of GROUP_ORDER) {
    const members = sorted.filter((u) => baselineGroupOf(u) === kind);
    if (members.length === 0) continue;
    if (isServicePackGroup(kind)) for (const u of members) groups.push({ kind, updates: [u], rebootAfter: true });
    else groups.push({ kind, updates: members, rebootAfter: true });
  }

  const firstLcu = groups.findIndex((g) => g.updates.some(isCumulativeUpdate));
  if (firstLcu < 0) return groups;
  const late: T[] = [];
  for (let i = firstLcu + 1; i < groups.length; i++) {
    const group = groups[i]!;
    late.push(...group.updates.filter(isServicingStackUpdate));
    group.updates = group.updates.filter((u) => !isServicingStackUpdate(u));
  }
  if (late.length === 0) return groups;
  const kept = groups.filter((g) => g.updates.length > 0);
  const lcuIndex = kept.findIndex((g) => g.updates.some(isCumulativeUpdate));
  const target = kept.slice(0, lcuIndex + 1).find((g) => !isServicePackGroup(g.kind));
  if (target) {
    target.updates = [...target.updates, ...late].sort(compareInGroup);
    return kept;
  }
  // Only service packs up to and including the cumulative update's group: a group of its own before it.
  const ssuGroup: BaselineGroup<T> = { kind: baselineGroupOf(late[0]!), updates: late.sort(compareInGroup), rebootAfter: true };
  return [...kept.slice(0, lcuIndex), ssuGroup, ...kept.slice(lcuIndex)];
}

/** The first group of a baseline (what the next install cycle installs), or undefined when nothing is left. */
export function firstBaselineGroup<T extends BaselineUpdate>(updates: T[]): BaselineGroup<T> | undefined {
  return planBaseline(updates)[0];
}
