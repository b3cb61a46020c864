/** The install's message handlers: its progress, the operator's cancel, the kill switch's halt. */
import { log, patched, setHandler } from '@temporalio/workflow';
import { cancelInstallUpdate, executeGoAheadQuery, haltInstallSignal, progressQuery, type InstallStep } from '../install.contract';
import { goAheadFor } from './execute';
import { HALT_PATCH } from './markers';
import { normaliseKb, type InstallRun } from './install-run';

/** Steps before anything runs on the device: a fleet-wide halt here cancels them and cleans up. */
const BEFORE_EXECUTE: ReadonlySet<InstallStep> = new Set(['claim', 'pre-scan', 'download', 'copy']);

/** Registered before the install's first await, so no message finds the install without its handler. */
export function registerHandlers(run: InstallRun): void {
  const { state } = run;
  setHandler(progressQuery, () => state);
  // The agent's question before each patch of an execute_patches command, relayed by the gateway.
  setHandler(executeGoAheadQuery, (start) => goAheadFor(run, start));
  // Only an install that records the marker acts on a halt: one that got the signal on older code
  // (no handler, the signal ignored) replays as it ran.
  setHandler(haltInstallSignal, ({ reason, by, kb }) => {
    if (state.step === 'cleanup' || state.step === 'done' || !(run.batched || patched(HALT_PATCH))) return;
    log.info('halt received', { reason, by, kb, step: state.step });
    if (kb !== undefined) {
      if (!run.haltedKbs.has(normaliseKb(kb))) run.haltedKbs.set(normaliseKb(kb), { reason, by });
      return;
    }
    if (state.halted) return;
    state.halted = { reason, by, step: state.step };
    // Nothing has run on the device yet: stop the steps now (cleanup still runs). From execute on,
    // the patch in hand finishes and the loops stop before the next one.
    if (BEFORE_EXECUTE.has(state.step)) run.work.cancel();
  });
  setHandler(
    cancelInstallUpdate,
    ({ reason }) => {
      state.cancelRequested = true;
      log.info('cancel requested', { reason });
      run.work.cancel();
      return { accepted: true, step: state.step };
    },
    {
      validator: (_request) => {
        if (state.step === 'cleanup' || state.step === 'done') throw new Error(`install is already at ${state.step}`);
      },
    },
  );
}
