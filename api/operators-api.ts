import express, { type Response, type Router } from 'express';
import { listAudit } from '../db/audit-repository';
import { listClients, listDevices, listSites } from '../db/fleet-repository';
import { NotFoundError } from '../domain/errors';
import { installWorkflowId } from '../workflows/install.contract';
import { devicePatches } from './patch-views';
import { changeDeviceFolders, clearDeviceNeedsAttention, createClient, createSite, deviceOr404, registerDevice, setSiteFileSource } from './fleet-service';
import { cancelInstall, describeInstall, startInstall, type InstallServiceDeps } from './install-service';
import { describeScan, startDeviceScan, startScopeScan, type ScanServiceDeps } from './scan-service';
import { cancelDeviceInitialUpdate, describeInitialUpdate, startInitialUpdate, type InitialUpdateDeps } from './initial-update-service';
import { findDeviceScan } from '../db/scan-repository';
import { scanWorkflowId } from '../workflows/scan.contract';
import type { Metrics } from './metrics';
import {
  auditQuery, cancelInstallSchema, clearNeedsAttentionSchema, scopeScanSchema, startInitialUpdateSchema, clientIdParam, createClientSchema, createDeviceSchema, createSiteSchema, fileSourceOf, siteIdParam, updateSiteSchema,
  deviceIdParam, retireDeviceQuery, devicePatchesQuery, installParams, listDevicesQuery, listSitesQuery, startInstallSchema, updateDeviceSchema,
} from './operator-schemas';
import { issueEnrollmentToken, retireDeviceById, revokeDeviceCredential } from './device-lifecycle';
import { parse } from './validation';
import { assertReachable, assertScopeReachable, filterVisible, visibleClients } from './tenancy';
import { scopeTenancy, siteTenancy } from '../db/tenancy-repository';
import { countScopeDevices } from '../db/reach-repository';
import { Role } from '../domain/roles';
import { GatedAction, waitsForSecondPerson, type TwoPersonRuleOptions } from './two-person-rule';

/** The operators' API (/api/v1): fleet, patch status and installs. Handlers parse, call, map. */
export function createOperatorsApi(deps: InstallServiceDeps & ScanServiceDeps & InitialUpdateDeps & { metrics: Metrics; twoPersonRule?: TwoPersonRuleOptions }): Router {
  const { db } = deps;
  const router = express.Router();
  const actorOf = (res: Response): string => res.locals.actor as string;

  router.post('/clients', async (req, res) => {
    const body = parse(createClientSchema, req.body, 'body');
    const client = await createClient(db, body.name, actorOf(res));
    res.status(201).location(`/api/v1/clients/${client.id}`).json(client);
  });

  router.get('/clients', async (_req, res) => {
    res.json({ clients: await filterVisible(res, await listClients(db), (c) => [c.id]) });
  });

  router.post('/clients/:clientId/sites', async (req, res) => {
    const { clientId } = parse(clientIdParam, req.params, 'params');
    const body = parse(createSiteSchema, req.body, 'body');
    const fileSource = body.fileSource ? fileSourceOf(body.fileSource) : undefined;
    res.status(201).json(await createSite(db, clientId, { name: body.name, fileSource }, actorOf(res)));
  });

  router.patch('/sites/:siteId', async (req, res) => {
    const { siteId } = parse(siteIdParam, req.params, 'params');
    const body = parse(updateSiteSchema, req.body, 'body');
    res.json(await setSiteFileSource(db, siteId, fileSourceOf(body.fileSource), actorOf(res)));
  });

  router.get('/sites', async (req, res) => {
    const q = parse(listSitesQuery, req.query, 'query');
    res.json({ sites: await filterVisible(res, await listSites(db, q.clientId), (s) => [s.clientId]) });
  });

  router.post('/devices', async (req, res) => {
    const body = parse(createDeviceSchema, req.body, 'body');
    assertReachable(res, await siteTenancy(db, body.siteId), 'site', body.siteId);
    const registered = await registerDevice(db, body, actorOf(res));
    res.status(201).location(`/api/v1/devices/${registered.device.id}`).json(registered);
  });

  router.get('/devices', async (req, res) => {
    const { needsAttention, ...q } = parse(listDevicesQuery, req.query, 'query');
    const devices = await listDevices(db, { ...q, clientIds: visibleClients(res), ...(needsAttention ? { needsAttention: needsAttention === 'true' } : {}) });
    res.json({ devices });
  });

  router.get('/devices/:deviceId', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    res.json(await deviceOr404(db, deviceId));
  });

  router.post('/devices/:deviceId/needs-attention/clear', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const { note } = parse(clearNeedsAttentionSchema, req.body, 'body');
    res.json(await clearDeviceNeedsAttention(db, deviceId, note, actorOf(res)));
  });

  router.patch('/devices/:deviceId', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    res.json(await changeDeviceFolders(db, deviceId, parse(updateDeviceSchema, req.body, 'body'), actorOf(res)));
  });

  router.post('/devices/:deviceId/credential/revoke', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    res.json(await revokeDeviceCredential(deps, deviceId, actorOf(res)));
  });

  router.post('/devices/:deviceId/enrollment-token', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    // Shown once, like the first token: only its hash is stored.
    res.status(201).json(await issueEnrollmentToken(deps, deviceId, actorOf(res)));
  });

  router.delete('/devices/:deviceId', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const q = parse(retireDeviceQuery, req.query, 'query');
    res.json(await retireDeviceById(deps, deviceId, { force: q.force === 'true', actor: actorOf(res) }));
  });

  router.get('/devices/:deviceId/patches', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const q = parse(devicePatchesQuery, req.query, 'query');
    await deviceOr404(db, deviceId);
    res.json({ patches: await devicePatches(db, deviceId, q) });
  });

  router.post('/devices/:deviceId/installs', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const body = parse(startInstallSchema, req.body, 'body');
    const started = await startInstall(deps, {
      deviceId, kbs: body.kbs?.map((k) => k.toUpperCase()), rebootAllowed: body.rebootAllowed, requestedBy: actorOf(res),
      ...(body.healthCheck ? { healthCheck: body.healthCheck } : {}),
    });
    deps.metrics.installsStarted.inc();
    const location = `/api/v1/devices/${deviceId}/installs/${started.key}`;
    res.status(202).location(location).json({ ...started, location });
  });

  router.get('/devices/:deviceId/installs/:key', async (req, res) => {
    const { deviceId, key } = parse(installParams, req.params, 'params');
    res.json(await describeInstall(deps, installWorkflowId(deviceId, key)));
  });

  router.post('/devices/:deviceId/installs/:key/cancel', async (req, res) => {
    const { deviceId, key } = parse(installParams, req.params, 'params');
    const body = parse(cancelInstallSchema, req.body, 'body');
    res.status(202).json(await cancelInstall(deps, installWorkflowId(deviceId, key), body.reason ?? 'cancelled by operator', actorOf(res)));
  });

  router.post('/devices/:deviceId/initial-update', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    parse(startInitialUpdateSchema, req.body, 'body');
    const started = await startInitialUpdate(deps, deviceId, actorOf(res));
    const location = `/api/v1/devices/${deviceId}/initial-update`;
    res.status(started.existing ? 200 : 202).location(location).json({ ...started, location });
  });

  router.get('/devices/:deviceId/initial-update', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    res.json(await describeInitialUpdate(deps, deviceId));
  });

  router.post('/devices/:deviceId/initial-update/cancel', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const body = parse(cancelInstallSchema, req.body, 'body');
    res.status(202).json(await cancelDeviceInitialUpdate(deps, deviceId, body.reason ?? 'cancelled by operator', actorOf(res)));
  });

  router.post('/devices/:deviceId/scans', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const started = await startDeviceScan(deps, deviceId, actorOf(res));
    const location = `/api/v1/devices/${deviceId}/scans/${started.key}`;
    res.status(202).location(location).json({ ...started, location });
  });

  router.get('/devices/:deviceId/scans/:key', async (req, res) => {
    const { deviceId, key } = parse(installParams, req.params, 'params');
    res.json(await describeScan(deps, scanWorkflowId(deviceId, key)));
  });

  router.get('/devices/:deviceId/last-scan', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    const scan = await findDeviceScan(db, deviceId);
    if (!scan) throw new NotFoundError('scan of device', deviceId);
    res.json(scan);
  });

  router.post('/scans', async (req, res) => {
    const body = parse(scopeScanSchema, req.body, 'body');
    await assertScopeReachable(db, res, body.scopeType, body.scopeId);
    const scope = { scopeType: body.scopeType, scopeId: body.scopeId };
    const devices = await countScopeDevices(db, body.scopeType, body.scopeId);
    if (await waitsForSecondPerson(deps, res, {
      kind: GatedAction.ScopeScan, summary: `Scan ${devices} devices (${body.scopeType}${body.scopeId ? ` ${body.scopeId}` : ''})`,
      parameters: { scope }, devices, neededRole: Role.Operator, clients: await scopeTenancy(db, body.scopeType, body.scopeId ?? ''),
    })) return;
    const started = await startScopeScan(deps, scope, actorOf(res));
    res.status(202).json(started);
  });

  router.get('/audit', async (req, res) => {
    const q = parse(auditQuery, req.query, 'query');
    const limit = q.limit ?? 200;
    const entries = await listAudit(db, { ...q, limit, visibleClients: visibleClients(res) });
    // A full page has a next one, older (or, following with `after`, newer): its cursor is the last id.
    const nextCursor = entries.length === limit ? String(entries[entries.length - 1].id) : null;
    res.json({ entries, nextCursor });
  });

  return router;
}
