/**
 * Search attributes that let an operator find every workflow of a device, client or site in the
 * Temporal Web UI (e.g. `DeviceId = "…"`, `DeviceName = "NORT-WS-09"`). Registered by `npm start` and the tests' dev server.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const DeviceIdAttr = defineSearchAttributeKey('DeviceId', SearchAttributeType.KEYWORD);
/** The device's host name as operators know it ("NORT-WS-09"): `DeviceName = "NORT-WS-09"` lists its workflows. */
export const DeviceNameAttr = defineSearchAttributeKey('DeviceName', SearchAttributeType.KEYWORD);
export const ClientIdAttr = defineSearchAttributeKey('ClientId', SearchAttributeType.KEYWORD);
export const SiteIdAttr = defineSearchAttributeKey('SiteId', SearchAttributeType.KEYWORD);
/** "install", "scan", "initial-update", "automatic-update" */
export const OperationAttr = defineSearchAttributeKey('Operation', SearchAttributeType.KEYWORD);
export const PatchKBsAttr = defineSearchAttributeKey('PatchKBs', SearchAttributeType.KEYWORD_LIST);

export const PATCHFLOW_SEARCH_ATTRIBUTES = [DeviceIdAttr, DeviceNameAttr, ClientIdAttr, SiteIdAttr, OperationAttr, PatchKBsAttr];
