import { proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { CommandKeyActivities } from '../activities';
import type { TrustKeysInput, TrustKeysWorkflowResult } from './trust-keys.contract';
import { STATE_RETRY } from './retry-policies';

/**
 * Teaches one device the server's command keys (rotation): sends it a trust_keys command, signed by
 * the current key it already pins, carrying the full list to pin (current and next), then records what
 * it pins. A device that is offline is waited for, like every device step.
 */
export async function trustKeysWorkflow(input: TrustKeysInput): Promise<TrustKeysWorkflowResult> {
  const retry = {
    initialInterval: `${input.retryInitialSeconds ?? 5} seconds`,
    maximumInterval: `${input.retryMaxSeconds ?? 300} seconds`,
    backoffCoefficient: 2,
  };
  const heartbeatTimeout = `${input.heartbeatTimeoutSeconds ?? 120} seconds`;
  const keys = proxyActivities<CommandKeyActivities>({ startToCloseTimeout: `${input.commandTimeoutSeconds ?? 600} seconds`, retry });

  setCurrentDetails(`**trust_keys**: waiting for ${input.deviceName} to pin the server's command keys`);
  const pinned = await keys.trustKeysCommand.executeWithOptions(
    { startToCloseTimeout: `${input.commandTimeoutSeconds ?? 600} seconds`, heartbeatTimeout, retry, summary: `trust_keys on ${input.deviceName}` },
    [input.deviceId],
  );
  await keys.recordPinnedCommandKeys.executeWithOptions(
    { startToCloseTimeout: '30 seconds', retry: STATE_RETRY, summary: `record keys pinned by ${input.deviceName}` },
    [input.deviceId, pinned.keyIds],
  );
  setCurrentDetails(`**done**: ${input.deviceName} pins ${pinned.keyIds.join(', ')}`);
  return { keyIds: pinned.keyIds };
}
