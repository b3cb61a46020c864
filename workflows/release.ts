import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  getExternalWorkflowHandle,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { ReleaseActivities } from '../activities';
import { evaluateGate, ringStartsAt, type RingResults } from '../domain/release-plan';
import {
  AUTOMATIC_UPDATE_WORKFLOW_TYPE,
  type RingSelection,
  type RolloutInput,
  type RolloutResult,
  type RolloutScope,
} from './automatic-update.contract';
import {
  haltReleaseSignal,
  releaseActionUpdate,
  releaseProgressQuery,
  releaseWorkflowId,
  resumeReleaseSignal,
  type ReleaseAction,
  type ReleaseHalt,
  type ReleaseInput,
  type ReleasePhase,
  type ReleaseProgress,
  type ReleaseResult,
  type RingRecord,
} from './release.contract';
import { BOOKKEEPING_RETRY } from './retry-policies';
import { ClientIdAttr, OperationAttr } from './search-attributes';

const acts = proxyLocalActivities<ReleaseActivities>({ startToCloseTimeout: '1 minute', retry: BOOKKEEPING_RETRY });

const HOUR = 3_600_000;

/**
 * A release of a cycle's patches through a plan's rings (issue 14.1). Ring by ring: wait for its
 * deferral on a durable timer, run it as a child Automatic Update rollout whose scope names the ring
 * (the rollout's device listing resolves it), with the ring's halt threshold as its autoHalt; soak;
 * then read the ring's real results and promote by its gate, or halt and wait for an operator
 * (resume, retry the failed devices, abort; promote by hand). A patch that failed in a ring is left
 * out of later rings; a patch paused by the kill switch, of the current one and every later one.
 * Every decision is in the audit log (recordReleaseEvent), the details and the result.
 */
export async function releaseWorkflow(input: ReleaseInput): Promise<ReleaseResult> {
  const info = workflowInfo();
  const { plan } = input;
  const rings: RingRecord[] = plan.rings.map((r, index) => ({ index, name: r.name, rollouts: [], kbs: [] }));
  const excluded = new Set<string>();
  const paused = new Set<string>();
  const log: string[] = [];
  let phase: ReleasePhase = 'waiting_deferral';
  let ringIndex = 0;
  let halted: ReleaseHalt | undefined;
  let operatorHalt: ReleaseHalt | undefined;
  let ringStartsAtIso: string | undefined;
  let pending: ReleaseAction | undefined;
  let currentRollout: string | undefined;

  const progress = (): ReleaseProgress => ({
    planId: plan.id, planName: plan.name, cycle: input.cycle, phase, ringIndex,
    ...(halted ?? operatorHalt ? { halted: halted ?? operatorHalt } : {}),
    ...(phase === 'waiting_deferral' && ringStartsAtIso ? { ringStartsAt: ringStartsAtIso } : {}),
    rings, excludedKbs: [...excluded], pausedKbs: [...paused], log,
  });
  setHandler(releaseProgressQuery, progress);
  setHandler(haltReleaseSignal, ({ reason, by, kb }) => {
    if (kb !== undefined) {
      paused.add(kb.toUpperCase());
      log.push(`${kb.toUpperCase()} paused by ${by}: ${reason}; left out of ring ${ringIndex} and later`);
    } else if (!operatorHalt) {
      operatorHalt = { reason, by, automatic: false };
      log.push(`halted by ${by}: ${reason}`);
    }
    // The ring's rollout stops starting devices too (it has its own halt handling).
    if (currentRollout) getExternalWorkflowHandle(currentRollout).signal('halt', { reason, by, ...(kb ? { kb } : {}) }).catch(() => undefined);
    setCurrentDetails(details());
  });
  setHandler(resumeReleaseSignal, ({ by }) => {
    if (!operatorHalt) return;
    log.push(`operator halt lifted by ${by}`);
    operatorHalt = undefined;
    // Halted by that operator: the same as an operator's resume.
    if (phase === 'halted' && halted && !halted.automatic && !pending) pending = { action: 'resume', by };
    setCurrentDetails(details());
  });
  const refusal = (a: ReleaseAction): string | undefined => {
    if (phase === 'completed' || phase === 'aborted') return `the release has ended (${phase})`;
    if ((a.action === 'resume' || a.action === 'retry') && phase !== 'halted') return `${a.action}: the release is not halted (it is ${phase})`;
    if (a.action === 'promote' && phase === 'rolling_out') return 'promote: the ring is rolling out; promote it while it soaks or once it is halted';
    if (pending) return `an action is already pending (${pending.action})`;
    return undefined;
  };
  setHandler(releaseActionUpdate, (a) => {
    pending = a;
    return progress();
  }, {
    validator: (a) => {
      const why = refusal(a);
      if (why) throw new Error(why);
    },
  });

  setCurrentDetails(details());
  let previousPromotedAt: number | undefined;
  for (ringIndex = 0; ringIndex < plan.rings.length; ringIndex++) {
    const ring = plan.rings[ringIndex]!;
    const record = rings[ringIndex]!;
    // Deferral: a durable timer (cut short by a manual promotion, which starts the ring now).
    const startsAt = ringStartsAt(ring, Date.parse(input.releasedAt), previousPromotedAt);
    ringStartsAtIso = new Date(startsAt).toISOString();
    setPhase('waiting_deferral');
    const wait = startsAt - new Date().getTime();
    if (wait > 0) await condition(() => pending?.action === 'promote' || pending?.action === 'abort', wait);
    if (pending?.action === 'abort') return abort(pending);
    if (pending?.action === 'promote') {
      await note(`ring ${ringIndex} (${ring.name}): started early by ${pending.by}${pending.reason ? `: ${pending.reason}` : ''}`);
      pending = undefined;
    }
    record.startedAt = new Date().toISOString();
    const scope: RolloutScope = { scopeType: 'client', scopeId: plan.clientId, ring: { planId: plan.id, index: ringIndex } };
    let only: string[] | undefined;
    let results: RingResults | undefined;
    let attempt = 0;

    for (;;) {
      const kbs = input.kbs.filter((kb) => !excluded.has(kb.toUpperCase()) && !paused.has(kb.toUpperCase()));
      if (kbs.length === 0) {
        record.outcome = 'skipped';
        record.decision = `ring ${ringIndex} (${ring.name}): skipped, every patch failed in an earlier ring or is paused`;
        await note(record.decision);
        break;
      }
      halted = operatorHalt;
      if (!halted && (only === undefined || only.length > 0)) {
        setPhase('rolling_out');
        record.kbs = kbs;
        const r = await runRing(ringIndex, { planId: plan.id, index: ringIndex, ...(only ? { deviceIds: only } : {}) }, kbs, attempt++);
        if (attempt === 1) record.devices = r.counts.devices;
        if (r.halted) halted = { reason: r.halted.reason, by: r.halted.by === 'automatic' ? 'halt threshold' : 'operator', automatic: r.halted.by === 'automatic' };
      }
      halted ??= operatorHalt;
      if (!halted && !pending) {
        setPhase('soaking');
        await condition(() => pending?.action === 'promote' || pending?.action === 'abort' || operatorHalt !== undefined, ring.gate.soakHours * HOUR);
        halted ??= operatorHalt;
      }
      if (pending?.action === 'abort') return abort(pending);
      results = await acts.ringResults({ scope, kbs });
      record.results = results;
      record.devices ??= results.devices;
      record.evaluatedAt = new Date().toISOString();
      for (const kb of results.failedKbs) {
        if (!excluded.has(kb.toUpperCase())) await note(`${kb} failed in ring ${ringIndex} (${ring.name}): left out of later rings`);
        excluded.add(kb.toUpperCase());
      }
      if (pending?.action === 'promote') {
        await promoteByHand(pending, record, results);
        pending = undefined;
        break;
      }
      if (!halted) {
        const gate = evaluateGate(ringIndex, ring, results);
        record.decision = gate.text;
        if (gate.passed) {
          record.outcome = 'promoted';
          await note(gate.text);
          break;
        }
        halted = { reason: gate.text, by: 'promotion gate', automatic: true };
      }
      // Halted: wait for an operator.
      setPhase('halted');
      await note(`ring ${ringIndex} (${ring.name}): halted by ${halted.by}: ${halted.reason}; waiting for an operator`);
      await condition(() => pending !== undefined);
      const a = pending!;
      pending = undefined;
      if (a.action === 'abort') return abort(a);
      const byGate = halted.by === 'promotion gate';
      if (a.action === 'promote' || (a.action === 'resume' && byGate)) {
        halted = undefined;
        await promoteByHand(a, record, results);
        break;
      }
      await note(`ring ${ringIndex} (${ring.name}): ${a.action === 'retry' ? 'retry of the failed devices' : 'resumed'} by ${a.by}${a.reason ? `: ${a.reason}` : ''}`);
      // A resume goes on with the devices the ring has no result for; a retry runs the failed ones again.
      only = a.action === 'retry' ? results.failedDeviceIds : results.pendingDeviceIds;
      if (a.action === 'retry') for (const kb of results.failedKbs) excluded.delete(kb.toUpperCase());
      halted = undefined;
      operatorHalt = undefined;
    }
    previousPromotedAt = new Date().getTime();
  }
  setPhase('completed');
  await condition(allHandlersFinished);
  return { outcome: 'completed', rings, log };

  async function runRing(index: number, ringSelection: RingSelection, kbs: string[], attempt: number): Promise<RolloutResult> {
    const ring = plan.rings[index]!;
    // From the input, not workflowInfo(): a replay under another id starts the same children.
    const workflowId = `${releaseWorkflowId(plan.id, input.cycle)}/ring-${index}${attempt > 0 ? `-run-${attempt + 1}` : ''}`;
    const rolloutInput: RolloutInput = {
      ...input.rollout,
      scheduleId: plan.id, scheduleName: `${plan.name} · ring ${index} (${ring.name})`,
      kind: 'automatic_update', scope: { scopeType: 'client', scopeId: plan.clientId, ring: ringSelection },
      kbs, autoHalt: ring.haltThreshold,
    };
    rings[index]!.rollouts.push(workflowId);
    const child = await startChild(AUTOMATIC_UPDATE_WORKFLOW_TYPE, {
      workflowId,
      args: [rolloutInput],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      staticSummary: `Release ${plan.name} ${input.cycle} · ring ${index} (${ring.name}): ${kbs.join(', ')}`,
      typedSearchAttributes: [{ key: OperationAttr, value: 'automatic-update' }, { key: ClientIdAttr, value: plan.clientId }],
    });
    currentRollout = workflowId;
    try {
      return (await child.result()) as RolloutResult;
    } finally {
      currentRollout = undefined;
    }
  }

  async function promoteByHand(a: ReleaseAction, record: RingRecord, results: RingResults): Promise<void> {
    record.outcome = 'promoted_manually';
    const finished = results.succeeded + results.failed;
    record.decision = `ring ${record.index} (${record.name}): promoted by ${a.by}${a.reason ? ` (${a.reason})` : ''} with `
      + `${finished === 0 ? 'no finished devices' : `${((100 * results.succeeded) / finished).toFixed(1)}% success of ${finished}`}`;
    await note(record.decision);
  }

  async function abort(a: ReleaseAction): Promise<ReleaseResult> {
    rings[ringIndex]!.outcome = 'aborted';
    pending = undefined;
    await note(`aborted by ${a.by} in ring ${ringIndex}${a.reason ? `: ${a.reason}` : ''}`);
    setPhase('aborted');
    await condition(allHandlersFinished);
    return { outcome: 'aborted', rings, log };
  }

  async function note(text: string): Promise<void> {
    log.push(text);
    await acts.recordReleaseEvent({ workflowId: info.workflowId, planId: plan.id, cycle: input.cycle, ringIndex, text });
    setCurrentDetails(details());
  }

  function setPhase(p: ReleasePhase): void {
    phase = p;
    setCurrentDetails(details());
  }

  function details(): string {
    const head = `**${plan.name}** release ${input.cycle} (${input.kbs.join(', ')}): ${phase === 'completed' || phase === 'aborted' ? phase : `ring ${ringIndex} of ${plan.rings.length}, ${phase}`}`;
    const h = halted ?? operatorHalt;
    return [head, ...(h ? [`halted by ${h.by}: ${h.reason}`] : []), ...log.map((l) => `- ${l}`)].join('\n');
  }
}
