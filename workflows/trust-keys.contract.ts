/** The contract of trustKeysWorkflow (command key rotation): id scheme, input and result. */

export const TRUST_KEYS_WORKFLOW_TYPE = 'trustKeysWorkflow';

/**
 * `trust-keys/<deviceId>/<key ids joined by +>`: one per device and key set, so asking twice for the
 * same rotation finds the running (or finished) one instead of sending the command again.
 */
export function trustKeysWorkflowId(deviceId: string, keyIds: string[]): string {
  return `trust-keys/${deviceId}/${[...keyIds].sort().join('+')}`;
}

export interface TrustKeysInput {
  deviceId: string;
  deviceName: string;
  /** who asked: "api-key:admin" */
  requestedBy: string;
  /** per-attempt limit of the trust_keys step (default 600 s) and the pacing of offers while the device is away */
  commandTimeoutSeconds?: number;
  retryInitialSeconds?: number;
  retryMaxSeconds?: number;
  /** how long the step's attempt may go without a heartbeat (default 120 s; see InstallTiming.heartbeatTimeoutSeconds) */
  heartbeatTimeoutSeconds?: number;
}

export interface TrustKeysWorkflowResult {
  /** the key ids the device pins now */
  keyIds: string[];
}
