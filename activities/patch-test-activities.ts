import type { Logger } from 'pino';
import { appendAudit } from '../db/audit-repository';
import { withTransaction, type Db } from '../db/database';
import { catalogFiles } from '../db/patch-repository';
import { savePatchTest } from '../db/patch-test-repository';
import { processScan } from '../db/scan-repository';
import type { PatchFile, PatchTestResult, ScanResult } from '../domain/device-protocol';
import { evaluatePatchTest, type PatchTestOutcome } from '../domain/patch-test';
import { automaticUpdateBlock, bindToCatalog } from '../domain/patch-test-result';
import { activityKey, selectPatchesByApproval, type ApprovalQuestion, type ApprovalSelection } from './install-bookkeeping';

/** The Patch Test's bookkeeping (workflows/patch-test.ts), run as local activities. Each is exact under retry. */
export function createPatchTestActivities(deps: { db: Db; log: Logger }) {
  const { db } = deps;
  return {
    /**
     * The Patch Test's pre-scan: stored like any scan (it is one), then the approval selection an
     * install would make, asked as a dry run (nothing re-armed, no count reset). Returns the catalog's
     * file facts, which the device step gets: the catalog, not the device, says where a file is and
     * what it hashes to.
     */
    async recordPatchTestPreScan(args: { scan: ScanResult; question: ApprovalQuestion }): Promise<{ catalog: Record<string, PatchFile>; selection: ApprovalSelection }> {
      await processScan(db, args.question.deviceId, args.scan, { installVerification: false });
      const catalog = await catalogFiles(db, args.scan.updates.map((u) => u.updateId));
      return { catalog, selection: await selectPatchesByApproval(db, args.question, { dryRun: true }) };
    },

    /**
     * Evaluates what the device observed (domain/patch-test.ts, its files bound to the catalog's hashes
     * first) and stores it as the device's latest Patch Test, with an audit row written once. A failed
     * one blocks Automatic Update on the device until a later one passes (db/patch-test-repository.ts).
     */
    async recordPatchTestResult(args: {
      deviceId: string; workflowId: string; requestedBy: string; testedAt: string; patches: PatchFile[]; observation: PatchTestResult;
    }): Promise<PatchTestOutcome> {
      const outcome = evaluatePatchTest(bindToCatalog(args.observation, args.patches));
      const kbs = args.patches.map((p) => p.kb);
      await withTransaction(db, async (tx) => {
        const written = await savePatchTest(tx, { deviceId: args.deviceId, workflowId: args.workflowId, passed: outcome.passed, checks: outcome.checks, kbs, requestedBy: args.requestedBy, testedAt: args.testedAt });
        await appendAudit(tx, [{
          actor: `workflow:${args.workflowId}`, action: outcome.passed ? 'device.patch_test_passed' : 'device.patch_test_failed', deviceId: args.deviceId, subject: args.workflowId,
          idempotencyKey: activityKey(),
          details: {
            requestedBy: args.requestedBy, kbs, stored: written,
            failed: outcome.checks.filter((c) => !c.passed).map((c) => ({ check: c.check, ...(c.subject ? { subject: c.subject } : {}), reason: c.reason })),
          },
        }]);
      });
      const block = automaticUpdateBlock({ ...outcome, testedAt: args.testedAt });
      deps.log.info({ deviceId: args.deviceId, workflowId: args.workflowId, passed: outcome.passed, block }, 'patch test recorded');
      return outcome;
    },
  };
}
