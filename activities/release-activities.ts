import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import type { Db } from '../db/database';
import { ringResults } from '../db/release-repository';
import { resolveScopeDevices } from '../db/rollout-repository';
import type { RingResults } from '../domain/release-plan';
import type { RolloutScope } from '../workflows/automatic-update.contract';

/** What a release reads and records: its rings' results and its decisions. Each is idempotent. */
export function createReleaseActivities(deps: { db: Db; log: Logger }) {
  return {
    /**
     * A ring's real results after its soak, read from its devices' patch states (a rollback or a
     * failure seen after the rollout counts): the same devices the ring's rollout listed (scope.ring).
     */
    async ringResults(args: { scope: RolloutScope; kbs: string[] }): Promise<RingResults> {
      // The whole ring (not only the devices of its last run): a retry's results count with the first run's.
      const ring = args.scope.ring;
      const scope: RolloutScope = ring ? { ...args.scope, ring: { planId: ring.planId, index: ring.index } } : args.scope;
      const devices = await resolveScopeDevices(deps.db, scope);
      return ringResults(deps.db, devices.map((d) => d.deviceId), args.kbs);
    },
    /** One decision of a release, in the audit log (once: a retry writes nothing more). */
    async recordReleaseEvent(args: { workflowId: string; planId: string; cycle: string; ringIndex: number; text: string }): Promise<void> {
      await appendAudit(deps.db, [{
        actor: `workflow:${args.workflowId}`, action: 'release.decision', subject: args.planId,
        details: { cycle: args.cycle, ringIndex: args.ringIndex, text: args.text },
        idempotencyKey: `release:${args.workflowId}:${args.text}`,
      }]);
    },
  };
}
