import { appendAudit } from '../db/audit-repository';
import { recordPinnedCommandKeys } from '../db/command-repository';
import { withTransaction } from '../db/database';
import { enrollDevice, retryEnrollment } from '../db/fleet-repository';
import { pinnableKeys } from '../config/command-keys';
import type { GatewayDeps } from './agent-gateway';
import type { enrollSchema } from './agent-schemas';
import { formatCredential, hashSecret, newSecret } from './credentials';
import { HttpError } from './errors';
import type { z } from 'zod';

/**
 * Spends an enrollment token for a device credential and the command keys the agent pins. One
 * transaction: the token is spent, the credential stored and the audit row written together, or none
 * of them (a failure leaves the token usable). An unknown, expired or spent token is a 401.
 */
export async function enrollAgent(deps: Pick<GatewayDeps, 'db' | 'log' | 'commandKeys' | 'enrollment'>, body: z.infer<typeof enrollSchema>) {
  const secret = newSecret();
  // The agent pins these beside its credential and refuses commands signed by any other key.
  const commandKeys = pinnableKeys(deps.commandKeys);
  const tokenHash = hashSecret(body.enrollmentToken);
  const nonceHash = body.enrollmentNonce === undefined ? undefined : hashSecret(body.enrollmentNonce);
  const enrollment = deps.enrollment ?? {};
  const deviceId = await withTransaction(deps.db, async (tx) => {
    const id = await enrollDevice(tx, tokenHash, hashSecret(secret), body.bootId, {
      nonceHash, attempt: body.enrollmentAttempt, tokenTtlSeconds: enrollment.tokenTtlSeconds, retryWindowSeconds: enrollment.retryWindowSeconds ?? 600,
    });
    if (id) {
      await recordPinnedCommandKeys(tx, id, commandKeys.map((k) => k.keyId));
      await appendAudit(tx, [{ actor: `device:${id}`, action: 'device.enrolled', deviceId: id, details: { hostname: body.hostname ?? null, commandKeyIds: commandKeys.map((k) => k.keyId) } }]);
      return id;
    }
    // The same agent again (same spent token, same nonce, in the window): its first answer was lost.
    // The server holds only hashes, so the credential is replaced: the lost one never reached anyone.
    const retried = nonceHash ? await retryEnrollment(tx, tokenHash, nonceHash, hashSecret(secret), body.bootId, body.enrollmentAttempt) : undefined;
    if (retried === 'superseded') return retried;
    if (retried) {
      await recordPinnedCommandKeys(tx, retried, commandKeys.map((k) => k.keyId));
      await appendAudit(tx, [{ actor: `device:${retried}`, action: 'device.enrollment_retried', deviceId: retried, details: { hostname: body.hostname ?? null, commandKeyIds: commandKeys.map((k) => k.keyId) } }]);
    }
    return retried;
  });
  if (!deviceId) throw new HttpError(401, 'enrollment token is unknown, expired or already used');
  // The right token and nonce, so no failed authentication: a try that arrived after a later one was
  // answered. Its agent has stopped waiting for it and holds the later try's credential, which stays.
  if (deviceId === 'superseded') throw new HttpError(409, `enrollment try ${body.enrollmentAttempt} arrived after a later try was answered; the credential that try returned stays`);
  deps.log.info({ deviceId, hostname: body.hostname }, 'device enrolled');
  return { deviceId, credential: formatCredential(deviceId, secret), commandKeys };
}
