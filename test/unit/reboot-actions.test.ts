import { resultSchemas } from '../../api/agent-schemas';
import {
  DEFAULT_REBOOT_ACTION,
  describeRebootAction,
  describeRebootSkip,
  nextOccurrence,
  planReboot,
  RebootAction,
  type RebootActionConfig,
  type RebootPlan,
} from '../../domain/reboot-actions';
import { rebootActionConfigSchema, validateRebootAction } from '../../domain/reboot-action-schema';
import { isKnownTimeZone } from '../../domain/local-time';

const NOW = new Date('2024-06-12T10:00:00Z'); // a Wednesday
const plan = (config: RebootActionConfig, rebootNeeded = true, now = NOW, timezone = 'UTC'): RebootPlan =>
  planReboot(config, { rebootNeeded, now, timezone });
const modeOf = (p: RebootPlan) => {
  if (p.kind !== 'command') throw new Error(`expected a command, got ${JSON.stringify(p)}`);
  return p.payload.mode;
};

const ALL: RebootActionConfig[] = [
  { action: 'reboot_immediately' },
  { action: 'reboot_at', day: 'sat', time: '03:00' },
  { action: 'warn_then_reboot', minutes: 5 },
  { action: 'skip_if_user_logged_on' },
  { action: 'ask_every_n_minutes', minutes: 15 },
  { action: 'ask_then_reboot_if_no_answer', minutes: 10 },
  { action: 'ask_then_do_nothing_if_no_answer', minutes: 10 },
  { action: 'do_not_reboot' },
  { action: 'ask_user_allow_deferrals', deferrals: 3, minutes: 60, deadlineDays: 2, graceDays: 1 },
];

describe('RebootAction', () => {
  it("has Kaseya's eight actions and the user-deferral one, and skip-if-user-logged-on is the default", () => {
    expect(Object.values(RebootAction)).toHaveLength(9);
    expect(new Set(ALL.map((c) => c.action))).toEqual(new Set(Object.values(RebootAction)));
    expect(DEFAULT_REBOOT_ACTION).toEqual({ action: 'skip_if_user_logged_on' });
    expect(Object.isFrozen(DEFAULT_REBOOT_ACTION)).toBe(true);
  });
});

describe('planReboot', () => {
  it.each(ALL)('$action: nothing to do when no reboot is needed', (config) => {
    expect(plan(config, false)).toEqual({ kind: 'none', reason: 'not_needed', detail: expect.any(String) });
  });

  it('reboot_immediately: a reboot command with no warning', () => {
    expect(modeOf(plan({ action: 'reboot_immediately' }))).toEqual({ kind: 'immediate' });
  });

  it('reboot_at: waits until the day and time, then reboots without asking', () => {
    const p = plan({ action: 'reboot_at', day: 'sat', time: '03:00' });
    expect(p).toEqual({ kind: 'wait_until', at: new Date('2024-06-15T03:00:00Z'), then: { reason: expect.any(String), mode: { kind: 'immediate' } } });
  });

  it('warn_then_reboot: the device warns for N minutes', () => {
    expect(modeOf(plan({ action: 'warn_then_reboot', minutes: 5 }))).toEqual({ kind: 'warn', minutes: 5 });
  });

  it('skip_if_user_logged_on (default): the device decides', () => {
    expect(modeOf(plan(DEFAULT_REBOOT_ACTION))).toEqual({ kind: 'skip_if_user_logged_on' });
  });

  it('ask_every_n_minutes: the device asks every N minutes', () => {
    expect(modeOf(plan({ action: 'ask_every_n_minutes', minutes: 15 }))).toEqual({ kind: 'ask_every', minutes: 15 });
  });

  it('ask_then_reboot_if_no_answer / ask_then_do_nothing_if_no_answer: one question, different silence', () => {
    expect(modeOf(plan({ action: 'ask_then_reboot_if_no_answer', minutes: 10 }))).toEqual({ kind: 'ask', minutes: 10, ifNoAnswer: 'reboot' });
    expect(modeOf(plan({ action: 'ask_then_do_nothing_if_no_answer', minutes: 7 }))).toEqual({ kind: 'ask', minutes: 7, ifNoAnswer: 'do_nothing' });
  });

  it('do_not_reboot: never a command, even when a reboot is needed', () => {
    expect(plan({ action: 'do_not_reboot' })).toEqual({ kind: 'none', reason: 'do_not_reboot', detail: expect.stringContaining('Reboot Required') });
  });

  it('puts the reason and the action in the command', () => {
    const p = planReboot({ action: 'warn_then_reboot', minutes: 1 }, { rebootNeeded: true, now: NOW, timezone: 'UTC', reason: 'finish KB5034441' });
    expect(p.kind === 'command' && p.payload.reason).toBe('finish KB5034441 (Warn user that the machine will reboot in 1 minute (without asking permission); reboot at once if nobody is logged on)');
    expect(plan({ action: 'reboot_immediately' })).toMatchObject({ payload: { reason: expect.stringMatching(/^patches installed pending reboot/) } });
  });

  it('produces plain JSON (it travels in Temporal payloads)', () => {
    for (const config of ALL) {
      const p = plan(config);
      expect(JSON.parse(JSON.stringify(p))).toEqual(p.kind === 'wait_until' ? { ...p, at: p.at.toISOString() } : p);
    }
  });
});

describe('reboot_at: next occurrence in the device time zone', () => {
  const at = (day: Parameters<typeof nextOccurrence>[0], time: string, now: string, tz: string) => nextOccurrence(day, time, new Date(now), tz).toISOString();

  it('is later today when the time has not come yet, else next week (or tomorrow for every_day)', () => {
    // Wednesday 10:00 UTC
    expect(at('wed', '11:00', '2024-06-12T10:00:00Z', 'UTC')).toBe('2024-06-12T11:00:00.000Z');
    expect(at('wed', '09:00', '2024-06-12T10:00:00Z', 'UTC')).toBe('2024-06-19T09:00:00.000Z');
    expect(at('wed', '10:00', '2024-06-12T10:00:00Z', 'UTC')).toBe('2024-06-19T10:00:00.000Z'); // never "now"
    expect(at('every_day', '11:00', '2024-06-12T10:00:00Z', 'UTC')).toBe('2024-06-12T11:00:00.000Z');
    expect(at('every_day', '09:00', '2024-06-12T10:00:00Z', 'UTC')).toBe('2024-06-13T09:00:00.000Z');
    expect(at('tue', '09:00', '2024-06-12T10:00:00Z', 'UTC')).toBe('2024-06-18T09:00:00.000Z');
  });

  it('uses the device local date, not the UTC one', () => {
    // 23:30 UTC on Wednesday is already Thursday 09:30 in Sydney (AEST, +10)
    expect(at('thu', '10:00', '2024-06-12T23:30:00Z', 'Australia/Sydney')).toBe('2024-06-13T00:00:00.000Z');
    expect(at('every_day', '03:00', '2024-06-12T23:30:00Z', 'America/Los_Angeles')).toBe('2024-06-13T10:00:00.000Z'); // PDT, -7
  });

  it('crosses the spring-forward change in Europe/London (GMT → BST)', () => {
    // Friday 29 March 2024, 12:00 GMT; clocks go forward on Sunday 31 March at 01:00 GMT
    expect(at('mon', '03:00', '2024-03-29T12:00:00Z', 'Europe/London')).toBe('2024-04-01T02:00:00.000Z'); // 03:00 BST
    expect(at('sun', '03:00', '2024-03-29T12:00:00Z', 'Europe/London')).toBe('2024-03-31T02:00:00.000Z');
    expect(at('sat', '03:00', '2024-03-29T12:00:00Z', 'Europe/London')).toBe('2024-03-30T03:00:00.000Z'); // still GMT
    // 01:30 does not exist that Sunday: it moves forward by the gap, to 02:30 BST
    expect(at('sun', '01:30', '2024-03-29T12:00:00Z', 'Europe/London')).toBe('2024-03-31T01:30:00.000Z');
  });

  it('crosses the fall-back change in Europe/London (BST → GMT); a repeated time is its first occurrence', () => {
    // Saturday 26 October 2024, 12:00 BST; clocks go back on Sunday 27 October at 02:00 BST
    expect(at('mon', '03:00', '2024-10-26T11:00:00Z', 'Europe/London')).toBe('2024-10-28T03:00:00.000Z'); // GMT
    expect(at('sun', '01:30', '2024-10-26T11:00:00Z', 'Europe/London')).toBe('2024-10-27T00:30:00.000Z'); // 01:30 BST
  });

  it('every_day across the change: each occurrence keeps the local time', () => {
    expect(at('every_day', '03:00', '2024-03-30T12:00:00Z', 'Europe/London')).toBe('2024-03-31T02:00:00.000Z'); // BST
    expect(at('every_day', '03:00', '2024-03-30T02:00:00Z', 'Europe/London')).toBe('2024-03-30T03:00:00.000Z'); // GMT
    // Saturday 12:00 BST: 09:00 has passed, so Sunday 09:00, by then GMT
    expect(at('every_day', '09:00', '2024-10-26T11:00:00Z', 'Europe/London')).toBe('2024-10-27T09:00:00.000Z');
    // 00:45 BST on the Sunday: 00:30 has passed, so Monday 00:30 GMT
    expect(at('every_day', '00:30', '2024-10-26T23:45:00Z', 'Europe/London')).toBe('2024-10-28T00:30:00.000Z');
  });

  it('planReboot computes the timer in the given zone', () => {
    const p = plan({ action: 'reboot_at', day: 'every_day', time: '02:00' }, true, new Date('2024-03-30T12:00:00Z'), 'Europe/London');
    expect(p.kind === 'wait_until' && p.at.toISOString()).toBe('2024-03-31T01:00:00.000Z'); // 02:00 does not exist → 03:00 BST
  });

  it('refuses an unknown time zone or a malformed time', () => {
    expect(isKnownTimeZone('Europe/London')).toBe(true);
    expect(isKnownTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(() => plan({ action: 'reboot_at', day: 'mon', time: '03:00' }, true, NOW, 'Mars/Olympus_Mons')).toThrow(/unknown time zone "Mars\/Olympus_Mons"/);
    expect(() => nextOccurrence('mon', '3:00', NOW, 'UTC')).toThrow(/HH:MM/);
    // not needed: no time zone work at all
    expect(plan({ action: 'reboot_at', day: 'mon', time: '03:00' }, false, NOW, 'Mars/Olympus_Mons').kind).toBe('none');
  });
});

describe('validateRebootAction', () => {
  it.each(ALL)('accepts $action', (config) => {
    expect(validateRebootAction(JSON.parse(JSON.stringify(config)))).toEqual({ ok: true, config });
  });

  it('accepts the limits of minutes and time', () => {
    expect(validateRebootAction({ action: 'warn_then_reboot', minutes: 1 }).ok).toBe(true);
    expect(validateRebootAction({ action: 'ask_every_n_minutes', minutes: 1440 }).ok).toBe(true);
    expect(validateRebootAction({ action: 'reboot_at', day: 'every_day', time: '00:00' }).ok).toBe(true);
    expect(validateRebootAction({ action: 'reboot_at', day: 'sun', time: '23:59' }).ok).toBe(true);
  });

  const message = (raw: unknown, where?: string) => {
    const r = validateRebootAction(raw, where);
    if (r.ok) throw new Error(`expected a refusal of ${JSON.stringify(raw)}`);
    return r.message;
  };

  it('explains what is wrong, field by field', () => {
    expect(message(null)).toBe('rebootAction: must be an object like {"action": "skip_if_user_logged_on"}');
    expect(message('reboot_immediately')).toMatch(/^rebootAction: must be an object/);
    expect(message([])).toMatch(/^rebootAction: must be an object/);
    expect(message({})).toBe(`rebootAction.action: must be one of ${Object.values(RebootAction).join(', ')}`);
    expect(message({ action: 'reboot_later' })).toMatch(/^rebootAction\.action: must be one of reboot_immediately, /);
    expect(message({ action: 'warn_then_reboot' })).toBe('rebootAction.minutes: is required (a whole number of minutes from 1 to 1440)');
    for (const minutes of [0, -5, 1441, 2.5, '5', null]) {
      expect(message({ action: 'ask_then_reboot_if_no_answer', minutes })).toBe('rebootAction.minutes: must be a whole number of minutes from 1 to 1440');
    }
    expect(message({ action: 'reboot_at', day: 'monday', time: '3:00' })).toBe(
      'rebootAction.day: must be one of mon, tue, wed, thu, fri, sat, sun, every_day; rebootAction.time: must be a 24-hour "HH:MM" from 00:00 to 23:59, e.g. "03:30"',
    );
    expect(message({ action: 'reboot_at', day: 'mon', time: '24:00' })).toMatch(/rebootAction\.time: must be a 24-hour "HH:MM"/);
    expect(message({ action: 'reboot_at' })).toBe(
      'rebootAction.day: is required: one of mon, tue, wed, thu, fri, sat, sun, every_day; rebootAction.time: is required: a 24-hour "HH:MM", e.g. "03:30"',
    );
    expect(message({ action: 'do_not_reboot', minutes: 5 })).toBe('rebootAction: "minutes" is not a setting of do_not_reboot');
    expect(message({ action: 'warn_then_reboot', minutes: 0 }, 'body.reboot')).toBe('body.reboot.minutes: must be a whole number of minutes from 1 to 1440');
  });

  it('lists each issue with its path', () => {
    const r = validateRebootAction({ action: 'reboot_at', day: 'x', time: 'y' });
    expect(r.ok === false && r.issues.map((i) => i.path)).toEqual(['rebootAction.day', 'rebootAction.time']);
  });

  it('exports the zod schema for the API', () => {
    expect(rebootActionConfigSchema.parse({ action: 'ask_every_n_minutes', minutes: 30 })).toEqual({ action: 'ask_every_n_minutes', minutes: 30 });
    expect(rebootActionConfigSchema.safeParse({ action: 'ask_every_n_minutes' }).success).toBe(false);
  });
});

describe('describeRebootAction', () => {
  it('gives one human line per action', () => {
    const lines = ALL.map(describeRebootAction);
    expect(new Set(lines).size).toBe(9);
    expect(lines).toEqual([
      'Reboot immediately after update',
      'Reboot Saturday at 03:00 (device local time) after install',
      'Warn user that the machine will reboot in 5 minutes (without asking permission); reboot at once if nobody is logged on',
      'Skip reboot if user logged on (patches stay Reboot Required until a reboot and rescan)',
      'If user logged on, ask to reboot every 15 minutes until the reboot occurs; reboot at once if nobody is logged on',
      'If user logged on, ask permission; reboot if no response in 10 minutes; reboot at once if nobody is logged on',
      'If user logged on, ask permission; do nothing if no response in 10 minutes; reboot at once if nobody is logged on',
      'Do not reboot after update (a rescan runs; patches stay Reboot Required)',
      'If user logged on, ask to reboot; allow up to 3 postponements of 60 minutes, then force the reboot; forced from 2 days after the patch became available (a device offline then gets 1 day from its return); reboot at once if nobody is logged on',
    ]);
    expect(describeRebootAction({ action: 'reboot_at', day: 'every_day', time: '22:15' })).toBe('Reboot every day at 22:15 (device local time) after install');
  });
});

describe('reboot results', () => {
  it('says why a device did not restart', () => {
    expect(describeRebootSkip('user_declined')).toBe('reboot skipped: the user declined');
  });

  it('the gateway accepts skipped reboots and answers of older agents, and keeps the new fields', () => {
    const schema = resultSchemas.reboot;
    expect(schema.parse({ previousBootId: 'a', bootId: 'b' })).toEqual({ previousBootId: 'a', bootId: 'b' });
    const skipped = { previousBootId: 'a', bootId: 'a', skipped: { reason: 'no_answer' }, userWasLoggedOn: true, waitedMinutes: 10 };
    expect(schema.parse(skipped)).toEqual(skipped);
    expect(schema.safeParse({ previousBootId: 'a', bootId: 'a', skipped: { reason: 'bored' } }).success).toBe(false);
    expect(schema.safeParse({ previousBootId: 'a', bootId: 'b', skipped: { reason: 'no_answer' } }).success).toBe(false);
    expect(schema.safeParse({ previousBootId: 'a', bootId: 'a', waitedMinutes: -1 }).success).toBe(false);
  });
});
