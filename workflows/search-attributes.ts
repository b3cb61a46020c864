/**
 * Search attributes that let an operator find every workflow of a device, client or site in the
 * Temporal Web UI (e.g. `DeviceId = "…"`, `DeviceName = "NORT-WS-09"`). Registered by `npm start` and the tests' dev server.
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';

export const DeviceIdAttr = defineSearchAttributeKey('DeviceId', SearchAttributeType.KEYWORD);
/** The device's host name as operators know it ("NORT-WS-09"): `DeviceName = "NORT-WS-09"` lists its workflows. */
export const DeviceNameAttr = defineSearchAttributeKey('DeviceName', SearchAttributeType.KEYWORD);
export const ClientIdAttr = defineSearchAttributeKey('ClientId', SearchAttributeType.KEYWORD);
export const SiteIdAttr = defineSearchAttributeKey('SiteId', SearchAttributeType.KEYWORD);
/** "install", "scan", "initial-update", "automatic-update" */
export const OperationAttr = defineSearchAttributeKey('Operation', SearchAttributeType.KEYWORD);
export const PatchKBsAttr = defineSearchAttributeKey('PatchKBs', SearchAttributeType.KEYWORD_LIST);

export const PATCHFLOW_SEARCH_ATTRIBUTES = [DeviceIdAttr, DeviceNameAttr, ClientIdAttr, SiteIdAttr, OperationAttr, PatchKBsAttr];

/** What names a device in the Web UI: its ids and host name. */
export interface DeviceLabels { id: string; name: string; clientId: string; siteId: string }
/** A device as a workflow start names it: its labels, and its client's and site's names for the summary. */
export interface NamedDevice extends DeviceLabels { clientName: string; siteName: string }

/**
 * The search attributes of a workflow about one device, built here only, so that every start (API,
 * rollout, Initial Update, scope scan, Patch Test) can be found the same way: `DeviceId = "…"` and
 * `Operation = "install"` list them whoever started them.
 */
export function deviceSearchAttributes(device: DeviceLabels, operation: string, kbs?: string[]): SearchAttributePair[] {
  const attributes: SearchAttributePair[] = [
    { key: DeviceIdAttr, value: device.id },
    { key: DeviceNameAttr, value: device.name },
    { key: ClientIdAttr, value: device.clientId },
    { key: SiteIdAttr, value: device.siteId },
    { key: OperationAttr, value: operation },
  ];
  if (kbs) attributes.push({ key: PatchKBsAttr, value: kbs });
  return attributes;
}
