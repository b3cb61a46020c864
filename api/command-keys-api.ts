import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import express, { type Router } from 'express';
import type { CommandKeyring } from '../config/command-keys';
import { pinnableKeys } from '../config/command-keys';
import { appendAudit } from '../db/audit-repository';
import { devicesMissingKeys, pinnedKeyCounts } from '../db/command-repository';
import type { Db } from '../db/database';
import { TRUST_KEYS_WORKFLOW_TYPE, trustKeysWorkflowId, type TrustKeysInput } from '../workflows/trust-keys.contract';
import { DeviceIdAttr, OperationAttr } from '../workflows/search-attributes';
import type { ScanServiceDeps } from './scan-service';
import { rotateSchema } from './catalog-schemas';
import { parse } from './validation';

export interface CommandKeysApiDeps {
  db: Db;
  client: Client;
  taskQueue: string;
  commandKeys: CommandKeyring;
  /** the trust_keys step's pacing (tests and demos use the scan's) */
  scanTiming?: ScanServiceDeps['scanTiming'];
}

/**
 * Command key rotation (/api/v1/command-keys). The server holds the current key (signs) and, during a
 * rotation, the next one (COMMAND_SIGNING_NEXT_KEY_PATH). `rotate` sends every enrolled device that
 * does not pin both a trust_keys command, signed by the current key; `GET` shows how far that got.
 * Once every device pins the next key, the operator makes it the current one.
 */
export function createCommandKeysApi(deps: CommandKeysApiDeps): Router {
  const router = express.Router();

  router.get('/command-keys', async (_req, res) => {
    const keys = pinnableKeys(deps.commandKeys);
    const counts = await pinnedKeyCounts(deps.db);
    const missing = await devicesMissingKeys(deps.db, keys.map((k) => k.keyId));
    res.json({
      current: { keyId: deps.commandKeys.current.keyId, devicesPinning: counts[deps.commandKeys.current.keyId] ?? 0 },
      next: deps.commandKeys.next ? { keyId: deps.commandKeys.next.keyId, devicesPinning: counts[deps.commandKeys.next.keyId] ?? 0 } : null,
      devicesNotPinningAll: missing.length,
    });
  });

  router.post('/command-keys/rotate', async (req, res) => {
    parse(rotateSchema, req.body ?? {}, 'body');
    const actor = res.locals.actor as string;
    const keyIds = pinnableKeys(deps.commandKeys).map((k) => k.keyId);
    const devices = await devicesMissingKeys(deps.db, keyIds);
    let started = 0;
    let running = 0;
    for (const device of devices) {
      const input: TrustKeysInput = {
        deviceId: device.id, deviceName: device.name, requestedBy: actor,
        commandTimeoutSeconds: deps.scanTiming?.scanTimeoutSeconds,
        retryInitialSeconds: deps.scanTiming?.retryInitialSeconds,
        retryMaxSeconds: deps.scanTiming?.retryMaxSeconds,
        heartbeatTimeoutSeconds: deps.scanTiming?.heartbeatTimeoutSeconds,
      };
      try {
        await deps.client.workflow.start(TRUST_KEYS_WORKFLOW_TYPE, {
          workflowId: trustKeysWorkflowId(device.id, keyIds),
          // A device whose rotation already succeeded is not asked again (its pinned keys may be read
          // a moment before that run records them); one whose rotation failed is.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          taskQueue: deps.taskQueue,
          args: [input],
          staticSummary: `Pin command keys ${keyIds.join(', ')} on ${device.name}`,
          typedSearchAttributes: [{ key: DeviceIdAttr, value: device.id }, { key: OperationAttr, value: 'trust_keys' }],
        });
        started++;
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        running++;
      }
    }
    await appendAudit(deps.db, [{ actor, action: 'command_keys.rotation_started', details: { keyIds, devices: devices.length, started, alreadyRunning: running } }]);
    res.status(202).json({ keyIds, devices: devices.length, started, alreadyRunning: running });
  });

  return router;
}
