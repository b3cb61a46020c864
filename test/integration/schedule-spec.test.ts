import { randomUUID } from 'node:crypto';
import { Client, Connection, type ScheduleHandle } from '@temporalio/client';
import { isRepeatedLocalTime, localRunDate, nextRunTimes, toTemporalScheduleSpec, type ScheduleSpecOptions, type ScheduleTiming } from '../../domain/schedule-spec';

/**
 * The specs toTemporalScheduleSpec writes, read back by a real Temporal server: each Schedule is created
 * paused (its action would start a workflow type nobody implements), and the server's own next action
 * times must be the ones nextRunTimes computes. `startAt` moves the window to the dates that matter
 * (DST changes, leap Februaries, month spills) without waiting for them; keep those dates in the future
 * (a past startAt is just "now").
 */

jest.setTimeout(60_000);

let connection: Connection;
let client: Client;
const handles: ScheduleHandle[] = [];

beforeAll(async () => {
  connection = await Connection.connect({ address: process.env.PATCHFLOW_TEST_TEMPORAL_ADDRESS! });
  client = new Client({ connection, namespace: 'default' });
});

afterAll(async () => {
  for (const h of handles) await h.delete();
  await connection?.close();
});

/** Creates the paused Schedule and returns the server's next action times. */
async function serverNextTimes(t: ScheduleTiming, startAt?: Date, options: ScheduleSpecOptions = {}): Promise<Date[]> {
  const spec = toTemporalScheduleSpec(t, options);
  const handle = await client.schedule.create({
    scheduleId: `schedule-spec-test-${t.kind}-${randomUUID()}`,
    spec: startAt ? { ...spec, startAt } : spec,
    action: { type: 'startWorkflow', workflowType: 'noSuchWorkflow', taskQueue: 'schedule-spec-test', args: [] },
    state: { paused: true, note: 'schedule-spec integration test: never runs' },
  });
  handles.push(handle);
  return (await handle.describe()).info.nextActionTimes;
}

const iso = (dates: Date[]): string[] => dates.map((d) => d.toISOString());

test.each<[string, ScheduleTiming]>([
  ['weekly Wednesday 02:00 Europe/London', { kind: 'weekly', days: ['wed'], time: '02:00', timezone: 'Europe/London' }],
  ['weekly Monday, Thursday 23:45 Asia/Kolkata', { kind: 'weekly', days: ['mon', 'thu'], time: '23:45', timezone: 'Asia/Kolkata' }],
  ['Patch Tuesday + 1 at 02:00 America/New_York', { kind: 'monthly_patch_tuesday', offsetDays: 1, time: '02:00', timezone: 'America/New_York' }],
  ['Patch Tuesday - 7 at 04:00 Europe/Berlin', { kind: 'monthly_patch_tuesday', offsetDays: -7, time: '04:00', timezone: 'Europe/Berlin' }],
])('%s: the next 5 runs from now, as the server computes them', async (_name, t) => {
  const before = new Date();
  const server = await serverNextTimes(t);
  expect(server.length).toBeGreaterThanOrEqual(5);
  expect(iso(server.slice(0, 5))).toEqual(iso(nextRunTimes(t, before, 5)));
});

// Dates from next year on, so that startAt always lies ahead of the server's clock.
const NEXT_YEAR = new Date().getUTCFullYear() + 1;
const LEAP_YEAR = [0, 1, 2, 3].map((i) => NEXT_YEAR + i).find((y) => new Date(Date.UTC(y, 1, 29)).getUTCDate() === 29)!;
const COMMON_YEAR = [0, 1].map((i) => NEXT_YEAR + i).find((y) => y !== LEAP_YEAR)!;
const jan1 = (y: number): string => `${y}-01-01T00:00:00Z`;

test.each<[string, ScheduleTiming, string, number]>([
  // 13 Jan, 10 Feb, 10 Mar (still EST), 14 Apr (EDT) … in 2027, as in the unit test's hand-written list.
  ['Patch Tuesday + 1, next year', { kind: 'monthly_patch_tuesday', offsetDays: 1, time: '02:00', timezone: 'America/New_York' }, jan1(NEXT_YEAR), 10],
  // +13: Mondays on days 21–27, always inside Patch Tuesday's month.
  ['Patch Tuesday + 13, next year', { kind: 'monthly_patch_tuesday', offsetDays: 13, time: '02:00', timezone: 'America/New_York' }, jan1(NEXT_YEAR), 10],
  // Spills into the next month, with a different spill after 31-, 30-, 28- and 29-day months.
  ['Patch Tuesday + 21, next year', { kind: 'monthly_patch_tuesday', offsetDays: 21, time: '02:00', timezone: 'America/New_York' }, jan1(NEXT_YEAR), 10],
  // After a leap February the March spill ends a day earlier: the skip entry (in 2028, 1 March is a
  // Wednesday that must not run, since 8 Feb + 15 = 23 Feb).
  ['Patch Tuesday + 15 over a leap February', { kind: 'monthly_patch_tuesday', offsetDays: 15, time: '02:00', timezone: 'UTC' }, jan1(LEAP_YEAR), 10],
  ['Patch Tuesday + 15 over a common February', { kind: 'monthly_patch_tuesday', offsetDays: 15, time: '02:00', timezone: 'UTC' }, jan1(COMMON_YEAR), 10],
  ['Patch Tuesday + 16 over a leap February', { kind: 'monthly_patch_tuesday', offsetDays: 16, time: '02:00', timezone: 'UTC' }, jan1(LEAP_YEAR), 10],
  // Day 31 clamps to the 30th and to 28/29 February.
  ['monthly day 31, next year', { kind: 'monthly_day', day: 31, time: '02:00', timezone: 'America/New_York' }, jan1(NEXT_YEAR), 10],
  ['monthly day 31 over a leap February', { kind: 'monthly_day', day: 31, time: '02:00', timezone: 'UTC' }, jan1(LEAP_YEAR), 5],
  ['monthly day 29 over a common February', { kind: 'monthly_day', day: 29, time: '02:00', timezone: 'UTC' }, jan1(COMMON_YEAR), 5],
  // N-able's monthly timings: the last Friday (one calendar per month length, leap Februaries skipped)
  // and a 5th Tuesday (months without one have no run).
  ['last Friday, over a leap February', { kind: 'monthly_weekday', week: 'last', weekday: 'fri', time: '02:00', timezone: 'UTC' }, jan1(LEAP_YEAR), 10],
  ['last Friday, over a common February', { kind: 'monthly_weekday', week: 'last', weekday: 'fri', time: '22:00', timezone: 'Europe/London' }, jan1(COMMON_YEAR), 10],
  ['5th Tuesday, next year', { kind: 'monthly_weekday', week: 5, weekday: 'tue', time: '02:00', timezone: 'America/New_York' }, jan1(NEXT_YEAR), 6],
  ['2nd Tuesday, next year', { kind: 'monthly_weekday', week: 2, weekday: 'tue', time: '03:00', timezone: 'Asia/Kolkata' }, jan1(NEXT_YEAR), 6],
  // A 30-minute DST shift (Lord Howe springs 02:00→02:30 on the first Sunday of October), and zones
  // whose clocks change at midnight (Santiago: the first Sunday of September; Beirut: the last Sunday of March).
  ['1st Sunday 02:15 Australia/Lord_Howe over its spring-forward', { kind: 'monthly_weekday', week: 1, weekday: 'sun', time: '02:15', timezone: 'Australia/Lord_Howe' }, `${NEXT_YEAR}-08-01T00:00:00Z`, 4],
  ['1st Sunday 00:30 America/Santiago over its spring-forward', { kind: 'monthly_weekday', week: 1, weekday: 'sun', time: '00:30', timezone: 'America/Santiago' }, `${NEXT_YEAR}-07-01T00:00:00Z`, 4],
  ['last Sunday 00:30 Asia/Beirut over its spring-forward', { kind: 'monthly_weekday', week: 'last', weekday: 'sun', time: '00:30', timezone: 'Asia/Beirut' }, `${NEXT_YEAR}-01-01T00:00:00Z`, 6],
  // 02:30 does not exist on the US spring-forward Sunday (second Sunday of March): the pinned calendar
  // runs it at 03:30 EDT.
  ['daily 02:30 New York over spring-forward', { kind: 'daily', time: '02:30', timezone: 'America/New_York' }, `${NEXT_YEAR}-03-06T00:00:00Z`, 10],
  ['weekly Sunday 02:00 New York over spring-forward', { kind: 'weekly', days: ['sun'], time: '02:00', timezone: 'America/New_York' }, `${NEXT_YEAR}-03-01T00:00:00Z`, 5],
  ['daily 01:30 London over spring-forward (last Sunday of March)', { kind: 'daily', time: '01:30', timezone: 'Europe/London' }, `${NEXT_YEAR}-03-24T00:00:00Z`, 10],
])('%s: the server agrees with nextRunTimes from startAt', async (_name, t, startAt, n) => {
  const server = await serverNextTimes(t, new Date(startAt));
  expect(server.length).toBeGreaterThanOrEqual(n);
  expect(iso(server.slice(0, n))).toEqual(iso(nextRunTimes(t, new Date(new Date(startAt).getTime() - 1), n)));
});

test('daily 01:30 New York over fall-back: the server fires at both 01:30s; the guard drops the second', async () => {
  const t: ScheduleTiming = { kind: 'daily', time: '01:30', timezone: 'America/New_York' };
  // The US falls back on the first Sunday of November.
  const startAt = new Date(`${NEXT_YEAR}-11-01T00:00:00Z`);
  const server = (await serverNextTimes(t, startAt)).slice(0, 9);
  expect(server).toHaveLength(9);
  const dropped = server.filter((s) => isRepeatedLocalTime(s, t.timezone));
  expect(dropped).toHaveLength(1);
  const fallBack = localRunDate(dropped[0]!, t.timezone);
  expect(new Date(`${fallBack}T12:00:00Z`).getUTCDay()).toBe(0);
  expect(server.filter((s) => localRunDate(s, t.timezone) === fallBack)).toHaveLength(2);
  const kept = server.filter((s) => !isRepeatedLocalTime(s, t.timezone));
  expect(iso(kept)).toEqual(iso(nextRunTimes(t, new Date(startAt.getTime() - 1), 8)));
});

test('without the pinned calendar the server skips 02:30 on the spring-forward Sunday (why the spec adds it)', async () => {
  const t: ScheduleTiming = { kind: 'daily', time: '02:30', timezone: 'America/New_York' };
  const startAt = new Date(`${NEXT_YEAR}-03-06T00:00:00Z`);
  const bare = await serverNextTimes(t, startAt, { dstYears: 0 });
  const ours = nextRunTimes(t, new Date(startAt.getTime() - 1), 10);
  const springForward = ours.find((r) => r.toLocaleTimeString('en-GB', { timeZone: t.timezone }) === '03:30:00')!;
  const date = localRunDate(springForward, t.timezone);
  expect(new Date(`${date}T12:00:00Z`).getUTCDay()).toBe(0);
  expect(bare.map((b) => localRunDate(b, t.timezone))).not.toContain(date);
  expect(iso(bare.slice(0, 9))).toEqual(iso(ours.filter((r) => r !== springForward).slice(0, 9)));
});
