import { z } from 'zod';
import { NotStartedReason } from '../domain/device-protocol';

/**
 * What the routes answer, as zod schemas: the OpenAPI document (api/openapi.ts) is generated from
 * these and the request schemas, and schemathesis checks every answer against them. Rows the database
 * shapes completely are strict objects (an extra field is a contract change); answers that carry a
 * workflow's progress or result, whose shapes belong to the workflow contracts, are loose objects
 * that name the fields operators and the CLI rely on.
 */

const uuid = z.string().uuid();
const timestamp = z.string().meta({ format: 'date-time' });
const nullableTimestamp = timestamp.nullable();
const approvalStatus = z.enum(['approved', 'pending_approval', 'denied']);

/** Every refusal: a message naming what is wrong; some carry a type (domain errors) or details. */
export const errorAnswer = z.looseObject({ error: z.string(), type: z.string().optional() }).meta({ id: 'Error' });

export const health = z.object({ status: z.literal('ok') });

export const client = z.object({ id: uuid, name: z.string(), createdAt: timestamp }).meta({ id: 'Client' });
const fileSourceSetting = z.object({
  source: z.enum(['internet', 'cache', 'lan-share', 'temp-most-free-drive']), fallback: z.boolean(),
}).meta({ description: "where the site's devices get patch files (README \"File sources\")" });
export const site = z.object({ id: uuid, clientId: uuid, clientName: z.string(), name: z.string(), createdAt: timestamp, fileSource: fileSourceSetting }).meta({ id: 'Site' });
export const device = z.object({
  id: uuid, name: z.string(), deviceType: z.enum(['server', 'workstation']), os: z.string().nullable(),
  siteId: uuid, siteName: z.string(), clientId: uuid, clientName: z.string(),
  enrolled: z.boolean(), enrolledAt: nullableTimestamp, lastCheckInAt: nullableTimestamp, bootId: z.string().nullable(),
  workingFolder: z.string(), installFolder: z.string(), createdAt: timestamp, retiredAt: nullableTimestamp, fileSource: fileSourceSetting,
  needsAttention: z.string().nullable().optional().describe('why a person must look: an automatic rollback after a failed health check could not finish (an uninstall failed)'),
  needsAttentionAt: nullableTimestamp.optional(),
  automaticUpdateBlocked: z.string().nullable().optional().describe('why Automatic Update skips the device: its latest Patch Test failed (null: it passed, or none ran)'),
}).meta({ id: 'Device' });

export const clientList = z.object({ clients: z.array(client) });
export const siteList = z.object({ sites: z.array(site) });
export const deviceList = z.object({ devices: z.array(device) });
export const deviceCreated = z.object({ device, enrollmentToken: z.string().meta({ description: 'shown once: only its hash is stored' }) });
export const credentialRevoked = z.object({ revoked: z.boolean() });
export const enrollmentTokenIssued = z.object({ enrollmentToken: z.string() });
export const deviceRetired = z.object({ device, withdrawnCommands: z.number().int(), cancelledWorkflowId: z.string().nullable() });

export const devicePatch = z.looseObject({
  updateId: z.string(), kb: z.string(), title: z.string(), product: z.string(), classification: z.string(), severity: z.string(),
  status: z.string(), statusChangedAt: timestamp, installedAt: nullableTimestamp, lastExitCode: z.number().int().nullable(),
  lastError: z.string().nullable(), failedAttempts: z.number().int(), lastOperationId: z.string().nullable(),
  verified: z.boolean(), unverifiedReason: z.string().nullable(), supersededBy: z.string().optional(),
  rolledBackAt: nullableTimestamp.describe('set when an install rolled the patch back after a failed health check (status failed, lastError "rolled back: health check failed: ...")'),
  loopComebacks: z.number().int().describe('times the next scan offered the patch again after an install reported success; at 2 it is Failed "update loop detected"'),
});
export const devicePatches = z.object({ patches: z.array(devicePatch) });

/** GET /api/v1/devices/:deviceId/patch-test: the latest Patch Test, each check with its reason. */
export const patchTestResult = z.object({
  deviceId: uuid, workflowId: z.string(), passed: z.boolean(),
  checks: z.array(z.object({
    check: z.enum(['credentials', 'working-folder-protected', 'working-folder-permissions', 'disk-space', 'file-source', 'windows-update-services']),
    subject: z.string().optional().describe('the patch and source a file-source check is about'),
    passed: z.boolean(), reason: z.string(),
  })),
  kbs: z.array(z.string()).describe('the approved missing patches whose files were checked'),
  requestedBy: z.string(), testedAt: timestamp,
  automaticUpdateBlocked: z.string().nullable().describe('why Automatic Update skips the device until a Patch Test passes; null when this one passed'),
}).meta({ id: 'PatchTestResult' });

/** An operation started in the background: poll `location` for its state. */
export const operationStarted = z.looseObject({ workflowId: z.string(), key: z.string(), location: z.string() });
export const initialUpdateStarted = z.looseObject({ workflowId: z.string(), existing: z.boolean(), location: z.string() });

/** A workflow-backed operation's state (install, scan, Initial Update, catalog sync). */
const workflowState = {
  workflowId: z.string(),
  status: z.string().meta({ description: "Temporal's status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, CONTINUED_AS_NEW" }),
  startedAt: timestamp,
  closedAt: nullableTimestamp,
  result: z.unknown().nullable(),
  failure: z.string().nullable(),
};
export const installState = z.looseObject({ ...workflowState, progress: z.unknown().nullable() });
export const scanState = z.looseObject(workflowState);
export const initialUpdateState = z.looseObject({
  ...workflowState, historyLength: z.number().int(), progress: z.unknown().nullable(),
  device: z.looseObject({ lastCheckInAt: nullableTimestamp, online: z.boolean(), waitingForDeviceSince: nullableTimestamp }),
});
/** The workflow's answer to a cancellation request (the install's or Initial Update's update handler). */
export const cancelAccepted = z.looseObject({});

export const lastScan = z.object({
  deviceId: uuid, lastScannedAt: timestamp, lastChangedAt: timestamp, rebootPending: z.boolean(),
  freeDiskBytes: z.number().int().nullable(), updatesReported: z.number().int(), unverified: z.number().int(),
});
export const scopeScansStarted = z.object({ workflowId: z.string(), scans: z.array(z.looseObject({ deviceId: z.string(), workflowId: z.string() })) });

export const auditEntries = z.object({
  entries: z.array(z.looseObject({
    id: z.number().int(), at: timestamp, actor: z.string(), action: z.string(),
    deviceId: z.string().nullable().optional(), subject: z.string().nullable().optional(), details: z.record(z.string(), z.unknown()).nullable().optional(),
  })),
  /** a full page has a next one: pass this as the cursor; null on the last page */
  nextCursor: z.string().nullable(),
});

// ---- policies ----------------------------------------------------------------------------------

const policyDefault = z.object({
  kind: z.enum(['classification', 'product', 'kaseya_classification']), key: z.string(), status: approvalStatus,
  /** an Approved default deferred this many days after each patch's release; absent: not deferred */
  approveAfterDays: z.number().int().optional(),
});
export const policy = z.object({
  id: uuid, name: z.string(), denyManualInstallOnly: z.boolean(), denyWindowsUpdateWebSite: z.boolean(), denySuperseded: z.boolean(),
  fallbackDefault: approvalStatus, defaults: z.array(policyDefault), members: z.number().int(), createdAt: timestamp,
}).meta({ id: 'Policy' });
export const policyCreated = z.object({ ...policy.shape, stampedPatches: z.number().int() });
export const policyList = z.object({ policies: z.array(policy) });
export const policyDeleted = z.object({ deleted: uuid, name: z.string(), approvalsRemoved: z.number().int() });
const policyMember = z.object({ scopeType: z.enum(['device', 'site', 'client', 'device_type', 'all']), scopeId: z.string(), name: z.string(), devices: z.number().int() });
export const policyMembers = z.object({ members: z.array(policyMember) });
export const memberAdded = z.object({ added: z.boolean(), scopeType: z.string(), scopeId: z.string(), members: z.array(policyMember) });
export const memberRemoved = z.object({ removed: z.literal(true), scopeType: z.string(), scopeId: z.string(), members: z.array(policyMember) });
export const defaultSet = z.object({
  default: policyDefault, previous: approvalStatus.nullable(), previousApproveAfterDays: z.number().int().nullable(), restampedPatches: z.number().int(), note: z.string(),
});
export const defaultRemoved = z.object({ removed: policyDefault, restampedPatches: z.number().int(), note: z.string() });
export const policyApprovalsSet = z.object({
  policyId: uuid, policy: z.string(), status: approvalStatus, patches: z.number().int(), approvalsChanged: z.number().int(),
  approvals: z.array(z.object({ updateId: z.string(), kb: z.string(), status: approvalStatus, source: z.string(), note: z.string().nullable(), approveAfterDays: z.number().int().nullable(), changedAt: timestamp })),
});
export const allPoliciesApprovalSet = z.looseObject({
  status: approvalStatus, patches: z.number().int(), kbs: z.array(z.string()), policies: z.number().int(),
  policiesChanged: z.number().int(), approvalsChanged: z.number().int(), note: z.string(),
});
export const approvalsCopied = z.object({ fromPolicyId: uuid, toPolicyId: uuid, copied: z.number().int(), changed: z.number().int() });
const summaryRow = z.object({
  key: z.string(), approved: z.number().int(), denied: z.number().int(), pendingApproval: z.number().int(), total: z.number().int(),
  defaultStatus: approvalStatus, defaultFrom: z.enum(['classification', 'product', 'kaseya_classification', 'fallback']),
});
export const policySummary = z.object({
  policyId: uuid, policy: z.string(), groupBy: z.string(), rows: z.array(summaryRow),
  totals: z.object({ approved: z.number().int(), denied: z.number().int(), pendingApproval: z.number().int(), total: z.number().int() }),
  outside: z.array(summaryRow).optional(),
});
export const patchList = z.object({
  patches: z.array(z.looseObject({
    updateId: z.string(), kb: z.string(), title: z.string(), classification: z.string(), kaseyaClassification: z.string().nullable(),
    product: z.string(), severity: z.string(), supersededBy: z.string().nullable(), uninstallable: z.boolean(),
    kbOverride: approvalStatus.nullable(), approval: z.enum(['approved', 'pending_approval', 'denied', 'mixed']).nullable(),
    policies: z.array(z.looseObject({ policyId: uuid, policyName: z.string(), status: approvalStatus, source: z.string(), stamped: z.boolean(), note: z.string().nullable(), approveAfterDays: z.number().int().optional() })),
  })),
});
export const kbOverrides = z.object({ overrides: z.array(z.object({ kb: z.string(), status: approvalStatus, setAt: timestamp, patches: z.number().int() })) });
export const kbOverrideSet = z.object({ kb: z.string(), status: approvalStatus, previous: approvalStatus.nullable(), note: z.string() });
export const kbOverrideCleared = z.object({ kb: z.string(), cleared: z.literal(true), previous: approvalStatus });
export const patchActions = z.object({
  actions: z.array(z.object({ scopeType: z.string(), scopeId: z.string(), updateId: z.string(), kb: z.string(), title: z.string(), action: z.string(), setAt: timestamp })),
});
export const patchActionsSet = z.looseObject({
  scopeType: z.string(), scopeId: z.string(), action: z.string(), patches: z.number().int(), changed: z.number().int(), statuses: z.unknown(),
});
export const deviceApprovals = z.object({
  deviceId: uuid, policyIds: z.array(uuid),
  patches: z.array(z.looseObject({
    updateId: z.string(), kb: z.string(), title: z.string(), classification: z.string(), product: z.string(), status: z.string(),
    installedAt: nullableTimestamp, failedAttempts: z.number().int(), decision: z.string(), reason: z.string(), reprocessFailed: z.boolean(),
  })),
});

// ---- schedules ---------------------------------------------------------------------------------

export const schedule = z.looseObject({
  id: uuid, name: z.string(), kind: z.enum(['scan', 'automatic_update']), scopeType: z.enum(['all', 'policy', 'client', 'site', 'device_type']),
  scopeId: z.string(), timing: z.unknown(), distributionWindowMinutes: z.number().int(), maintenanceWindow: z.unknown().nullable(),
  rebootAction: z.unknown(), missedRun: z.enum(['skip', 'run_on_check_in']), maxConcurrentDevices: z.number().int(), paused: z.boolean(),
  createdAt: timestamp, updatedAt: timestamp, description: z.string(), maintenanceWindowText: z.string().nullable(), rebootActionText: z.string(),
  temporalScheduleId: z.string(), nextRunTimes: z.array(z.string()), recentRuns: z.array(z.object({ scheduledAt: z.string(), workflowId: z.string() })),
  healthCheck: z.unknown().nullable().optional().describe('the health check each install runs after its post-scan (HealthCheckSettings); null: none'),
}).meta({ id: 'Schedule' });
export const scheduleList = z.object({ schedules: z.array(schedule) });
export const scheduleTriggered = z.object({ triggered: z.literal(true), rollouts: z.string() });
export const scheduleBackfilled = z.object({ backfilled: z.literal(true) });
export const rollouts = z.object({
  rollouts: z.array(z.looseObject({
    workflowId: z.string(), scheduleId: z.string().nullable(), kind: z.string(), localSlot: z.string().nullable(),
    scheduledAt: nullableTimestamp, startedAt: timestamp, finishedAt: nullableTimestamp, counts: z.record(z.string(), z.unknown()),
    blockedDevices: z.array(z.object({ deviceId: z.string(), deviceName: z.string(), reason: z.string() }))
      .describe('devices the Automatic Update left out because their latest Patch Test failed, with the reason'),
  })),
});

// ---- command keys, catalog, reports --------------------------------------------------------------

export const commandKeys = z.object({
  current: z.object({ keyId: z.string(), devicesPinning: z.number().int() }),
  next: z.object({ keyId: z.string(), devicesPinning: z.number().int() }).nullable(),
  devicesNotPinningAll: z.number().int(),
});
export const rotationStarted = z.object({ keyIds: z.array(z.string()), devices: z.number().int(), started: z.number().int(), alreadyRunning: z.number().int() });

export const catalogFeeds = z.object({
  feeds: z.array(z.looseObject({ feedId: z.string(), syncIntervalMinutes: z.number(), scheduleId: z.string(), lastApplied: z.unknown().nullable() })),
});
export const catalogSyncStarted = z.object({ feedId: z.string(), workflowId: z.string(), runId: z.string(), location: z.string() });
export const catalogSyncState = z.looseObject({ feedId: z.string(), runId: z.string(), ...workflowState });
export const catalogImportReport = z.looseObject({
  dryRun: z.boolean(), format: z.enum(['csv', 'feed']), rows: z.number().int(), new: z.array(z.unknown()), revised: z.array(z.unknown()),
  changed: z.array(z.unknown()), unchanged: z.number().int(), approvals: z.array(z.unknown()), keptFromFeed: z.array(z.unknown()), refused: z.array(z.unknown()),
});

export const report = z.looseObject({
  id: uuid, kind: z.literal('patch_overview'), format: z.literal('csv'), parameters: z.unknown(), state: z.string(),
  rowsTotal: z.number().int().nullable(), rowsWritten: z.number().int(), bytesWritten: z.number().int(), fileName: z.string().nullable(),
  error: z.string().nullable(), requestedBy: z.string(), requestedAt: timestamp, finishedAt: nullableTimestamp,
  workflowId: z.string(), percent: z.number().nullable(), location: z.string(), download: z.string().nullable(),
}).meta({ id: 'Report' });
export const reportList = z.object({ reports: z.array(report) });
/** The Patch Overview Report in JSON (the other formats are text). */
export const patchOverviewJson = z.unknown();

// ---- agent gateway -----------------------------------------------------------------------------

export const enrolled = z.object({
  deviceId: uuid, credential: z.string().meta({ description: 'Authorization: Bearer <credential> on every other gateway route' }),
  commandKeys: z.array(z.looseObject({ keyId: z.string() })),
});
export const commandsOffered = z.object({
  commands: z.array(z.looseObject({ id: z.string(), type: z.string(), payload: z.unknown(), attempt: z.number().int(), signature: z.unknown().optional() })),
});
export const resultAccepted = z.looseObject({ accepted: z.literal(true), status: z.string(), delivered: z.boolean().optional(), duplicate: z.boolean().optional() });
/** With `starting` (an execute_patches command's next patch): the install's go-ahead; the agent starts it only on proceed. */
export const progressAccepted = z.object({
  accepted: z.literal(true),
  goAhead: z.union([
    z.object({ proceed: z.literal(true) }),
    z.object({ proceed: z.literal(false), reason: z.enum(Object.values(NotStartedReason) as [NotStartedReason, ...NotStartedReason[]]), message: z.string() }),
  ]).optional(),
});

// ---- alerts (api/alerts-api.ts) ----------------------------------------------------------------

export const alertRule = z.object({
  id: uuid, name: z.string(), clientId: uuid.nullable(), condition: z.string(), threshold: z.number().int().nullable(),
  webhookUrl: z.string(), enabled: z.boolean(), createdAt: timestamp, description: z.string(),
}).meta({ id: 'AlertRule' });
/** 201 of rule creation: the webhook secret, this once (only the rule keeps it). */
export const alertRuleCreated = z.object({ ...alertRule.shape, webhookSecret: z.string() });
export const alertRuleList = z.object({ rules: z.array(alertRule) });
export const alertList = z.object({
  alerts: z.array(z.object({
    id: uuid, ruleId: uuid, ruleName: z.string(), condition: z.string(), subject: z.string(), deviceId: uuid.nullable(), clientId: uuid.nullable(),
    details: z.record(z.string(), z.unknown()), openedAt: timestamp, closedAt: nullableTimestamp,
  })),
});
export const alertsEvaluationStarted = z.object({ workflowId: z.string(), runId: z.string() });
export const webhookDelivery = z.object({
  id: z.number().int(), alertId: uuid, ruleId: uuid, event: z.string(), attempts: z.number().int(), lastError: z.string().nullable(),
  nextAttemptAt: timestamp, deliveredAt: nullableTimestamp, deadLetteredAt: nullableTimestamp, createdAt: timestamp,
}).meta({ id: 'WebhookDelivery' });
export const deadLetters = z.object({ deliveries: z.array(webhookDelivery) });

// ---- what-if (api/what-if-api.ts) ----------------------------------------------------------------

const predictedInstall = z.object({ updateId: z.string(), kb: z.string() });
const explainedInstall = z.object({ ...predictedInstall.shape, reason: z.string() });
const whatIfDevice = { deviceId: uuid, deviceName: z.string(), clientName: z.string(), siteName: z.string() };
export const whatIfAnswer = z.object({
  generatedAt: timestamp,
  schedules: z.array(z.object({
    scheduleId: uuid, name: z.string(), paused: z.boolean(), nextRunAt: nullableTimestamp,
    devices: z.object({ before: z.number().int(), after: z.number().int() }),
    installs: z.object({ before: z.number().int(), after: z.number().int() }),
    changed: z.array(z.object({ ...whatIfDevice, added: z.array(explainedInstall), removed: z.array(explainedInstall) })),
    predicted: z.array(z.object({ ...whatIfDevice, installs: z.array(predictedInstall) })).optional(),
  })),
});
