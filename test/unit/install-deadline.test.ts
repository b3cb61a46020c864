import { deadlineProblems, enforcementOf, silenceOf, type DeadlineSettings, type Silence } from '../../domain/install-deadline';

// Deadlines and grace (issue 14 part 3, Intune: deadline 0–30 days after the update is available,
// grace 0–7 days for a device offline at the deadline, counted from when it comes back).

const T = (s: string) => Date.parse(s);
const AVAILABLE = T('2026-12-10T09:00:00Z');

describe('when deferrals stop and the restart is forced', () => {
  const cases: { name: string; settings: DeadlineSettings; silences: Silence[]; forceAt: string; offline: boolean; cameBack?: string; why: RegExp }[] = [
    {
      name: 'online at the deadline: forced at the deadline', settings: { deadlineDays: 2, graceDays: 2 }, silences: [],
      forceAt: '2026-12-12T09:00:00.000Z', offline: false, why: /^deadline 2026-12-12T09:00Z \(2 days after the patch became available\)$/,
    },
    {
      name: 'a deadline of 0 days: forced as soon as the patch is available', settings: { deadlineDays: 0 }, silences: [],
      forceAt: '2026-12-10T09:00:00.000Z', offline: false, why: /^deadline/,
    },
    {
      name: 'offline across the deadline, back a day later: forced after the grace from the return',
      settings: { deadlineDays: 2, graceDays: 2 }, silences: [{ fromMs: T('2026-12-11T18:00:00Z'), toMs: T('2026-12-13T08:00:00Z') }],
      forceAt: '2026-12-15T08:00:00.000Z', offline: true, cameBack: '2026-12-13T08:00:00.000Z',
      why: /^offline at the deadline 2026-12-12T09:00Z; back at 2026-12-13T08:00Z, so forced from 2026-12-15T08:00Z \(grace period: 2 days\)$/,
    },
    {
      name: 'offline across the deadline with no grace: forced the moment it comes back',
      settings: { deadlineDays: 2 }, silences: [{ fromMs: T('2026-12-11T00:00:00Z'), toMs: T('2026-12-20T00:00:00Z') }],
      forceAt: '2026-12-20T00:00:00.000Z', offline: true, cameBack: '2026-12-20T00:00:00.000Z', why: /grace period: 0 days/,
    },
    {
      name: 'a silence before the deadline does not count', settings: { deadlineDays: 2, graceDays: 7 },
      silences: [{ fromMs: T('2026-12-10T10:00:00Z'), toMs: T('2026-12-11T10:00:00Z') }],
      forceAt: '2026-12-12T09:00:00.000Z', offline: false, why: /^deadline/,
    },
    {
      name: 'a silence that starts exactly at the deadline counts', settings: { deadlineDays: 1, graceDays: 1 },
      silences: [{ fromMs: T('2026-12-11T09:00:00Z'), toMs: T('2026-12-11T12:00:00Z') }],
      forceAt: '2026-12-12T12:00:00.000Z', offline: true, cameBack: '2026-12-11T12:00:00.000Z', why: /^offline at the deadline/,
    },
    {
      name: 'a silence that ends exactly at the deadline does not (the device answered at the deadline)', settings: { deadlineDays: 1, graceDays: 7 },
      silences: [{ fromMs: T('2026-12-10T12:00:00Z'), toMs: T('2026-12-11T09:00:00Z') }],
      forceAt: '2026-12-11T09:00:00.000Z', offline: false, why: /^deadline/,
    },
    {
      name: 'of several silences, the one across the deadline counts', settings: { deadlineDays: 3, graceDays: 1 },
      silences: [
        { fromMs: T('2026-12-10T12:00:00Z'), toMs: T('2026-12-11T12:00:00Z') },
        { fromMs: T('2026-12-13T00:00:00Z'), toMs: T('2026-12-14T06:00:00Z') },
        { fromMs: T('2026-12-16T00:00:00Z'), toMs: T('2026-12-17T00:00:00Z') },
      ],
      forceAt: '2026-12-15T06:00:00.000Z', offline: true, cameBack: '2026-12-14T06:00:00.000Z', why: /^offline/,
    },
  ];
  test.each(cases)('$name', (c) => {
    const e = enforcementOf(c.settings, AVAILABLE, c.silences);
    expect(new Date(e.forceAtMs).toISOString()).toBe(c.forceAt);
    expect(e.offlineAtDeadline).toBe(c.offline);
    expect(e.cameBackMs === undefined ? undefined : new Date(e.cameBackMs).toISOString()).toBe(c.cameBack);
    expect(e.why).toMatch(c.why);
  });
});

describe('what counts as a silence', () => {
  test.each([
    { name: 'answered at once', sent: 0, answered: 5_000, busy: 0, silent: false },
    { name: 'a prompt left open 10 minutes is the user, not an absence', sent: 0, answered: 605_000, busy: 600_000, silent: false },
    { name: 'no answer for an hour', sent: 0, answered: 3_600_000, busy: 0, silent: true },
    { name: 'just over the slack', sent: 0, answered: 300_001, busy: 0, silent: true },
  ])('$name', ({ sent, answered, busy, silent }) => {
    expect(silenceOf(sent, answered, busy, 300_000) !== undefined).toBe(silent);
  });
});

describe('validation (the API answers 422 naming the field)', () => {
  test.each([
    { input: {}, problems: [] },
    { input: { deadlineDays: 0 }, problems: [] },
    { input: { deadlineDays: 30, graceDays: 7 }, problems: [] },
    { input: { deadlineDays: 2, graceDays: 0 }, problems: [] },
    { input: { deadlineDays: 31 }, problems: [['deadlineDays', 'must be a whole number of days from 0 to 30, got 31']] },
    { input: { deadlineDays: -1 }, problems: [['deadlineDays', 'must be a whole number of days from 0 to 30, got -1']] },
    { input: { deadlineDays: 1.5 }, problems: [['deadlineDays', 'must be a whole number of days from 0 to 30, got 1.5']] },
    { input: { deadlineDays: 2, graceDays: 8 }, problems: [['graceDays', 'must be a whole number of days from 0 to 7, got 8']] },
    { input: { deadlineDays: 2, graceDays: -1 }, problems: [['graceDays', 'must be a whole number of days from 0 to 7, got -1']] },
    { input: { graceDays: 2 }, problems: [['graceDays', 'a grace period needs a deadline: set deadlineDays (0–30) too, or leave graceDays out']] },
    { input: { deadlineDays: 40, graceDays: 9 }, problems: [['deadlineDays', 'must be a whole number of days from 0 to 30, got 40'], ['graceDays', 'must be a whole number of days from 0 to 7, got 9']] },
  ])('$input', ({ input, problems }) => {
    expect(deadlineProblems(input).map((p) => [p.field, p.message])).toEqual(problems);
  });
});
