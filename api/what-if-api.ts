import express, { type Router } from 'express';
import type { Db } from '../db/database';
import { whatIfSchema } from './what-if-schemas';
import { whatIf } from './what-if-service';
import { parse } from './validation';

/**
 * What-if (POST /api/v1/what-if): the next Automatic Update runs' installs under a proposed change,
 * against today's. A read: nothing is written or audited, however it is asked.
 */
export function createWhatIfApi(deps: { db: Db }): Router {
  const router = express.Router();
  router.post('/what-if', async (req, res) => {
    const body = parse(whatIfSchema, req.body, 'body');
    const started = performance.now();
    const answer = await whatIf(deps.db, body);
    res.set('Server-Timing', `whatif;dur=${(performance.now() - started).toFixed(1)}`).json(answer);
  });
  return router;
}
