import express, { type Router } from 'express';
import { deviceIdParam } from './operator-schemas';
import { latestPatchTest, startPatchTest, type PatchTestServiceDeps } from './patch-test-service';
import { parse } from './validation';
import { z } from 'zod';

/** POST takes no body (or `{}`): a Patch Test has nothing to choose, it tests what an install would do now. */
export const startPatchTestSchema = z.object({}).strict();

/** The Patch Test (/api/v1/devices/:deviceId/patch-test): start one, read the latest result. */
export function createPatchTestApi(deps: PatchTestServiceDeps): Router {
  const router = express.Router();
  router.post('/devices/:deviceId/patch-test', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    parse(startPatchTestSchema, req.body ?? {}, 'body');
    const started = await startPatchTest(deps, deviceId, res.locals.actor as string);
    const location = `/api/v1/devices/${deviceId}/patch-test`;
    res.status(202).location(location).json({ ...started, location });
  });
  router.get('/devices/:deviceId/patch-test', async (req, res) => {
    const { deviceId } = parse(deviceIdParam, req.params, 'params');
    res.json(await latestPatchTest(deps, deviceId));
  });
  return router;
}
