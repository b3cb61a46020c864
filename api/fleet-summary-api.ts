import type { Client } from '@temporalio/client';
import { assertScopeReachable, visibleClients } from './tenancy';
import express, { type Router } from 'express';
import { findPatchRefs } from '../db/approval-repository';
import type { Db } from '../db/database';
import { findClient, findDevice, findSite } from '../db/fleet-repository';
import { listFailedInstalls, listScopeDevicePatches, loadFleetDeviceFacts, patchStatusCounts } from '../db/fleet-summary-repository';
import { NotFoundError } from '../domain/errors';
import { interpretExitCode } from '../domain/exit-codes';
import { summariseFleet } from '../domain/fleet-summary';
import { actionReaches } from '../domain/patch-management';
import { OperationAttr } from '../workflows/search-attributes';
import { rolloutProgressQuery } from '../workflows/automatic-update.contract';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { DeviceWorkflow, FleetSummaryResponse, PatchManagementPreview } from './dashboard-schemas';
import { fleetQuery, patchManagementPreviewSchema, rolloutQuery } from './dashboard-schemas';
import { deviceIdParam } from './operator-schemas';
import { parse } from './validation';

export interface FleetSummaryDeps {
  db: Db;
  client: Client;
  /** the Temporal Web UI's base URL (TEMPORAL_UI_URL), for links to workflow histories */
  temporalUiUrl?: string;
  /** a device that has not polled for this long counts as offline (default 300 s) */
  offlineAfterSeconds?: number;
}

const STALE_SCAN_DAYS = 7;
const FAILED_INSTALLS_LISTED = 500;

/** The Web UI's page for one run of a workflow. */
export function temporalHistoryUrl(base: string | undefined, namespace: string, workflowId: string, runId: string): string | null {
  if (!base) return null;
  return `${base.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/**
 * What the dashboard needs beyond the resource routes (/api/v1): the fleet page's figures in one
 * call, each patch's devices per status, the Patch Management wizard's preview (which devices an
 * action reaches, before Apply), and a device's workflows with their Temporal UI links. Reads only.
 */
export function createFleetSummaryApi(deps: FleetSummaryDeps): Router {
  const { db } = deps;
  const router = express.Router();
  const offlineAfterSeconds = deps.offlineAfterSeconds ?? 300;

  router.get('/fleet/summary', async (req, res) => {
    const q = parse(fleetQuery, req.query, 'query');
    // A key for some clients sees only theirs; another client's id is a 404, as an unknown one.
    const visible = visibleClients(res);
    if (q.clientId && (!(await findClient(db, q.clientId)) || (visible !== 'all' && !visible.includes(q.clientId)))) throw new NotFoundError('client', q.clientId);
    const now = new Date();
    const facts = await loadFleetDeviceFacts(db, { clientIds: q.clientId ? [q.clientId] : visible === 'all' ? undefined : [...visible] });
    const summary = summariseFleet(facts, { now, staleScanDays: STALE_SCAN_DAYS, offlineAfterSeconds });
    const wanted = new Set(facts.map((f) => f.deviceId));
    const failedInstalls = (await listFailedInstalls(db, FAILED_INSTALLS_LISTED)).filter((f) => wanted.has(f.deviceId)).map((f) => {
      const meaning = f.lastExitCode === null ? null : interpretExitCode(f.lastExitCode);
      return { ...f, exitCode: meaning?.display ?? null, exitCodeMeaning: meaning ? `${meaning.name}: ${meaning.description}` : null };
    });
    const body: FleetSummaryResponse = { generatedAt: now.toISOString(), staleScanDays: STALE_SCAN_DAYS, offlineAfterSeconds, ...summary, failedInstalls };
    res.json(body);
  });

  router.get('/fleet/patch-status-counts', async (_req, res) => {
    res.json({ patches: await patchStatusCounts(db) });
  });

  router.post('/patch-management/preview', async (req, res) => {
    const body = parse(patchManagementPreviewSchema, req.body, 'body');
    await assertScopeReachable(db, res, body.scopeType, body.scopeId);
    const find = { device: findDevice, site: findSite, client: findClient, device_type: undefined }[body.scopeType];
    if (find && !(await find(db, body.scopeId))) throw new NotFoundError(body.scopeType, body.scopeId);
    const found = await findPatchRefs(db, body);
    const unknown = [...found.unknownKbs, ...found.unknownUpdateIds];
    if (unknown.length > 0) throw new NotFoundError(unknown.length === 1 ? 'patch' : 'patches', unknown.join(', '));
    const byId = new Map(found.patches.map((p) => [p.updateId, p]));
    const rows = await listScopeDevicePatches(db, body, found.patches.map((p) => p.updateId));
    const reached = new Map<string, PatchManagementPreview['devices'][number]>();
    const seen = new Set<string>();
    for (const r of rows) {
      seen.add(r.deviceId);
      if (!actionReaches(body.action, r.status, byId.get(r.updateId)!)) continue;
      let d = reached.get(r.deviceId);
      if (!d) reached.set(r.deviceId, d = { deviceId: r.deviceId, deviceName: r.deviceName, deviceType: r.deviceType, clientName: r.clientName, siteName: r.siteName, patches: [] });
      d.patches.push({ updateId: r.updateId, kb: r.kb, status: r.status });
    }
    const devices = [...reached.values()];
    const unaffected = [...seen].filter((id) => !reached.has(id)).length;
    const kbs = [...new Set(found.patches.map((p) => p.kb))].join(', ');
    const message = devices.length === 0
      ? `${body.action} of ${kbs} reaches no device in this ${body.scopeType.replace('_', ' ')}` +
        (seen.size === 0 ? ': the patch was found on none of its devices' : `: its ${seen.size} device(s) have it in a status ${body.action} does not apply to`)
      : `${body.action} of ${kbs} reaches ${devices.length} device(s)` + (unaffected ? `; ${unaffected} other device(s) of the scope are not affected` : '');
    const answer: PatchManagementPreview = { action: body.action, scopeType: body.scopeType, scopeId: body.scopeId, deviceCount: devices.length, devices, unaffected, message };
    res.json(answer);
  });

  // A rollout's live tally (done / failed / offline / busy / reboot pending), from its progress query.
  router.get('/rollouts/progress', async (req, res) => {
    const { workflowId } = parse(rolloutQuery, req.query, 'query');
    const handle = deps.client.workflow.getHandle(workflowId);
    let d;
    try { d = await handle.describe(); } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new NotFoundError('rollout', workflowId);
      throw err;
    }
    const running = d.status.name === 'RUNNING';
    res.json({
      workflowId, runId: d.runId, status: d.status.name,
      progress: running ? await handle.query(rolloutProgressQuery) : null,
      temporalUrl: temporalHistoryUrl(deps.temporalUiUrl, deps.client.options.namespace, workflowId, d.runId),
    });
  });

  router.get('/devices/:deviceId/workflows', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    if (!(await findDevice(db, deviceId))) throw new NotFoundError('device', deviceId);
    const namespace = deps.client.options.namespace;
    const workflows: DeviceWorkflow[] = [];
    // The id is a UUID (checked above), so it is safe inside the visibility query.
    for await (const w of deps.client.workflow.list({ query: `DeviceId = "${deviceId}"`, pageSize: 50 })) {
      workflows.push({
        workflowId: w.workflowId, runId: w.runId, type: w.type, status: w.status.name,
        operation: w.typedSearchAttributes.get(OperationAttr) ?? null,
        startTime: w.startTime.toISOString(), closeTime: w.closeTime?.toISOString() ?? null,
        temporalUrl: temporalHistoryUrl(deps.temporalUiUrl, namespace, w.workflowId, w.runId),
      });
      if (workflows.length >= 50) break;
    }
    res.json({ workflows });
  });

  return router;
}
