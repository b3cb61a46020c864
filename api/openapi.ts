import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { createKeySchema, createUserSchema, keyIdParam, userIdParam, apiKeyResponse, mintedKeyResponse, userResponse, whoamiResponse } from './access-schemas';
import { alertRuleIdParam, createAlertRuleSchema, deliveryIdParam, listAlertsQuery, updateAlertRuleSchema } from './alert-schemas';
import {
  approvalRequestListResponse, approvalRequestResponse, decisionResponse, decisionSchema, listRequestsQuery, pendingApprovalResponse, requestIdParam,
} from './approval-request-schemas';
import {
  dashboardConfigResponse, deviceWorkflowsResponse, fleetQuery, fleetSummaryResponse, loginCodeResponse, loginCodeSchema, patchManagementPreviewResponse,
  patchManagementPreviewSchema, patchStatusCountsResponse, rolloutProgressResponse, rolloutQuery,
} from './dashboard-schemas';
import { bootIdHeader, commandIdParam, fileHashParam, enrollSchema, outcomeSchema, pollQuerySchema, progressSchema } from './agent-schemas';
import { catalogImportQuery, catalogSyncBody, catalogSyncParams, rotateSchema } from './catalog-schemas';
import {
  auditQuery, cancelInstallSchema, clientIdParam, createClientSchema, createDeviceSchema, createSiteDocSchema, deviceIdParam, siteIdParam, updateSiteDocSchema, devicePatchesQuery,
  clearNeedsAttentionSchema, installParams, listDevicesQuery, listSitesQuery, retireDeviceQuery, scopeScanSchema, startInitialUpdateSchema, startInstallSchema, updateDeviceSchema,
} from './operator-schemas';
import {
  approvalByPatchSchema, copyApprovalsSchema, createPolicySchema, defaultSchema, deleteDefaultSchema, kbOverrideSchema, kbParam, memberSchema,
  patchActionsQuery, patchActionsSchema, patchListQuery, policyApprovalsSchema, policyIdParam, summaryQuery, updatePolicySchema,
} from './policy-schemas';
import { listReportsQuery, patchOverviewQuery, reportIdParam } from './report-schemas';
import {
  createReleasePlanSchema, releaseActionSchema, releaseIdParam, releasePlanIdParam, releasePlanListResponse, releasePlanResponse, releaseResponse, startReleaseSchema,
} from './release-schemas';
import * as answer from './response-schemas';
import { backfillSchema, createScheduleSchema, scheduleIdParam, updateScheduleSchema } from './schedule-schemas';
import { startPatchTestSchema } from './patch-test-api';
import { whatIfSchema } from './what-if-schemas';
import { haltResumedResponse, haltSchema, haltSetResponse, haltStateResponse, resumeSchema } from './halt-schemas';

/**
 * The API's contract, one entry per route: what it takes (the same zod schemas the handlers parse
 * with) and what it answers (api/response-schemas.ts). The OpenAPI 3.1 document served at
 * /api/v1/openapi.json is generated from this table; test/unit/openapi-routes.test.ts fails when a
 * route is registered with express but missing here, or listed here but not routed.
 *
 * Adding a route: add one `RouteSpec` below (method, express path, who may call it, its input
 * schemas and its answers by status). The codes every route of its kind can answer (400, 401, 404,
 * 413, 415, 429) are added by `commonAnswers`, so list only the route's own.
 */

export type Door = 'operator' | 'device' | 'public';
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type ZodObjectLike = z.ZodObject | z.ZodType;
/** An answer: a JSON schema, `null` for no body (204), or content by media type. */
type Answer = { description: string; json?: z.ZodType; content?: Record<string, z.ZodType>; headers?: Record<string, string>; links?: Record<string, LinkSpec> } | null;
interface LinkSpec { operationId: string; parameters: Record<string, string>; description?: string }

export interface RouteSpec {
  method: Method;
  /** the express path, e.g. /api/v1/devices/:deviceId */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  door: Door;
  params?: ZodObjectLike;
  query?: ZodObjectLike;
  headers?: ZodObjectLike;
  /** a JSON body (or content by media type) */
  body?: z.ZodType;
  bodyContent?: Record<string, z.ZodType>;
  /** the body may be left out (routes that take `{}` or nothing) */
  bodyOptional?: boolean;
  /** a JSON body that works (docs, and schemathesis's examples phase, whose answers feed its links) */
  bodyExample?: unknown;
  /** a public route whose body carries the credential (enrollment token, login code): what its 401 means */
  bodyCredential?: string;
  answers: Partial<Record<200 | 201 | 202 | 204 | 403 | 404 | 409 | 422 | 502 | 503, Answer>>;
}

const noBody = z.object({}).strict();
const deviceLink = (operationId: string): LinkSpec => ({ operationId, parameters: { deviceId: '$response.body#/device/id' } });
const idLink = (operationId: string, param = 'id'): LinkSpec => ({ operationId, parameters: { [param]: '$response.body#/id' } });
const notFound = (what: string): Answer => ({ description: `no such ${what}` });
/** 202 of an action that reaches more devices than the two-person rule allows: it waits for a second person. */
const waitsForApproval = 'the action reaches more devices than the two-person rule allows: it waits as a pending request (Location) until a second person approves it';
const pending = (what: string, json: z.ZodType): Answer => ({ description: `${what}; or ${waitsForApproval}`, json: z.union([json, pendingApprovalResponse]), headers: { Location: 'the approval request, when one was made' } });

export const ROUTES: RouteSpec[] = [
  // ---- health, metrics, contract ------------------------------------------------------------------
  { method: 'get', path: '/healthz', operationId: 'health', summary: 'Liveness: the process answers', tag: 'health', door: 'public', answers: { 200: { description: 'up', json: answer.health } } },
  {
    method: 'get', path: '/metrics', operationId: 'metrics', summary: 'Prometheus metrics', tag: 'health', door: 'operator',
    answers: { 200: { description: 'Prometheus text exposition', content: { 'text/plain': z.string() } } },
  },
  {
    method: 'get', path: '/api/v1/openapi.json', operationId: 'openapi', summary: 'This OpenAPI 3.1 document', tag: 'contract', door: 'operator',
    answers: { 200: { description: 'the contract', json: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }) } },
  },

  {
    method: 'get', path: '/api/v1/docs', operationId: 'docs', summary: 'The API docs page (Swagger UI, served from the bundled package)', tag: 'contract', door: 'public',
    description: 'Static: the page asks for an API key and sends it with every call it makes, the contract included.',
    answers: { 200: { description: 'the page', content: { 'text/html': z.string() } } },
  },
  {
    method: 'get', path: '/api/v1/docs/assets/:file', operationId: 'docsAsset', summary: "The docs page's script and style sheet", tag: 'contract', door: 'public',
    params: z.object({ file: z.enum(['swagger-ui.css', 'swagger-ui-bundle.js']) }),
    answers: { 200: { description: 'the file', content: { 'text/css': z.string(), 'text/javascript': z.string() } } },
  },

  // ---- fleet --------------------------------------------------------------------------------------
  {
    method: 'post', path: '/api/v1/clients', operationId: 'createClient', summary: 'Create a client (a customer of the MSP)', tag: 'fleet', door: 'operator', body: createClientSchema, bodyExample: { name: 'Acme' },
    answers: { 201: { description: 'created', json: answer.client, headers: { Location: 'the new client' }, links: { createSite: idLink('createSite', 'clientId') } }, 409: { description: 'a client of that name exists' } },
  },
  { method: 'get', path: '/api/v1/clients', operationId: 'listClients', summary: 'List clients', tag: 'fleet', door: 'operator', answers: { 200: { description: 'clients', json: answer.clientList } } },
  {
    method: 'post', path: '/api/v1/clients/:clientId/sites', operationId: 'createSite', summary: 'Create a site of a client', tag: 'fleet', door: 'operator', params: clientIdParam, body: createSiteDocSchema, bodyExample: { name: 'HQ' },
    description: 'fileSource is optional: without it the site downloads from the internet (the catalog URL), as before file sources existed.',
    answers: {
      201: { description: 'created', json: answer.site }, 404: notFound('client'), 409: { description: 'the client has a site of that name' },
      422: { description: 'fileSource.source is not a file source (the answer names the field)' },
    },
  },
  { method: 'get', path: '/api/v1/sites', operationId: 'listSites', summary: 'List sites', tag: 'fleet', door: 'operator', query: listSitesQuery, answers: { 200: { description: 'sites', json: answer.siteList } } },
  {
    method: 'patch', path: '/api/v1/sites/:siteId', operationId: 'updateSite', summary: "Set a site's file source (where its devices get patch files)", tag: 'fleet', door: 'operator', params: siteIdParam, body: updateSiteDocSchema,
    bodyExample: { fileSource: { source: 'cache', fallback: true } },
    description: 'Applies to downloads signed from now on; a download step already sent keeps the sources it was signed with. Audited as site.file_source_set (before and after).',
    answers: { 200: { description: 'the site', json: answer.site }, 404: notFound('site'), 422: { description: 'fileSource.source is not a file source (the answer names the field)' } },
  },
  {
    method: 'post', path: '/api/v1/devices', operationId: 'createDevice', summary: 'Register a device; answers its one-time enrollment token', tag: 'fleet', door: 'operator', body: createDeviceSchema,
    answers: {
      201: {
        description: 'registered', json: answer.deviceCreated, headers: { Location: 'the new device' },
        links: {
          getDevice: deviceLink('getDevice'), updateDevice: deviceLink('updateDevice'), listDevicePatches: deviceLink('listDevicePatches'),
          startInstall: deviceLink('startInstall'), startDeviceScan: deviceLink('startDeviceScan'), getDeviceApprovals: deviceLink('getDeviceApprovals'),
          issueEnrollmentToken: deviceLink('issueEnrollmentToken'), retireDevice: deviceLink('retireDevice'), getLastScan: deviceLink('getLastScan'),
          startInitialUpdate: deviceLink('startInitialUpdate'), getInitialUpdate: deviceLink('getInitialUpdate'), revokeDeviceCredential: deviceLink('revokeDeviceCredential'),
        },
      },
      404: notFound('site'), 409: { description: 'the site has a device of that name' }, 422: { description: 'a folder breaks the folder rules' },
    },
  },
  { method: 'get', path: '/api/v1/devices', operationId: 'listDevices', summary: 'List devices', tag: 'fleet', door: 'operator', query: listDevicesQuery, answers: { 200: { description: 'devices', json: answer.deviceList } } },
  { method: 'get', path: '/api/v1/devices/:deviceId', operationId: 'getDevice', summary: 'One device', tag: 'fleet', door: 'operator', params: deviceIdParam, answers: { 200: { description: 'the device', json: answer.device }, 404: notFound('device') } },
  {
    method: 'patch', path: '/api/v1/devices/:deviceId', operationId: 'updateDevice', summary: "Change a device's working and install folders", tag: 'fleet', door: 'operator', params: deviceIdParam, body: updateDeviceSchema,
    answers: { 200: { description: 'changed', json: answer.device }, 404: notFound('device') },
  },
  {
    method: 'delete', path: '/api/v1/devices/:deviceId', operationId: 'retireDevice', summary: 'Retire a device (its history stays)', tag: 'fleet', door: 'operator', params: deviceIdParam, query: retireDeviceQuery,
    answers: { 200: { description: 'retired', json: answer.deviceRetired }, 404: notFound('device'), 409: { description: 'an install or Initial Update runs on it (use force=true)' } },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/needs-attention/clear', operationId: 'clearNeedsAttention', summary: 'Clear a device\'s "needs attention" after fixing what an automatic rollback could not (the note is audited)', tag: 'fleet', door: 'operator', params: deviceIdParam, body: clearNeedsAttentionSchema,
    bodyExample: { note: 'removed KB5034441 by hand with DISM, services start again' },
    answers: { 200: { description: 'cleared', json: answer.device }, 404: notFound('device'), 409: { description: 'the device does not need attention' } },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/credential/revoke', operationId: 'revokeDeviceCredential', summary: "Revoke a device's credential", tag: 'fleet', door: 'operator', params: deviceIdParam, bodyOptional: true, body: noBody,
    answers: { 200: { description: 'revoked (false: it had none)', json: answer.credentialRevoked }, 404: notFound('device'), 409: { description: 'the device is retired' } },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/enrollment-token', operationId: 'issueEnrollmentToken', summary: 'Issue a new enrollment token (shown once)', tag: 'fleet', door: 'operator', params: deviceIdParam, bodyOptional: true, body: noBody,
    answers: { 201: { description: 'issued', json: answer.enrollmentTokenIssued }, 404: notFound('device'), 409: { description: 'the device is retired' } },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/patches', operationId: 'listDevicePatches', summary: "A device's patches and their statuses", tag: 'patches', door: 'operator', params: deviceIdParam, query: devicePatchesQuery,
    answers: { 200: { description: 'patches', json: answer.devicePatches }, 404: notFound('device') },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/approvals', operationId: 'getDeviceApprovals', summary: 'What approval decides for each patch of a device, and why', tag: 'approvals', door: 'operator', params: deviceIdParam,
    answers: { 200: { description: 'decisions', json: answer.deviceApprovals }, 404: notFound('device') },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/last-scan', operationId: 'getLastScan', summary: "A device's last scan", tag: 'scans', door: 'operator', params: deviceIdParam,
    answers: { 200: { description: 'the last scan', json: answer.lastScan }, 404: notFound('device or scan') },
  },

  // ---- installs, Initial Update, scans --------------------------------------------------------------
  {
    method: 'post', path: '/api/v1/devices/:deviceId/installs', operationId: 'startInstall', summary: 'Install approved missing patches (or these KBs) on a device', tag: 'installs', door: 'operator', params: deviceIdParam, body: startInstallSchema,
    answers: {
      202: {
        description: 'started', json: answer.operationStarted, headers: { Location: 'the install' },
        links: { getInstall: { operationId: 'getInstall', parameters: { deviceId: '$request.path.deviceId', key: '$response.body#/key' } } },
      },
      404: notFound('device'), 409: { description: 'the device is busy with another install operation, or retired' }, 422: { description: 'nothing to install' },
    },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/installs/:key', operationId: 'getInstall', summary: "An install's progress and result", tag: 'installs', door: 'operator', params: installParams,
    answers: { 200: { description: 'the install', json: answer.installState }, 404: notFound('install') },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/installs/:key/cancel', operationId: 'cancelInstall', summary: 'Cancel an install (cleanup still runs)', tag: 'installs', door: 'operator', params: installParams, body: cancelInstallSchema,
    answers: { 202: { description: 'cancellation accepted', json: answer.cancelAccepted }, 404: notFound('install'), 409: { description: 'already finished' } },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/initial-update', operationId: 'startInitialUpdate', summary: 'Start the Initial Update (baseline) of a device', tag: 'installs', door: 'operator', params: deviceIdParam, body: startInitialUpdateSchema, bodyOptional: true,
    answers: {
      200: { description: 'one already runs: its id', json: answer.initialUpdateStarted },
      202: { description: 'started', json: answer.initialUpdateStarted, headers: { Location: 'the Initial Update' } },
      404: notFound('device'), 409: { description: 'the device is busy or retired' },
    },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/initial-update', operationId: 'getInitialUpdate', summary: "The device's Initial Update", tag: 'installs', door: 'operator', params: deviceIdParam,
    answers: { 200: { description: 'its state', json: answer.initialUpdateState }, 404: notFound('device or Initial Update') },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/initial-update/cancel', operationId: 'cancelInitialUpdate', summary: 'Cancel the Initial Update', tag: 'installs', door: 'operator', params: deviceIdParam, body: cancelInstallSchema,
    answers: { 202: { description: 'cancellation accepted', json: answer.cancelAccepted }, 404: notFound('Initial Update'), 409: { description: 'already finished' } },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/scans', operationId: 'startDeviceScan', summary: 'Scan a device now', tag: 'scans', door: 'operator', params: deviceIdParam, bodyOptional: true, body: noBody,
    answers: {
      202: {
        description: 'started', json: answer.operationStarted, headers: { Location: 'the scan' },
        links: { getScan: { operationId: 'getScan', parameters: { deviceId: '$request.path.deviceId', key: '$response.body#/key' } } },
      },
      404: notFound('device'), 409: { description: 'the device is retired or not enrolled' },
    },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/scans/:key', operationId: 'getScan', summary: "A scan's state and result", tag: 'scans', door: 'operator', params: installParams,
    answers: { 200: { description: 'the scan', json: answer.scanState }, 404: notFound('scan') },
  },
  {
    method: 'post', path: '/api/v1/devices/:deviceId/patch-test', operationId: 'startPatchTest', summary: 'Run a Patch Test on a device (every install step but execute and reboot)', tag: 'installs', door: 'operator', params: deviceIdParam,
    description: 'Checks the credentials, that the working folder is not protected and has the permissions seed 003 asks for, free disk space for the approved missing patches, that each file source answers with the catalog\'s SHA-256, and that no Windows Update service is Disabled. A failed Patch Test blocks Automatic Update on the device until a later one passes.',
    body: startPatchTestSchema, bodyOptional: true,
    answers: {
      202: {
        description: 'started', json: answer.operationStarted, headers: { Location: 'the latest Patch Test result' },
        links: { getPatchTest: { operationId: 'getPatchTest', parameters: { deviceId: '$request.path.deviceId' } } },
      },
      404: notFound('device'), 409: { description: 'the device is retired, not enrolled, or busy with another install operation' },
      422: { description: "the device's stored folders break a folder rule" },
    },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/patch-test', operationId: 'getPatchTest', summary: "A device's latest Patch Test, each check pass or fail with its reason", tag: 'installs', door: 'operator', params: deviceIdParam,
    answers: { 200: { description: 'the latest result', json: answer.patchTestResult }, 404: notFound('device, or no Patch Test of it yet') },
  },
  {
    method: 'post', path: '/api/v1/scans', operationId: 'startScopeScan', summary: 'Scan every device of a scope', tag: 'scans', door: 'operator', body: scopeScanSchema,
    answers: { 202: pending('started', answer.scopeScansStarted), 404: notFound('client or site') },
  },
  { method: 'get', path: '/api/v1/audit', operationId: 'listAudit', summary: 'The audit log, newest first', tag: 'audit', door: 'operator', query: auditQuery, answers: { 200: { description: 'entries', json: answer.auditEntries } } },

  // ---- policies and approvals -----------------------------------------------------------------------
  {
    method: 'post', path: '/api/v1/policies', operationId: 'createPolicy', summary: 'Create an approval policy', tag: 'approvals', door: 'operator', body: createPolicySchema, bodyExample: { name: 'Servers' },
    answers: {
      201: {
        description: 'created', json: answer.policyCreated, headers: { Location: 'the new policy' },
        links: {
          getPolicy: idLink('getPolicy'), updatePolicy: idLink('updatePolicy'), listPolicyMembers: idLink('listPolicyMembers'), addPolicyMember: idLink('addPolicyMember'),
          setPolicyDefault: idLink('setPolicyDefault'), getPolicySummary: idLink('getPolicySummary'), deletePolicy: idLink('deletePolicy'),
          setPolicyApprovals: idLink('setPolicyApprovals'), copyApprovals: idLink('copyApprovals'), removePolicyDefault: idLink('removePolicyDefault'), removePolicyMember: idLink('removePolicyMember'),
        },
      },
      409: { description: 'a policy of that name exists' },
    },
  },
  { method: 'get', path: '/api/v1/policies', operationId: 'listPolicies', summary: 'List policies', tag: 'approvals', door: 'operator', answers: { 200: { description: 'policies', json: answer.policyList } } },
  { method: 'get', path: '/api/v1/policies/:id', operationId: 'getPolicy', summary: 'One policy', tag: 'approvals', door: 'operator', params: policyIdParam, answers: { 200: { description: 'the policy', json: answer.policy }, 404: notFound('policy') } },
  {
    method: 'patch', path: '/api/v1/policies/:id', operationId: 'updatePolicy', summary: "Rename a policy or change its switches", tag: 'approvals', door: 'operator', params: policyIdParam, body: updatePolicySchema,
    answers: { 200: { description: 'changed', json: answer.policy }, 404: notFound('policy'), 409: { description: 'a policy of that name exists' } },
  },
  {
    method: 'delete', path: '/api/v1/policies/:id', operationId: 'deletePolicy', summary: 'Delete a policy with no members', tag: 'approvals', door: 'operator', params: policyIdParam,
    answers: { 200: { description: 'deleted', json: answer.policyDeleted }, 404: notFound('policy'), 409: { description: 'it still has members' } },
  },
  {
    method: 'get', path: '/api/v1/policies/:id/members', operationId: 'listPolicyMembers', summary: "A policy's members", tag: 'approvals', door: 'operator', params: policyIdParam,
    answers: { 200: { description: 'members', json: answer.policyMembers }, 404: notFound('policy') },
  },
  {
    method: 'post', path: '/api/v1/policies/:id/members', operationId: 'addPolicyMember', summary: 'Add a device, site, client, device type or all devices to a policy', tag: 'approvals', door: 'operator', params: policyIdParam, body: memberSchema,
    answers: { 200: { description: 'already a member', json: answer.memberAdded }, 201: { description: 'added', json: answer.memberAdded }, 404: notFound('policy or scope') },
  },
  {
    method: 'delete', path: '/api/v1/policies/:id/members', operationId: 'removePolicyMember', summary: 'Remove a membership', tag: 'approvals', door: 'operator', params: policyIdParam, body: memberSchema,
    answers: { 200: { description: 'removed', json: answer.memberRemoved }, 404: notFound('policy or membership') },
  },
  {
    method: 'put', path: '/api/v1/policies/:id/defaults', operationId: 'setPolicyDefault', summary: 'Set a classification or product default (applies to patches discovered from now on)', tag: 'approvals', door: 'operator', params: policyIdParam, body: defaultSchema,
    bodyExample: { kind: 'classification', key: 'Security Updates', status: 'approved', approveAfterDays: 7 },
    answers: { 200: { description: 'set', json: answer.defaultSet }, 404: notFound('policy'), 422: { description: 'approveAfterDays out of 1–360 days (15 or fewer is suggested), not whole, or given with a status other than approved' } },
  },
  {
    method: 'delete', path: '/api/v1/policies/:id/defaults', operationId: 'removePolicyDefault', summary: 'Remove a default', tag: 'approvals', door: 'operator', params: policyIdParam, body: deleteDefaultSchema,
    answers: { 200: { description: 'removed', json: answer.defaultRemoved }, 404: notFound('policy or default') },
  },
  {
    method: 'put', path: '/api/v1/policies/:id/approvals', operationId: 'setPolicyApprovals', summary: 'Approval by policy: set patches\' status in one policy', tag: 'approvals', door: 'operator', params: policyIdParam, body: policyApprovalsSchema,
    bodyExample: { kbs: ['KB5034441'], status: 'approved' },
    answers: { 200: { description: 'set', json: answer.policyApprovalsSet }, 404: notFound('policy or patch'), 422: { description: 'approveAfterDays out of 1–360 days (15 or fewer is suggested), not whole, or given with a status other than approved' } },
  },
  {
    method: 'put', path: '/api/v1/patches/approval', operationId: 'setApprovalAllPolicies', summary: 'Approval by patch: set patches\' status in ALL policies', tag: 'approvals', door: 'operator', body: approvalByPatchSchema,
    bodyExample: { kbs: ['KB5034441'], status: 'approved', note: 'tested on the pilot group' },
    answers: { 200: { description: 'set', json: answer.allPoliciesApprovalSet }, 202: { description: waitsForApproval, json: pendingApprovalResponse, headers: { Location: 'the approval request' } }, 404: notFound('patch'), 422: { description: 'approveAfterDays out of 1–360 days (15 or fewer is suggested), not whole, or given with a status other than approved' } },
  },
  {
    method: 'post', path: '/api/v1/policies/:id/copy-approvals', operationId: 'copyApprovals', summary: "Copy a policy's approvals onto another", tag: 'approvals', door: 'operator', params: policyIdParam, body: copyApprovalsSchema,
    answers: { 200: { description: 'copied', json: answer.approvalsCopied }, 404: notFound('policy'), 422: { description: 'onto itself' } },
  },
  {
    method: 'get', path: '/api/v1/policies/:id/summary', operationId: 'getPolicySummary', summary: "A policy's approval counts by classification or product", tag: 'approvals', door: 'operator', params: policyIdParam, query: summaryQuery,
    answers: { 200: { description: 'counts', json: answer.policySummary }, 404: notFound('policy') },
  },
  { method: 'get', path: '/api/v1/patches', operationId: 'listPatches', summary: 'Catalog patches with their approval in every policy', tag: 'approvals', door: 'operator', query: patchListQuery, answers: { 200: { description: 'patches', json: answer.patchList } } },
  { method: 'get', path: '/api/v1/kb-overrides', operationId: 'listKbOverrides', summary: 'KB overrides', tag: 'approvals', door: 'operator', answers: { 200: { description: 'overrides', json: answer.kbOverrides } } },
  {
    method: 'put', path: '/api/v1/kb-overrides/:kb', operationId: 'setKbOverride', summary: 'Override every present and future patch of a KB', tag: 'approvals', door: 'operator', params: kbParam, body: kbOverrideSchema,
    answers: { 200: { description: 'set', json: answer.kbOverrideSet }, 202: { description: waitsForApproval, json: pendingApprovalResponse, headers: { Location: 'the approval request' } }, 404: notFound('KB') },
  },
  {
    method: 'delete', path: '/api/v1/kb-overrides/:kb', operationId: 'clearKbOverride', summary: 'Clear a KB override', tag: 'approvals', door: 'operator', params: kbParam,
    answers: { 200: { description: 'cleared', json: answer.kbOverrideCleared }, 404: notFound('KB override') },
  },
  { method: 'get', path: '/api/v1/patch-actions', operationId: 'listPatchActions', summary: 'Actions by scope', tag: 'approvals', door: 'operator', query: patchActionsQuery, answers: { 200: { description: 'actions', json: answer.patchActions } } },
  {
    method: 'put', path: '/api/v1/patch-actions', operationId: 'setPatchActions', summary: 'Set an action (approve, ignore, uninstall...) for patches at a scope', tag: 'approvals', door: 'operator', body: patchActionsSchema,
    answers: {
      200: { description: 'set', json: answer.patchActionsSet },
      202: { description: `an uninstall: ${waitsForApproval}`, json: pendingApprovalResponse, headers: { Location: 'the approval request' } },
      404: notFound('scope or patch'), 422: { description: 'uninstall of a patch that is not uninstallable' },
    },
  },

  // ---- schedules ------------------------------------------------------------------------------------
  {
    method: 'post', path: '/api/v1/schedules', operationId: 'createSchedule', summary: 'Create a scan or Automatic Update schedule', tag: 'schedules', door: 'operator', body: createScheduleSchema,
    bodyExample: { name: 'Nightly scan', kind: 'scan', scope: { scopeType: 'all' }, timing: { kind: 'daily', time: '03:00', timezone: 'UTC' } },
    answers: {
      201: {
        description: 'created', json: answer.schedule, headers: { Location: 'the new schedule' },
        links: {
          getSchedule: idLink('getSchedule', 'scheduleId'), updateSchedule: idLink('updateSchedule', 'scheduleId'), pauseSchedule: idLink('pauseSchedule', 'scheduleId'),
          resumeSchedule: idLink('resumeSchedule', 'scheduleId'), listScheduleRollouts: idLink('listScheduleRollouts', 'scheduleId'), deleteSchedule: idLink('deleteSchedule', 'scheduleId'),
          triggerSchedule: idLink('triggerSchedule', 'scheduleId'), backfillSchedule: idLink('backfillSchedule', 'scheduleId'),
        },
      },
      404: notFound('policy, client or site of the scope'), 409: { description: 'a schedule of that name exists' },
      422: { description: "a reboot action's numbers out of range: ask_user_allow_deferrals deferrals 1–10, minutes 1–1440, deadlineDays 0–30, graceDays 0–7 and only with deadlineDays" },
    },
  },
  { method: 'get', path: '/api/v1/schedules', operationId: 'listSchedules', summary: 'List schedules', tag: 'schedules', door: 'operator', answers: { 200: { description: 'schedules', json: answer.scheduleList } } },
  { method: 'get', path: '/api/v1/schedules/:scheduleId', operationId: 'getSchedule', summary: 'One schedule, with its next runs', tag: 'schedules', door: 'operator', params: scheduleIdParam, answers: { 200: { description: 'the schedule', json: answer.schedule }, 404: notFound('schedule') } },
  {
    method: 'patch', path: '/api/v1/schedules/:scheduleId', operationId: 'updateSchedule', summary: 'Change a schedule', tag: 'schedules', door: 'operator', params: scheduleIdParam, body: updateScheduleSchema,
    answers: {
      200: { description: 'changed', json: answer.schedule }, 404: notFound('schedule or scope'), 409: { description: 'a schedule of that name exists' },
      422: { description: "a health check on a scan schedule (only an Automatic Update installs patches), or a reboot action's numbers out of range: ask_user_allow_deferrals deferrals 1–10, minutes 1–1440, deadlineDays 0–30, graceDays 0–7 and only with deadlineDays" },
    },
  },
  { method: 'delete', path: '/api/v1/schedules/:scheduleId', operationId: 'deleteSchedule', summary: 'Delete a schedule', tag: 'schedules', door: 'operator', params: scheduleIdParam, answers: { 204: null, 404: notFound('schedule') } },
  {
    method: 'post', path: '/api/v1/schedules/:scheduleId/pause', operationId: 'pauseSchedule', summary: 'Pause a schedule', tag: 'schedules', door: 'operator', params: scheduleIdParam, bodyOptional: true, body: noBody,
    answers: { 200: { description: 'paused', json: answer.schedule }, 404: notFound('schedule') },
  },
  {
    method: 'post', path: '/api/v1/schedules/:scheduleId/resume', operationId: 'resumeSchedule', summary: 'Resume a schedule', tag: 'schedules', door: 'operator', params: scheduleIdParam, bodyOptional: true, body: noBody,
    answers: { 200: { description: 'resumed', json: answer.schedule }, 404: notFound('schedule') },
  },
  {
    method: 'post', path: '/api/v1/schedules/:scheduleId/trigger', operationId: 'triggerSchedule', summary: 'Run a schedule now', tag: 'schedules', door: 'operator', params: scheduleIdParam, bodyOptional: true, body: noBody,
    answers: { 202: pending('triggered', answer.scheduleTriggered), 404: notFound('schedule'), 409: { description: 'the schedule is paused' } },
  },
  {
    method: 'post', path: '/api/v1/schedules/:scheduleId/backfill', operationId: 'backfillSchedule', summary: 'Run the slots a schedule missed in a range (capped; refused when paused)', tag: 'schedules', door: 'operator', params: scheduleIdParam, body: backfillSchema,
    answers: { 202: pending('backfill started', answer.scheduleBackfilled), 404: notFound('schedule'), 409: { description: 'the schedule is paused' }, 422: { description: 'the range is longer than allowed' } },
  },
  {
    method: 'get', path: '/api/v1/schedules/:scheduleId/rollouts', operationId: 'listScheduleRollouts', summary: "A schedule's rollouts", tag: 'schedules', door: 'operator', params: scheduleIdParam,
    answers: { 200: { description: 'rollouts', json: answer.rollouts }, 404: notFound('schedule') },
  },

  // ---- command keys, catalog --------------------------------------------------------------------------
  { method: 'get', path: '/api/v1/command-keys', operationId: 'getCommandKeys', summary: 'Command signing keys and how many devices pin them', tag: 'command keys', door: 'operator', answers: { 200: { description: 'keys', json: answer.commandKeys } } },
  {
    method: 'post', path: '/api/v1/command-keys/rotate', operationId: 'rotateCommandKeys', summary: 'Send every device the keys it does not pin yet', tag: 'command keys', door: 'operator', body: rotateSchema, bodyOptional: true,
    answers: { 202: { description: 'rotation started', json: answer.rotationStarted } },
  },
  { method: 'get', path: '/api/v1/catalog/feeds', operationId: 'listCatalogFeeds', summary: 'Configured catalog feeds', tag: 'catalog', door: 'operator', answers: { 200: { description: 'feeds', json: answer.catalogFeeds } } },
  {
    method: 'post', path: '/api/v1/catalog/sync', operationId: 'startCatalogSync', summary: 'Sync a catalog feed now', tag: 'catalog', door: 'operator', body: catalogSyncBody, bodyOptional: true,
    answers: { 202: { description: 'started', json: answer.catalogSyncStarted, headers: { Location: 'the sync' } }, 404: notFound('feed (or no feed configured)') },
  },
  {
    method: 'get', path: '/api/v1/catalog/feeds/:feedId/syncs/:runId', operationId: 'getCatalogSync', summary: "A catalog sync's state and result", tag: 'catalog', door: 'operator', params: catalogSyncParams,
    answers: { 200: { description: 'the sync', json: answer.catalogSyncState }, 404: notFound('sync') },
  },
  {
    method: 'post', path: '/api/v1/catalog/import', operationId: 'importCatalog', summary: "Import an operator's catalog file (dry run unless dryRun=false)", tag: 'catalog', door: 'operator', query: catalogImportQuery,
    bodyContent: { 'text/csv': z.string(), 'application/json': z.looseObject({ entries: z.array(z.unknown()) }) },
    answers: { 200: { description: 'what would change (dry run)', json: answer.catalogImportReport }, 201: { description: 'what changed', json: answer.catalogImportReport }, 422: { description: 'the file is refused as a whole' } },
  },

  // ---- reports --------------------------------------------------------------------------------------
  {
    method: 'get', path: '/api/v1/reports/patch-overview', operationId: 'getPatchOverviewReport', summary: 'The Patch Overview Report, streamed (or started offline with format=csv-offline)', tag: 'reports', door: 'operator', query: patchOverviewQuery,
    answers: {
      200: { description: 'the report', content: { 'text/csv': z.string(), 'text/html': z.string(), 'application/xml': z.string(), 'application/json': answer.patchOverviewJson } },
      202: {
        description: 'an offline report started', json: answer.report, headers: { Location: 'the report' },
        links: { getReport: { operationId: 'getReport', parameters: { reportId: '$response.body#/id' } }, downloadReport: { operationId: 'downloadReport', parameters: { reportId: '$response.body#/id' } } },
      },
    },
  },
  {
    method: 'get', path: '/api/v1/reports', operationId: 'listReports', summary: 'Offline reports', tag: 'reports', door: 'operator', query: listReportsQuery,
    answers: {
      200: {
        description: 'reports', json: answer.reportList,
        links: {
          getReport: { operationId: 'getReport', parameters: { reportId: '$response.body#/reports/0/id' } },
          downloadReport: { operationId: 'downloadReport', parameters: { reportId: '$response.body#/reports/0/id' } },
        },
      },
    },
  },
  { method: 'get', path: '/api/v1/reports/:reportId', operationId: 'getReport', summary: "An offline report's state", tag: 'reports', door: 'operator', params: reportIdParam, answers: { 200: { description: 'the report', json: answer.report }, 404: notFound('report') } },
  {
    method: 'get', path: '/api/v1/reports/:reportId/download', operationId: 'downloadReport', summary: "An offline report's CSV", tag: 'reports', door: 'operator', params: reportIdParam,
    answers: { 200: { description: 'the CSV', content: { 'text/csv': z.string() } }, 404: notFound('report'), 409: { description: 'not finished yet' } },
  },

  // ---- people and keys (api/access-api.ts) ------------------------------------------------------------
  { method: 'get', path: '/api/v1/whoami', operationId: 'whoami', summary: 'Who this key is: its user, role, name and clients', tag: 'access', door: 'operator', answers: { 200: { description: 'the key', json: whoamiResponse } } },
  {
    method: 'post', path: '/api/v1/users', operationId: 'createUser', summary: 'Create a person with a role', tag: 'access', door: 'operator', body: createUserSchema, bodyExample: { name: 'jane.doe', role: 'viewer' },
    answers: {
      201: { description: 'created', json: userResponse, headers: { Location: 'the new user' }, links: { createApiKey: idLink('createApiKey', 'userId') } },
      409: { description: 'a user of that name exists' },
    },
  },
  { method: 'get', path: '/api/v1/users', operationId: 'listUsers', summary: 'List people', tag: 'access', door: 'operator', answers: { 200: { description: 'users', json: z.object({ users: z.array(userResponse) }) } } },
  {
    method: 'post', path: '/api/v1/users/:userId/keys', operationId: 'createApiKey', summary: "Mint a personal API key for a user (shown once)", tag: 'access', door: 'operator', params: userIdParam, body: createKeySchema,
    bodyExample: { name: 'laptop', clients: 'all' },
    answers: {
      201: { description: 'minted: the key is in this answer only', json: mintedKeyResponse, headers: { Location: 'the new key' }, links: { revokeApiKey: { operationId: 'revokeApiKey', parameters: { keyId: '$response.body#/keyId' } } } },
      404: notFound('user or client'), 409: { description: 'the user has a key of that name' },
    },
  },
  { method: 'get', path: '/api/v1/keys', operationId: 'listApiKeys', summary: 'List API keys (never their secrets)', tag: 'access', door: 'operator', answers: { 200: { description: 'keys', json: z.object({ keys: z.array(apiKeyResponse) }) } } },
  {
    method: 'post', path: '/api/v1/keys/:keyId/revoke', operationId: 'revokeApiKey', summary: 'Revoke an API key (it stops working at once)', tag: 'access', door: 'operator', params: keyIdParam, bodyOptional: true, body: noBody,
    answers: { 200: { description: 'revoked (revoking again changes nothing)', json: apiKeyResponse }, 404: notFound('key') },
  },

  // ---- two-person rule (api/approval-requests-api.ts) -------------------------------------------------
  {
    method: 'get', path: '/api/v1/approval-requests', operationId: 'listApprovalRequests', summary: 'Requests waiting for (or decided by) a second person', tag: 'two-person rule', door: 'operator', query: listRequestsQuery,
    answers: {
      200: {
        description: 'requests', json: approvalRequestListResponse,
        links: { getApprovalRequest: { operationId: 'getApprovalRequest', parameters: { requestId: '$response.body#/requests/0/id' } } },
      },
    },
  },
  {
    method: 'get', path: '/api/v1/approval-requests/:requestId', operationId: 'getApprovalRequest', summary: 'One request: what it does, who asked, who decided', tag: 'two-person rule', door: 'operator', params: requestIdParam,
    answers: { 200: { description: 'the request', json: approvalRequestResponse }, 404: notFound('approval request') },
  },
  {
    method: 'post', path: '/api/v1/approval-requests/:requestId/approve', operationId: 'approveApprovalRequest', summary: 'Approve a request (a second person: never the requester)', tag: 'two-person rule', door: 'operator', params: requestIdParam, body: decisionSchema, bodyOptional: true,
    answers: {
      202: { description: 'approved: the action runs now (the request shows when it has)', json: decisionResponse, headers: { Location: 'the request' } },
      403: { description: "the requester's own request, or a role below the action's" },
      404: notFound('approval request'), 409: { description: 'no longer pending (decided or expired)' },
    },
  },
  {
    method: 'post', path: '/api/v1/approval-requests/:requestId/refuse', operationId: 'refuseApprovalRequest', summary: 'Refuse a request', tag: 'two-person rule', door: 'operator', params: requestIdParam, body: decisionSchema, bodyOptional: true,
    answers: {
      200: { description: 'refused', json: decisionResponse, headers: { Location: 'the request' } },
      403: { description: "a role below the action's" },
      404: notFound('approval request'), 409: { description: 'no longer pending (decided or expired)' },
    },
  },

  // ---- release plans and releases (api/releases-api.ts) ----------------------------------------------
  {
    method: 'post', path: '/api/v1/release-plans', operationId: 'createReleasePlan', summary: 'Create a release plan: a client\'s ordered rings', tag: 'releases', door: 'operator', body: createReleasePlanSchema,
    bodyExample: {
      clientId: '00000000-0000-4000-8000-000000000001', name: 'Acme rings',
      rings: [
        { name: 'pilot', scope: { type: 'sample', percent: 10 }, deferral: { days: 0 }, gate: { minSuccessRate: 95, minSuccessCount: 3, soakHours: 24 }, haltThreshold: { failureRate: 20 } },
        { name: 'broad', scope: { type: 'rest' }, deferral: { days: 5 }, gate: { minSuccessRate: 95, soakHours: 24 }, haltThreshold: { failureRate: 20 } },
      ],
    },
    answers: { 201: { description: 'created', json: releasePlanResponse, headers: { Location: 'the new plan' } }, 404: notFound('client'), 409: { description: 'the client has a plan of that name' }, 422: { description: 'a site ring names a site of another client' } },
  },
  { method: 'get', path: '/api/v1/release-plans', operationId: 'listReleasePlans', summary: 'List release plans', tag: 'releases', door: 'operator', answers: { 200: { description: 'plans', json: releasePlanListResponse } } },
  {
    method: 'get', path: '/api/v1/release-plans/:planId', operationId: 'getReleasePlan', summary: 'One release plan', tag: 'releases', door: 'operator', params: releasePlanIdParam,
    answers: { 200: { description: 'the plan', json: releasePlanResponse }, 404: notFound('release plan') },
  },
  {
    method: 'delete', path: '/api/v1/release-plans/:planId', operationId: 'deleteReleasePlan', summary: 'Delete a release plan (running releases keep their snapshot)', tag: 'releases', door: 'operator', params: releasePlanIdParam,
    answers: { 204: null, 404: notFound('release plan') },
  },
  {
    method: 'post', path: '/api/v1/release-plans/:planId/releases', operationId: 'startRelease', summary: 'Start a release of a cycle\'s patches through the plan\'s rings', tag: 'releases', door: 'operator', params: releasePlanIdParam, body: startReleaseSchema,
    bodyExample: { cycle: '2026-12', kbs: ['KB5034441'] },
    answers: { 202: { description: 'started', json: releaseResponse, headers: { Location: 'the release' } }, 404: notFound('release plan'), 409: { description: 'the plan has a release for this cycle' } },
  },
  {
    method: 'get', path: '/api/v1/release-plans/:planId/releases', operationId: 'listReleases', summary: 'The plan\'s releases', tag: 'releases', door: 'operator', params: releasePlanIdParam,
    answers: { 200: { description: 'releases', json: z.object({ releases: z.array(releaseResponse) }) }, 404: notFound('release plan') },
  },
  {
    method: 'get', path: '/api/v1/release-plans/:planId/releases/:releaseId', operationId: 'getRelease', summary: 'A release: its phase, rings, gate decisions and log', tag: 'releases', door: 'operator', params: releaseIdParam,
    answers: { 200: { description: 'the release', json: releaseResponse }, 404: notFound('release') },
  },
  ...(['promote', 'resume', 'retry', 'abort'] as const).map((action): RouteSpec => ({
    method: 'post', path: `/api/v1/release-plans/:planId/releases/:releaseId/${action}`, operationId: `${action}Release`, tag: 'releases', door: 'operator',
    summary: {
      promote: 'Promote the current ring now (while it waits, soaks or is halted)', resume: 'Resume a halted release (at its gate: promote anyway)',
      retry: 'Run the halted ring\'s failed devices again', abort: 'Abort the release',
    }[action],
    params: releaseIdParam, body: releaseActionSchema, bodyOptional: true,
    answers: { 200: { description: 'the release after the action', json: releaseResponse }, 404: notFound('release'), 409: { description: 'the release cannot take this action now' } },
  })),
  // ---- alerts (api/alerts-api.ts) ---------------------------------------------------------------------
  {
    method: 'post', path: '/api/v1/alert-rules', operationId: 'createAlertRule', summary: 'Create an alert rule with its webhook', tag: 'alerts', door: 'operator', body: createAlertRuleSchema,
    bodyExample: { name: 'Failed installs', condition: 'patch_failed', webhookUrl: 'https://hooks.example.com/patchflow' },
    answers: {
      201: {
        description: 'created: the webhook secret is in this answer only', json: answer.alertRuleCreated, headers: { Location: 'the new rule' },
        links: { getAlertRule: idLink('getAlertRule', 'ruleId'), updateAlertRule: idLink('updateAlertRule', 'ruleId'), deleteAlertRule: idLink('deleteAlertRule', 'ruleId') },
      },
      404: notFound('client'), 409: { description: 'a rule of that name exists' },
    },
  },
  { method: 'get', path: '/api/v1/alert-rules', operationId: 'listAlertRules', summary: 'List alert rules', tag: 'alerts', door: 'operator', answers: { 200: { description: 'rules', json: answer.alertRuleList } } },
  {
    method: 'get', path: '/api/v1/alert-rules/:ruleId', operationId: 'getAlertRule', summary: 'One alert rule', tag: 'alerts', door: 'operator', params: alertRuleIdParam,
    answers: { 200: { description: 'the rule', json: answer.alertRule }, 404: notFound('alert rule') },
  },
  {
    method: 'patch', path: '/api/v1/alert-rules/:ruleId', operationId: 'updateAlertRule', summary: 'Enable or disable an alert rule', tag: 'alerts', door: 'operator', params: alertRuleIdParam, body: updateAlertRuleSchema,
    answers: { 200: { description: 'changed', json: answer.alertRule }, 404: notFound('alert rule') },
  },
  {
    method: 'delete', path: '/api/v1/alert-rules/:ruleId', operationId: 'deleteAlertRule', summary: 'Delete an alert rule', tag: 'alerts', door: 'operator', params: alertRuleIdParam,
    answers: { 204: null, 404: notFound('alert rule') },
  },
  { method: 'get', path: '/api/v1/alerts', operationId: 'listAlerts', summary: 'Alerts the rules opened (and closed), newest first', tag: 'alerts', door: 'operator', query: listAlertsQuery, answers: { 200: { description: 'alerts', json: answer.alertList } } },
  {
    method: 'post', path: '/api/v1/alerts/evaluate', operationId: 'evaluateAlerts', summary: 'Evaluate every rule now', tag: 'alerts', door: 'operator', bodyOptional: true, body: noBody,
    answers: { 202: { description: 'evaluation started (or joined, when one runs)', json: answer.alertsEvaluationStarted } },
  },
  { method: 'get', path: '/api/v1/alerts/dead-letters', operationId: 'listDeadLetters', summary: 'Webhook deliveries that never got through', tag: 'alerts', door: 'operator', answers: { 200: { description: 'deliveries', json: answer.deadLetters } } },
  {
    method: 'post', path: '/api/v1/alerts/dead-letters/:deliveryId/retry', operationId: 'retryDeadLetter', summary: 'Deliver a dead-lettered webhook again', tag: 'alerts', door: 'operator', params: deliveryIdParam,
    answers: { 202: { description: 'queued again', json: answer.webhookDelivery }, 404: notFound('dead-lettered delivery') },
  },

  // ---- the kill switch (api/halt-api.ts) ---------------------------------------------------------------
  { method: 'get', path: '/api/v1/halt', operationId: 'getFleetHalt', summary: 'The halt state: operators\' fleet halts (all patches or one KB) and rollouts\' automatic halts, active and recent, each with its source', tag: 'halt', door: 'operator', answers: { 200: { description: 'the state', json: haltStateResponse } } },
  {
    method: 'post', path: '/api/v1/halt', operationId: 'haltFleet', summary: 'Kill switch: stop new device starts fleet-wide (all patches, or one KB), signalling every running rollout, release and install', tag: 'halt', door: 'operator', body: haltSchema,
    bodyExample: { all: true, reason: 'boot loops after the December CU' },
    answers: { 201: { description: 'halted', json: haltSetResponse }, 200: { description: 'that halt already stood (signalled again)', json: haltSetResponse } },
  },
  {
    method: 'post', path: '/api/v1/halt/resume', operationId: 'resumeFleet', summary: 'End a fleet halt (all patches, or one KB), or one rollout\'s automatic halt (rollout): the rollouts halted by it start devices again', tag: 'halt', door: 'operator', body: resumeSchema,
    bodyExample: { all: true },
    answers: {
      200: { description: 'resumed', json: haltResumedResponse }, 404: notFound('active halt (of that scope, or of that rollout)'),
      409: { description: 'the automatically halted rollout is no longer running (its halt is marked ended)' },
    },
  },

  // ---- what-if (api/what-if-api.ts) ---------------------------------------------------------------------
  {
    method: 'post', path: '/api/v1/what-if', operationId: 'whatIf', summary: "The next Automatic Update runs' installs under a proposed change, against today's (writes nothing)", tag: 'what-if', door: 'operator', body: whatIfSchema,
    bodyExample: { kbOverrides: [{ kb: 'KB5034441', status: 'denied' }] },
    answers: { 200: { description: 'before and after, per schedule', json: answer.whatIfAnswer }, 404: notFound('schedule, policy, scope or patch'), 422: { description: 'a scope that cannot be (device_type other than server or workstation), or an approveAfterDays out of 1–360 or on a status other than approved' } },
  },

  // ---- the dashboard's read models (api/fleet-summary-api.ts, api/dashboard.ts) -------------------------
  {
    method: 'get', path: '/api/v1/fleet/summary', operationId: 'getFleetSummary', summary: "The fleet page's figures: compliance per client and site, devices, failed installs", tag: 'dashboard', door: 'operator', query: fleetQuery,
    answers: { 200: { description: 'the figures', json: fleetSummaryResponse }, 404: notFound('client') },
  },
  { method: 'get', path: '/api/v1/fleet/patch-status-counts', operationId: 'getPatchStatusCounts', summary: 'Per catalog patch, its devices per status', tag: 'dashboard', door: 'operator', answers: { 200: { description: 'counts', json: patchStatusCountsResponse } } },
  {
    method: 'post', path: '/api/v1/patch-management/preview', operationId: 'previewPatchManagement', summary: 'Which devices an action by scope reaches, before it is applied (writes nothing)', tag: 'dashboard', door: 'operator', body: patchManagementPreviewSchema,
    answers: { 200: { description: 'the devices reached', json: patchManagementPreviewResponse }, 404: notFound('scope or patch'), 422: { description: 'a scope that cannot be' } },
  },
  {
    method: 'get', path: '/api/v1/rollouts/progress', operationId: 'getRolloutProgress', summary: "A rollout's live tally", tag: 'dashboard', door: 'operator', query: rolloutQuery,
    answers: { 200: { description: 'its tally (progress null once it has ended)', json: rolloutProgressResponse }, 404: notFound('rollout') },
  },
  {
    method: 'get', path: '/api/v1/devices/:deviceId/workflows', operationId: 'listDeviceWorkflows', summary: "A device's workflows, with links to their histories", tag: 'dashboard', door: 'operator', params: deviceIdParam,
    answers: { 200: { description: 'workflows (the newest 50)', json: deviceWorkflowsResponse }, 404: notFound('device') },
  },
  { method: 'get', path: '/api/v1/dashboard/config', operationId: 'getDashboardConfig', summary: 'Where the dashboard links to, and who is signed in', tag: 'dashboard', door: 'operator', answers: { 200: { description: 'the config', json: dashboardConfigResponse } } },
  {
    method: 'post', path: '/dashboard/login', operationId: 'dashboardLogin', summary: "Exchange the one-time login code `npm start` prints for the admin's API key", tag: 'dashboard', door: 'public', body: loginCodeSchema,
    bodyCredential: 'the login code is not valid, already used or expired',
    description: 'No key: the one-time code in the body is the authentication. A code works once, for 15 minutes, and only on the server that printed it.',
    answers: { 200: { description: 'the API key (not cached)', json: loginCodeResponse } },
  },

  // ---- agent gateway --------------------------------------------------------------------------------
  {
    method: 'post', path: '/agent/v1/enroll', operationId: 'enroll', summary: 'An agent enrolls with its one-time token and gets its credential', tag: 'agent gateway', door: 'public', body: enrollSchema,
    bodyCredential: 'the enrollment token is unknown, expired or spent',
    description: 'No credential: the enrollment token in the body is the authentication (401 when it is unknown, expired or spent). A retry with the same token and enrollmentNonce re-enrolls an agent whose answer was lost; a numbered try (enrollmentAttempt) that arrives after a later one was answered gets 409 and changes nothing.',
    answers: { 201: { description: 'enrolled', json: answer.enrolled }, 409: { description: 'a later try of this enrollment (same token and nonce) was already answered; this one changed nothing' } },
  },
  {
    method: 'get', path: '/agent/v1/commands', operationId: 'pollCommands', summary: "Long poll for the device's commands", tag: 'agent gateway', door: 'device', query: pollQuerySchema, headers: z.object({ 'x-patchflow-boot-id': bootIdHeader.optional() }),
    description: 'Waits up to `wait` seconds for a command. One poll per device credential: a new poll ends the one before, which answers at once with no commands.',
    answers: { 200: { description: 'the commands claimed (possibly none)', json: answer.commandsOffered } },
  },
  {
    method: 'post', path: '/agent/v1/commands/:id/result', operationId: 'postCommandResult', summary: "A command's outcome", tag: 'agent gateway', door: 'device', params: commandIdParam, headers: z.object({ 'x-patchflow-boot-id': bootIdHeader.optional() }), body: outcomeSchema,
    answers: { 200: { description: 'accepted', json: answer.resultAccepted }, 404: notFound('command for this device'), 409: { description: 'withdrawn or already finished' } },
  },
  {
    method: 'post', path: '/agent/v1/commands/:id/progress', operationId: 'postCommandProgress', summary: "A command's progress; with `starting`, the go-ahead for an execute_patches command's next patch", tag: 'agent gateway', door: 'device', params: commandIdParam, headers: z.object({ 'x-patchflow-boot-id': bootIdHeader.optional() }), body: progressSchema,
    answers: {
      202: { description: 'accepted (with `starting`: the install\'s go-ahead)', json: answer.progressAccepted }, 404: notFound('command for this device'), 409: { description: 'already finished' },
      503: { description: 'the install could not be asked for a go-ahead now; ask again' },
    },
  },
  {
    method: 'get', path: '/agent/v1/files/:sha256', operationId: 'getCachedFile', summary: 'A patch file from the Patchflow cache, by the catalog\'s SHA-256', tag: 'agent gateway', door: 'device', params: fileHashParam, headers: z.object({ 'x-patchflow-boot-id': bootIdHeader.optional() }),
    description: 'The cache file source (README "File sources"). Only files the signed catalog names, asked for by their hash; the server fetches the catalog URL once, stores the file by SHA-256, re-hashes it before every serve, and refuses bytes whose hash differs. The agent checks the hash again before it keeps the file.',
    answers: {
      200: { description: 'the file (X-Patchflow-Cache: hit or miss)', content: { 'application/octet-stream': z.string().meta({ format: 'binary' }) }, headers: { 'X-Patchflow-SHA256': 'the hash the file was checked against', 'X-Patchflow-Cache': 'hit: served from the cache; miss: fetched from the origin for this request' } },
      404: notFound('file with this SHA-256 in the catalog'),
      502: { description: 'the origin could not be fetched, or served bytes whose SHA-256 differs from the catalog (nothing is cached)' },
      503: { description: 'this server has no Patchflow cache configured' },
    },
  },
];

const SECURITY: Record<Door, ZodOpenApiOperationObject['security']> = {
  operator: [{ apiKey: [] }, { bearerApiKey: [] }],
  device: [{ deviceCredential: [] }],
  public: [],
};

const err = (description: string) => ({ description, content: { 'application/json': { schema: answer.errorAnswer } } });

/** The answers any route of this kind can give, whatever it does. */
function commonAnswers(route: RouteSpec): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {
    // Any route: a malformed %-escape or a control character in the URL.
    '400': err('the request is malformed: the answer names the part that is wrong'),
  };
  if (route.door !== 'public' || route.bodyCredential) {
    out['401'] = err(route.door === 'device' ? 'no device credential, or not a valid one' : route.door === 'operator' ? 'no API key, or not a valid one' : route.bodyCredential!);
    out['429'] = { ...err('too many failed authentications from this address'), headers: { 'Retry-After': { description: 'seconds until it may try again', schema: { type: 'integer' } } } };
  }
  // Every operators' route checks the key's role, and a route that spans clients refuses a key for some (api/route-roles.ts).
  if (route.door === 'operator') out['403'] = err("the key's role may not do this, or the route reaches every client and the key is for some");
  if (route.params) out['404'] = err('no such resource');
  if (route.body || route.bodyContent) {
    out['413'] = err('the request body is too large');
    out['415'] = err('the body is not JSON (or another media type this route takes), or its encoding or charset is not supported');
  }
  return out;
}

function operationOf(route: RouteSpec): ZodOpenApiOperationObject {
  const responses: ZodOpenApiResponsesObject = commonAnswers(route);
  for (const [status, a] of Object.entries(route.answers)) {
    const code = status as `${1 | 2 | 3 | 4 | 5}${string}`;
    if (a === null) { responses[code] = { description: 'no content' }; continue; }
    if (!a) continue;
    const isError = Number(status) >= 400;
    const content = a.json ? { 'application/json': { schema: a.json } } : a.content ? Object.fromEntries(Object.entries(a.content).map(([t, s]) => [t, { schema: s }])) : isError ? { 'application/json': { schema: answer.errorAnswer } } : undefined;
    responses[code] = {
      description: a.description,
      ...(content ? { content } : {}),
      ...(a.headers ? { headers: Object.fromEntries(Object.entries(a.headers).map(([h, d]) => [h, { description: d, schema: { type: 'string' } }])) } : {}),
      ...(a.links ? { links: a.links } : {}),
    };
  }
  const bodyContent = route.bodyContent ?? (route.body ? { 'application/json': route.body } : undefined);
  return {
    operationId: route.operationId,
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: SECURITY[route.door],
    requestParams: {
      ...(route.params ? { path: route.params as z.ZodObject } : {}),
      ...(route.query ? { query: route.query as z.ZodObject } : {}),
      ...(route.headers ? { header: route.headers as z.ZodObject } : {}),
    },
    ...(bodyContent ? {
      requestBody: {
        required: !route.bodyOptional,
        content: Object.fromEntries(Object.entries(bodyContent).map(([t, s]) => [t, { schema: s, ...(route.bodyExample !== undefined && t === 'application/json' ? { example: route.bodyExample } : {}) }])),
      },
    } : {}),
    responses,
  };
}

/** /api/v1/devices/:deviceId → /api/v1/devices/{deviceId} */
export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The OpenAPI 3.1 document of every route in `ROUTES`. */
export function buildOpenApiDocument(options: { version?: string; serverUrl?: string } = {}): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const route of ROUTES) {
    const p = openApiPath(route.path);
    paths[p] = { ...paths[p], [route.method]: operationOf(route) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Patchflow API',
      version: options.version ?? '1',
      description: "The operators' API (/api/v1), the agent gateway (/agent/v1) and health. Generated from the zod schemas the handlers parse with (api/openapi.ts).",
    },
    ...(options.serverUrl ? { servers: [{ url: options.serverUrl }] } : {}),
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: "an operator's API key" },
        bearerApiKey: { type: 'http', scheme: 'bearer', description: "the same API key as Authorization: Bearer <key>" },
        deviceCredential: { type: 'http', scheme: 'bearer', description: "a device's credential from enrollment: <deviceId>.<secret>" },
      },
    },
    paths,
  });
}
