/**
 * The boundary between the Windows executor and agent/windows/wua.ps1: the JSON the script prints, one
 * schema per verb. The script is ours, but what it prints comes from COM objects on a machine we do not
 * control, so it is parsed like any other input: a shape we do not know is refused with what was wrong,
 * never half-read. Field names follow the Windows Update Agent API (wuapi.h): IUpdate, ISearchResult,
 * IDownloadResult / IUpdateDownloadResult, IInstallationResult / IUpdateInstallationResult.
 */
import { z } from 'zod';

/** A WUA update id (IUpdateIdentity.UpdateID): a GUID, the only server-derived value the script ever receives. */
export const WUA_GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
export const wuaGuidSchema = z.string().regex(WUA_GUID, 'must be a GUID such as 8b7e0a41-9e0c-4b6e-a6b2-3c2e6f1f5c11');

/** HRESULTs come out of PowerShell as signed Int32 (-2145124318); Patchflow compares them unsigned (0x80240022). */
const hresult = z.number().int().min(-2147483648).max(4294967295).transform((v) => v >>> 0);
/** OperationResultCode (domain/wua-outcomes.ts): 0 NotStarted … 5 Aborted. */
const resultCode = z.number().int().min(0).max(5);

/** One IUpdate as the script reports it. */
export const wuaUpdateSchema = z.object({
  updateId: wuaGuidSchema,
  /** IUpdateIdentity.RevisionNumber */
  revision: z.number().int().min(0),
  title: z.string().max(1000),
  /** IUpdate.KBArticleIDs: digits only ("5034441"), Windows leaves out the "KB" */
  kbArticleIds: z.array(z.string().regex(/^\d{4,8}$/, 'must be the digits of a KB number')).max(20),
  isInstalled: z.boolean(),
  isHidden: z.boolean(),
  isDownloaded: z.boolean(),
  /** IUpdate.RebootRequired: installed, and waiting for a restart to finish */
  rebootRequired: z.boolean(),
  /** IUpdateInstallationBehavior.RebootBehavior: 0 NeverReboots, 1 AlwaysRequiresReboot, 2 CanRequestReboot */
  rebootBehavior: z.number().int().min(0).max(2),
});
export type WuaUpdate = z.infer<typeof wuaUpdateSchema>;

/** `wua.ps1 search`: IUpdateSearcher.Search("IsInstalled=0 and IsHidden=0") plus Search("IsInstalled=1"). */
export const searchOutputSchema = z.object({
  verb: z.literal('search'),
  /** ISearchResult.ResultCode of the missing-updates search (the installed search must succeed too, or the script fails) */
  resultCode,
  updates: z.array(wuaUpdateSchema).max(10000),
  /** free bytes on the system drive, for the scan report */
  freeDiskBytes: z.number().int().min(0),
});
export type SearchOutput = z.infer<typeof searchOutputSchema>;

/** One row of GetUpdateResult(i), in the order of the collection the script was given. */
export const perUpdateResultSchema = z.object({
  updateId: wuaGuidSchema,
  resultCode,
  hresult,
  /** IUpdateInstallationResult.RebootRequired (absent for downloads) */
  rebootRequired: z.boolean().default(false),
});
export type PerUpdateResult = z.infer<typeof perUpdateResultSchema>;

/** `wua.ps1 download <args.json>`: IUpdate2.CopyToCache of the verified files, then IUpdateDownloader.Download. */
export const downloadOutputSchema = z.object({
  verb: z.literal('download'),
  /** IDownloadResult.ResultCode / HResult: the collection's, read only when a per-update row says nothing */
  resultCode,
  hresult,
  updates: z.array(perUpdateResultSchema).max(1000),
});
export type DownloadOutput = z.infer<typeof downloadOutputSchema>;

/** `wua.ps1 install <args.json>`: IUpdateInstaller.Install, or nothing when a restart must come first. */
export const installOutputSchema = z.object({
  verb: z.literal('install'),
  /** IUpdateInstaller.RebootRequiredBeforeInstallation: true → the script installed nothing */
  rebootRequiredBeforeInstallation: z.boolean(),
  /** IInstallationResult.ResultCode / HResult / RebootRequired: the collection's */
  resultCode,
  hresult,
  rebootRequired: z.boolean(),
  updates: z.array(perUpdateResultSchema).max(1000),
});
export type InstallOutput = z.infer<typeof installOutputSchema>;

/**
 * `wua.ps1 reboot-pending`: the registry keys of ../shared/DOMAIN-RULES.md §3.3, each true when set,
 * the last boot time (the boot id) and the console user (reboot modes).
 */
export const rebootPendingOutputSchema = z.object({
  verb: z.literal('reboot-pending'),
  /** Win32_OperatingSystem.LastBootUpTime, UTC: changes on every boot */
  lastBootUpTime: z.string().datetime({ offset: true }),
  /** Win32_ComputerSystem.UserName: the user at the console, null when nobody is logged on there */
  loggedOnUser: z.string().max(300).nullable(),
  keys: z.object({
    /** HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending */
    cbsRebootPending: z.boolean(),
    /** ...\Component Based Servicing\RebootInProgress */
    cbsRebootInProgress: z.boolean(),
    /** ...\Component Based Servicing\PackagesPending */
    cbsPackagesPending: z.boolean(),
    /** HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired */
    wuRebootRequired: z.boolean(),
    /** ...\WindowsUpdate\Auto Update\PostRebootReporting */
    wuPostRebootReporting: z.boolean(),
    /** ...\WindowsUpdate\Services\Pending has a subkey */
    wuServicesPending: z.boolean(),
    /** HKLM\SYSTEM\CurrentControlSet\Control\Session Manager: PendingFileRenameOperations(2) */
    pendingFileRenameOperations: z.boolean(),
    /** HKLM\SOFTWARE\Microsoft\Updates: UpdateExeVolatile ≠ 0 */
    updateExeVolatile: z.boolean(),
  }),
});
export type RebootPendingOutput = z.infer<typeof rebootPendingOutputSchema>;
export type RebootKeys = RebootPendingOutput['keys'];

/** What the script prints when a COM call threw: the exception's HResult and message. */
export const scriptErrorSchema = z.object({
  verb: z.string().max(50),
  error: z.object({ hresult, message: z.string().max(4000) }),
});

/** `wua.ps1 folder-acl <args.json>`: each folder's owner and access rules, by SID (Get-Acl). */
export const folderAclOutputSchema = z.object({
  verb: z.literal('folder-acl'),
  folders: z.array(z.object({
    path: z.string().max(300),
    exists: z.boolean(),
    ownerSid: z.string().max(200).nullable(),
    rules: z.array(z.object({
      sid: z.string().max(200),
      /** AccessControlType Allow (false: Deny, which only takes rights away) */
      allow: z.boolean(),
      /** FileSystemRights as a number (generic rights included, as they appear in the ACE) */
      rights: z.number().int().min(-2147483648).max(4294967295).transform((v) => v >>> 0),
      /** PropagationFlags.InheritOnly: the rule applies to children only, not to this folder */
      inheritOnly: z.boolean(),
    })).max(200),
  })).max(10),
});
export type FolderAclOutput = z.infer<typeof folderAclOutputSchema>;
export type FolderAcl = FolderAclOutput['folders'][number];

/**
 * What `services` prints (Get-Service, one row per name asked): whether the service exists, its
 * status as PowerShell names it ("Running", "Stopped", "StartPending"...) and its start type.
 */
export const servicesOutputSchema = z.object({
  verb: z.literal('services'),
  services: z.array(z.object({
    name: z.string().min(1).max(80), found: z.boolean(), status: z.string().max(40).nullable(),
    /** ServiceStartMode as PowerShell names it ("Automatic", "Manual", "Disabled", "Boot", "System"); the Patch Test reads it */
    startType: z.string().max(40).nullable().optional(),
  })).max(20),
});
export type ServicesOutput = z.infer<typeof servicesOutputSchema>;

export const WuaVerb = { Search: 'search', Download: 'download', Install: 'install', RebootPending: 'reboot-pending', FolderAcl: 'folder-acl', Services: 'services' } as const;
export type WuaVerb = (typeof WuaVerb)[keyof typeof WuaVerb];

export const outputSchemas = {
  search: searchOutputSchema,
  download: downloadOutputSchema,
  install: installOutputSchema,
  'reboot-pending': rebootPendingOutputSchema,
  'folder-acl': folderAclOutputSchema,
  services: servicesOutputSchema,
} as const satisfies Record<WuaVerb, z.ZodType>;

/** The arguments file of `services`: names checked as domain/health-check.ts checks them, nothing else. */
export const servicesArgsSchema = z.object({ services: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,79}$/)).min(1).max(20) });

/** The arguments file of `folder-acl`: canonical folders (domain/folders.ts), nothing else. */
export const folderArgsSchema = z.object({ folders: z.array(z.string().min(1).max(300)).min(1).max(10) });

/** The arguments file the script reads (never argv text): update ids, and the verified files for CopyToCache. */
export const scriptArgsSchema = z.object({
  updateIds: z.array(wuaGuidSchema).min(1).max(100),
  files: z.array(z.string().min(1).max(300)).max(100).default([]),
});
export type ScriptArgs = z.infer<typeof scriptArgsSchema>;

/** "body.updates.0.updateId: must be a GUID ..." for an operator or a log line. */
export function describeSchemaError(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
