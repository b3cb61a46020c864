import { haltResumedText, haltScope, haltSetText, haltStatusText, type HaltState } from '../../cli/halt-commands';
import { UsageError } from '../../cli/format';
import type { AutoHaltRow, FleetHaltRow } from '../../db/halt-repository';

const fleetHalt = (over: Partial<FleetHaltRow> = {}): FleetHaltRow => ({
  source: 'operator', id: 'h1', kb: null, reason: 'boot loops', haltedBy: 'user:alice/key:ops', haltedAt: '2026-12-02T10:00:00.000Z',
  resumedBy: null, resumedAt: null, ...over,
});
const autoHalt = (over: Partial<AutoHaltRow> = {}): AutoHaltRow => ({
  source: 'automatic', workflowId: 'automatic-update/s1-2026-12-02T07:00:00Z', scheduleId: 's1', scheduleName: 'Pilot ring',
  reason: 'failure rate 30.0% of 10 > 20%', haltedBy: 'system: rollout automatic-update/s1-2026-12-02T07:00:00Z auto-halt',
  haltedAt: '2026-12-02T09:00:00.000Z', resumedBy: null, resumedAt: null, endedAt: null, ...over,
});
const none = { rollouts: 0, releases: 0, installs: 0, failed: 0 };
const state = (s: Partial<HaltState>): HaltState => ({ active: [], recent: [], automatic: { active: [], recent: [] }, ...s });

describe('haltScope', () => {
  it('takes exactly one scope, as the API body', () => {
    expect(haltScope({ all: true }, false)).toEqual({ all: true });
    expect(haltScope({ patch: 'kb5034441' }, false)).toEqual({ kb: 'KB5034441' });
    expect(haltScope({ rollout: 'automatic-update/x' }, true)).toEqual({ rollout: 'automatic-update/x' });
  });
  it('refuses none, two, or a rollout where only patches are halted', () => {
    expect(() => haltScope({}, false)).toThrow(new UsageError('give exactly one of --all or --patch <KB>'));
    expect(() => haltScope({ all: true, patch: 'KB5034441' }, true)).toThrow(/give exactly one of --all, --patch <KB> or --rollout <workflowId>/);
    expect(() => haltScope({ rollout: 'x' }, false)).toThrow(/--all or --patch/);
    expect(() => haltScope({ patch: 'nope' }, false)).toThrow(UsageError);
  });
});

describe('halt texts', () => {
  it('a new halt says what stops, who, why, what was signalled and how to resume', () => {
    expect(haltSetText({ halt: fleetHalt(), created: true, signalled: { rollouts: 1, releases: 0, installs: 3, failed: 1 } }).split('\n')).toEqual([
      'HALTED all patches fleet-wide by user:alice/key:ops: boot loops',
      'signalled 1 running rollout, 0 releases, 3 installs (1 not reached: they had closed)',
      'No new device starts; installs not yet executing clean up and end halted, executing ones finish their patch. Resume: patchflow resume --all',
    ]);
    expect(haltSetText({ halt: fleetHalt({ kb: 'KB5034441' }), created: false, signalled: none })).toMatch(
      /^KB5034441 already halted since 2026-12-02 10:00:00 UTC by user:alice\/key:ops: boot loops\n.*\nNo device starts KB5034441; .* patchflow resume --patch KB5034441$/,
    );
  });
  it('a resume names what it ended, operator or automatic', () => {
    expect(haltResumedText({ halt: fleetHalt({ resumedBy: 'user:bob/key:appr', resumedAt: '2026-12-02T11:00:00.000Z' }), signalled: none }).split('\n')[0])
      .toBe('RESUMED all patches by user:bob/key:appr; it was halted since 2026-12-02 10:00:00 UTC by user:alice/key:ops: boot loops');
    expect(haltResumedText({ halt: autoHalt({ resumedBy: 'user:bob', resumedAt: '2026-12-02T11:00:00.000Z' }), signalled: none }).split('\n')[0])
      .toBe('RESUMED rollout automatic-update/s1-2026-12-02T07:00:00Z (Pilot ring), automatic halt by user:bob; it was halted since 2026-12-02 09:00:00 UTC'
        + ' by system: rollout automatic-update/s1-2026-12-02T07:00:00Z auto-halt: failure rate 30.0% of 10 > 20%');
  });
  it('status: nothing in force, or the operator and automatic halts in their own tables, then the last resume', () => {
    expect(haltStatusText(state({}))).toBe('No halt in force: devices start as their schedules and releases say.');
    const text = haltStatusText(state({
      active: [fleetHalt(), fleetHalt({ id: 'h2', kb: 'KB5034441', reason: 'vendor pulled it' })],
      recent: [fleetHalt({ id: 'h0', kb: 'KB890830', resumedBy: 'user:bob', resumedAt: '2026-12-01T08:00:00.000Z' })],
      automatic: { active: [autoHalt()], recent: [] },
    }));
    expect(text.split('\n')).toEqual([
      'Operator halts in force (kill switch):',
      'SCOPE        SOURCE    BY                  SINCE                    REASON',
      'all patches  operator  user:alice/key:ops  2026-12-02 10:00:00 UTC  boot loops',
      'KB5034441    operator  user:alice/key:ops  2026-12-02 10:00:00 UTC  vendor pulled it',
      '',
      'Automatic halts in force (a rollout stopped itself at its failure threshold; resume with --rollout):',
      'ROLLOUT                                   SCHEDULE    SOURCE     SINCE                    REASON',
      'automatic-update/s1-2026-12-02T07:00:00Z  Pilot ring  automatic  2026-12-02 09:00:00 UTC  failure rate 30.0% of 10 > 20%',
      '',
      'Last resumed: KB890830 by user:bob at 2026-12-01 08:00:00 UTC (halted by user:alice/key:ops: boot loops)',
    ]);
  });
});
