import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { failUnstartedRequest, insertApprovalRequest, type ApprovalRequestRow } from '../db/approval-request-repository';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db } from '../db/database';
import type { Tenancy } from '../db/tenancy-repository';
import type { Role } from '../domain/roles';
import { APPROVAL_REQUEST_WORKFLOW_TYPE, approvalRequestWorkflowId, type ApprovalRequestInput } from '../workflows/approval-request.contract';
import { OperationAttr } from '../workflows/search-attributes';
import { principalOf } from './tenancy';
import type { PendingApprovalResponse } from './approval-request-schemas';

/** The two-person rule's settings (README "Two-person rule"). */
export interface TwoPersonRuleOptions {
  /** an action reaching more devices than this waits for a second person; default 500 (TWO_PERSON_DEVICE_THRESHOLD) */
  deviceThreshold?: number;
  /** how long a request waits before it expires; default 24 h (APPROVAL_REQUEST_TTL_HOURS) */
  requestTtlSeconds?: number;
}

export const DEFAULT_TWO_PERSON_THRESHOLD = 500;
export const DEFAULT_REQUEST_TTL_SECONDS = 24 * 3600;

export interface TwoPersonDeps {
  db: Db;
  client: Client;
  log: Logger;
  taskQueue: string;
  twoPersonRule?: TwoPersonRuleOptions;
}

/** The kinds of action that can wait for a second person. */
export const GatedAction = {
  ScopeScan: 'scope_scan',
  ApprovalAllPolicies: 'approval_all_policies',
  KbOverride: 'kb_override',
  UninstallByScope: 'uninstall_by_scope',
  ScheduleTrigger: 'schedule_trigger',
  ScheduleBackfill: 'schedule_backfill',
} as const;
export type GatedAction = (typeof GatedAction)[keyof typeof GatedAction];

export interface GatedActionRequest {
  kind: GatedAction;
  summary: string;
  /** what the runner needs to do it (api/approved-actions.ts) */
  parameters: Record<string, unknown>;
  devices: number;
  neededRole: Role;
  clients: Tenancy;
}

export const approvalRequestLocation = (id: string) => `/api/v1/approval-requests/${id}`;

/**
 * The gate in front of a fleet-wide action: at or under the threshold it answers false and the route
 * runs the action itself; over it, the action becomes a pending request (its row, its audit row and
 * its `approval-request/<id>` workflow) and the route has been answered 202 with the request's Location.
 */
export async function waitsForSecondPerson(deps: TwoPersonDeps, res: Response, action: GatedActionRequest): Promise<boolean> {
  const threshold = deps.twoPersonRule?.deviceThreshold ?? DEFAULT_TWO_PERSON_THRESHOLD;
  if (action.devices <= threshold) return false;
  const p = principalOf(res);
  const ttl = deps.twoPersonRule?.requestTtlSeconds ?? DEFAULT_REQUEST_TTL_SECONDS;
  const id = randomUUID();
  const actor = res.locals.actor as string;
  const row: ApprovalRequestRow = await withTransaction(deps.db, async (tx) => {
    const r = await insertApprovalRequest(tx, {
      id, kind: action.kind, summary: action.summary, parameters: action.parameters, devices: action.devices, neededRole: action.neededRole,
      clientIds: action.clients === undefined || action.clients === 'all' ? null : [...action.clients],
      requestedBy: actor, requestedByUserId: p.userId, expiresAt: new Date(Date.now() + ttl * 1000),
    });
    await appendAudit(tx, [{
      actor, action: 'approval_request.created', subject: id,
      details: { kind: action.kind, summary: action.summary, devices: action.devices, threshold, neededRole: action.neededRole, parameters: action.parameters },
    }]);
    return r;
  });
  const input: ApprovalRequestInput = { requestId: id, summary: action.summary, requestedBy: actor, requestedByUserId: p.userId, expiresInSeconds: ttl };
  try {
    await deps.client.workflow.start(APPROVAL_REQUEST_WORKFLOW_TYPE, {
      workflowId: approvalRequestWorkflowId(id),
      taskQueue: deps.taskQueue,
      args: [input],
      staticSummary: `Two-person rule: ${action.summary}`,
      staticDetails: `Asked by ${actor}; reaches ${action.devices} devices (threshold ${threshold}); needs a second ${action.neededRole}.`,
      typedSearchAttributes: [{ key: OperationAttr, value: 'approval_request' }],
    });
  } catch (err) {
    await failUnstartedRequest(deps.db, id, `its workflow did not start: ${(err as Error).message}`).catch(() => undefined);
    throw err;
  }
  const location = approvalRequestLocation(id);
  const answer: PendingApprovalResponse = {
    pending: true as const, requestId: id, location, kind: row.kind, summary: row.summary, devices: row.devices, threshold,
    neededRole: row.neededRole, expiresAt: row.expiresAt,
    note: `reaches more than ${threshold} devices: waits until a second person with role ${row.neededRole} approves it`,
  };
  res.status(202).location(location).json(answer);
  return true;
}
