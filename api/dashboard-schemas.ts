import { z } from 'zod';
import { ALL_PATCH_STATUSES, type PatchStatus } from '../domain/patch-status';
import { patchActionsSchema } from './policy-schemas';

// The answers the dashboard reads, as zod schemas: the browser parses every response with them
// (web/src/api.ts), and the API's tests parse the same routes with them, so a route that changes its
// shape fails a test instead of drawing a blank page. Objects are not strict: a new field is no break.

const statusEnum = z.enum(ALL_PATCH_STATUSES as [PatchStatus, ...PatchStatus[]]);
// Typed by status for the browser, but any status key is taken (a newer server may count one this
// bundle does not know): a cast, not a transform, so the OpenAPI document can describe the answer.
const statusCounts = z.record(z.string(), z.number().int()) as unknown as z.ZodType<Partial<Record<PatchStatus, number>>>;
const iso = z.string().nullable();

// ---- the new routes (api/fleet-summary-api.ts) -------------------------------------------------

const compliance = { devices: z.number().int(), fullyPatched: z.number().int(), compliancePercent: z.number() };

export const fleetDeviceSchema = z.object({
  deviceId: z.string(), deviceName: z.string(), deviceType: z.enum(['server', 'workstation']),
  clientId: z.string(), clientName: z.string(), siteId: z.string(), siteName: z.string(),
  lastCheckInAt: iso, lastScanAt: iso, statusCounts,
  missingCritical: z.number().int(), missingSecurity: z.number().int(), failed: z.number().int(),
  fullyPatched: z.boolean(), rebootRequired: z.boolean(), staleScan: z.boolean(), offline: z.boolean(),
  /** why Automatic Update skips the device: its latest Patch Test failed (null: not blocked) */
  automaticUpdateBlocked: z.string().nullable().optional(),
});

export const failedInstallSchema = z.object({
  deviceId: z.string(), deviceName: z.string(), clientName: z.string(), siteName: z.string(),
  updateId: z.string(), kb: z.string(), title: z.string(),
  lastExitCode: z.number().nullable(), exitCode: z.string().nullable(), exitCodeMeaning: z.string().nullable(),
  lastError: z.string().nullable(), failedAttempts: z.number().int(), statusChangedAt: z.string(),
});

/** GET /api/v1/fleet/summary?clientId= (one client's figures; default every client the key sees) */
export const fleetQuery = z.object({ clientId: z.string().uuid('must be a client id (a UUID)').optional() }).strict();

/** GET /api/v1/fleet/summary */
export const fleetSummaryResponse = z.object({
  generatedAt: z.string(),
  staleScanDays: z.number(),
  offlineAfterSeconds: z.number(),
  totals: z.object({
    ...compliance, missingCritical: z.number().int(), missingSecurity: z.number().int(), failed: z.number().int(),
    rebootRequired: z.number().int(), staleScan: z.number().int(), offline: z.number().int(),
    /** devices whose latest Patch Test failed: Automatic Update is blocked on them */
    patchTestFailed: z.number().int().optional(),
  }),
  clients: z.array(z.object({
    clientId: z.string(), clientName: z.string(), ...compliance,
    sites: z.array(z.object({ siteId: z.string(), siteName: z.string(), ...compliance })),
  })),
  devices: z.array(fleetDeviceSchema),
  failedInstalls: z.array(failedInstallSchema),
});
export type FleetSummaryResponse = z.infer<typeof fleetSummaryResponse>;
export type FleetDeviceView = z.infer<typeof fleetDeviceSchema>;

/** GET /api/v1/fleet/patch-status-counts: per catalog patch, its devices per status. */
export const patchStatusCountsResponse = z.object({ patches: z.array(z.object({ updateId: z.string(), counts: statusCounts })) });

/** POST /api/v1/patch-management/preview: the body PUT /patch-actions takes, and an install-now flag. */
export const patchManagementPreviewSchema = patchActionsSchema;
export type PatchManagementPreviewRequest = z.input<typeof patchManagementPreviewSchema>;

export const patchManagementPreviewResponse = z.object({
  action: z.string(),
  scopeType: z.string(),
  scopeId: z.string(),
  /** devices the action reaches (where a selected patch is in a status the action applies to) */
  deviceCount: z.number().int(),
  devices: z.array(z.object({
    deviceId: z.string(), deviceName: z.string(), deviceType: z.string(), clientName: z.string(), siteName: z.string(),
    patches: z.array(z.object({ updateId: z.string(), kb: z.string(), status: statusEnum })),
  })),
  /** devices of the scope where a selected patch was found in a status the action does nothing for */
  unaffected: z.number().int(),
  /** one line for the operator, said before Apply ("reaches no device: …" when zero) */
  message: z.string(),
});
export type PatchManagementPreview = z.infer<typeof patchManagementPreviewResponse>;

/** GET /api/v1/devices/:deviceId/workflows: the device's workflows, as Temporal's visibility lists them. */
export const deviceWorkflowsResponse = z.object({
  workflows: z.array(z.object({
    workflowId: z.string(), runId: z.string(), type: z.string(), operation: z.string().nullable(), status: z.string(),
    startTime: z.string(), closeTime: iso,
    /** the run's history in the Temporal Web UI (null when TEMPORAL_UI_URL is not set) */
    temporalUrl: z.string().nullable(),
  })),
});
export type DeviceWorkflow = z.infer<typeof deviceWorkflowsResponse>['workflows'][number];

/** GET /api/v1/dashboard/config: what the dashboard needs to link out. */
export const dashboardConfigResponse = z.object({
  temporalUiUrl: z.string().nullable(),
  namespace: z.string(),
  actor: z.string(),
});
export type DashboardConfig = z.infer<typeof dashboardConfigResponse>;

/** POST /dashboard/login: a one-time login code (the link `npm start` prints) for the API key. */
export const loginCodeSchema = z.object({ code: z.string().trim().min(16).max(200) }).strict();
export const loginCodeResponse = z.object({ apiKey: z.string() });

// ---- existing routes the dashboard reads --------------------------------------------------------

export const clientsResponse = z.object({ clients: z.array(z.object({ id: z.string(), name: z.string() })) });
export const sitesResponse = z.object({ sites: z.array(z.object({ id: z.string(), clientId: z.string(), clientName: z.string(), name: z.string(), fileSource: z.object({ source: z.string(), fallback: z.boolean() }).optional() })) });

export const deviceSchema = z.object({
  id: z.string(), name: z.string(), deviceType: z.enum(['server', 'workstation']), os: z.string().nullable(),
  siteId: z.string(), siteName: z.string(), clientId: z.string(), clientName: z.string(),
  enrolled: z.boolean(), lastCheckInAt: iso, retiredAt: iso, workingFolder: z.string(), installFolder: z.string(),
  // an automatic rollback could not finish (issue 14 part 6): a person looks, then clears it
  needsAttention: z.string().nullable().optional(), needsAttentionAt: iso.optional(),
  fileSource: z.object({ source: z.string(), fallback: z.boolean() }).optional(),
  /** why Automatic Update skips the device: its latest Patch Test failed */
  automaticUpdateBlocked: z.string().nullable().optional(),
});

/** GET /api/v1/devices/:deviceId/patch-test: the latest Patch Test, each check with its reason. */
export const patchTestResponse = z.object({
  workflowId: z.string(), passed: z.boolean(), testedAt: z.string(), requestedBy: z.string(), kbs: z.array(z.string()),
  checks: z.array(z.object({ check: z.string(), subject: z.string().optional(), passed: z.boolean(), reason: z.string() })),
  automaticUpdateBlocked: z.string().nullable(),
});
export const devicesResponse = z.object({ devices: z.array(deviceSchema) });
export type DeviceView = z.infer<typeof deviceSchema>;

export const devicePatchSchema = z.object({
  updateId: z.string(), kb: z.string(), title: z.string(), product: z.string(), classification: z.string(), severity: z.string(),
  status: z.union([statusEnum, z.literal('unverified')]), statusChangedAt: z.string(), installedAt: iso,
  lastExitCode: z.number().nullable(), lastError: z.string().nullable(), failedAttempts: z.number().int(),
  lastOperationId: z.string().nullable(), verified: z.boolean(), supersededBy: z.string().optional(),
});
export const devicePatchesResponse = z.object({ patches: z.array(devicePatchSchema) });
export type DevicePatch = z.infer<typeof devicePatchSchema>;

export const deviceApprovalsResponse = z.object({
  deviceId: z.string(),
  policyIds: z.array(z.string()),
  patches: z.array(z.object({ updateId: z.string(), kb: z.string(), decision: z.string(), reason: z.string() })),
});

const approvalStatus = z.enum(['approved', 'pending_approval', 'denied']);
export const catalogPatchSchema = z.object({
  updateId: z.string(), kb: z.string(), title: z.string(), classification: z.string(), kaseyaClassification: z.string().nullable(),
  product: z.string(), severity: z.string(), uninstallable: z.boolean(), supersededBy: z.string().nullable(),
  kbOverride: approvalStatus.nullable(),
  approval: z.union([approvalStatus, z.literal('mixed')]).nullable(),
  policies: z.array(z.object({ policyId: z.string(), policyName: z.string(), status: approvalStatus, source: z.string() })),
});
export const catalogPatchesResponse = z.object({ patches: z.array(catalogPatchSchema) });
export type CatalogPatch = z.infer<typeof catalogPatchSchema>;

export const policiesResponse = z.object({ policies: z.array(z.object({ id: z.string(), name: z.string() })) });

const summaryCounts = { approved: z.number(), denied: z.number(), pendingApproval: z.number(), total: z.number() };
export const policySummaryResponse = z.object({
  policyId: z.string(), policy: z.string(), groupBy: z.string(),
  rows: z.array(z.object({ key: z.string(), ...summaryCounts, defaultStatus: approvalStatus, defaultFrom: z.string() })),
  totals: z.object(summaryCounts),
});
export type PolicySummaryView = z.infer<typeof policySummaryResponse>;

/** POST /devices/:id/installs, /scans, /initial-update: 202 with the workflow started */
export const startedResponse = z.object({ workflowId: z.string(), location: z.string() }).loose();

export const reportsResponse = z.object({
  reports: z.array(z.object({
    id: z.string(), state: z.string(), requestedAt: z.string(), requestedBy: z.string(), finishedAt: iso, workflowId: z.string(),
    rowsWritten: z.number(), percent: z.number().nullable(), download: z.string().nullable(), error: z.string().nullable(),
  }).loose()),
});

export const schedulesResponse = z.object({
  schedules: z.array(z.object({ id: z.string(), name: z.string(), kind: z.string() }).loose()),
});

const downloadReport = z.object({
  servedBy: z.string(), bytes: z.number(), durationMs: z.number(), bytesPerSecond: z.number(),
  fellBack: z.array(z.object({ source: z.string(), reason: z.string() })),
});
const patchProgress = z.object({ updateId: z.string(), kb: z.string(), title: z.string(), status: z.string(), exitCode: z.number().optional(), error: z.string().optional(), download: downloadReport.optional() });
const installProgress = z.object({ step: z.string(), patches: z.array(patchProgress), cancelRequested: z.boolean() }).loose();

/** GET /devices/:id/installs/:key: live progress while it runs, its result once done. */
export const installViewResponse = z.object({
  workflowId: z.string(), status: z.string(), startedAt: z.string(), closedAt: iso,
  progress: installProgress.nullable(),
  result: installProgress.extend({ outcome: z.string() }).nullable(),
  failure: z.string().nullable(),
});
export type InstallViewResponse = z.infer<typeof installViewResponse>;

/** GET /devices/:id/initial-update */
export const initialUpdateViewResponse = z.object({
  workflowId: z.string(), status: z.string(), startedAt: z.string(), closedAt: iso,
  progress: z.object({
    cycle: z.number(), step: z.string(), currentGroup: z.string().optional(), remaining: z.array(z.string()), installed: z.array(z.string()),
    failed: z.array(z.object({ kb: z.string() }).loose()), reboots: z.number(),
  }).loose().nullable(),
  failure: z.string().nullable(),
  device: z.object({ online: z.boolean(), waitingForDeviceSince: iso }).loose(),
}).loose();

const tally = z.object({
  devices: z.number(), done: z.number(), failed: z.number(), offline: z.number(), busy: z.number(), rebootPending: z.number(),
  patchesInstalled: z.number(), patchesFailed: z.number(),
});

/** GET /api/v1/schedules/:id/rollouts */
export const rolloutsResponse = z.object({
  rollouts: z.array(z.object({
    workflowId: z.string(), kind: z.string(), scheduledAt: iso, startedAt: z.string(), finishedAt: iso,
    counts: z.union([tally, z.object({})]),
    /** devices left out because their latest Patch Test failed */
    blockedDevices: z.array(z.object({ deviceId: z.string(), deviceName: z.string(), reason: z.string() })).optional(),
  })),
});

/** which rollout GET /api/v1/rollouts/progress shows: its workflow id, never an arbitrary one */
export const rolloutQuery = z.object({ workflowId: z.string().regex(/^automatic-update\/[A-Za-z0-9:._/-]{1,200}$/, 'must be a rollout workflow id (automatic-update/…)') }).strict();

/** GET /api/v1/rollouts/progress?workflowId= */
export const rolloutProgressResponse = z.object({
  workflowId: z.string(), runId: z.string(), status: z.string(),
  progress: z.object({ started: z.number(), inFlight: z.number(), waiting: z.number(), counts: tally }).loose().nullable(),
  temporalUrl: z.string().nullable(),
});

export const scheduleViewSchema = z.object({
  id: z.string(), name: z.string(), kind: z.enum(['scan', 'automatic_update']), scopeType: z.string(), scopeId: z.string(),
  paused: z.boolean(), description: z.string(), nextRunTimes: z.array(z.string()),
  recentRuns: z.array(z.object({ scheduledAt: z.string(), workflowId: z.string() })),
  temporalScheduleId: z.string(), maintenanceWindowText: z.string().nullable(), rebootActionText: z.string(),
  /** a per-patch schedule's KBs; null: what the policy approves */
  kbs: z.array(z.string()).nullable().optional(),
});
export const scheduleListResponse = z.object({ schedules: z.array(scheduleViewSchema) });
