import { LOCAL_TIME_PATTERN, parseLocalTime, WEEKDAY_NAME, WEEKDAY_NUMBER, weekdayOf, WEEKDAYS } from '../../domain/local-time';
import { normaliseKb } from '../../domain/patch-id';

describe('local time of day: one HH:MM rule for schedules, windows and reboot times', () => {
  test.each([
    ['00:00', { hour: 0, minute: 0 }],
    ['03:30', { hour: 3, minute: 30 }],
    ['23:59', { hour: 23, minute: 59 }],
    ['24:00', undefined],
    ['3:30', undefined],
    ['03:60', undefined],
    [' 03:30', undefined],
    ['03:30:00', undefined],
  ])('%j → %j', (text, expected) => {
    expect(parseLocalTime(text)).toEqual(expected);
    expect(LOCAL_TIME_PATTERN.test(text)).toBe(expected !== undefined);
  });
});

describe('weekdays: Monday first, numbered as Date.getUTCDay()', () => {
  test.each([
    [{ year: 2026, month: 12, day: 7 }, 'mon'],
    [{ year: 2026, month: 12, day: 12 }, 'sat'],
    [{ year: 2026, month: 12, day: 13 }, 'sun'],
    [{ year: 2024, month: 2, day: 29 }, 'thu'],
  ] as const)('%j is %s', (date, weekday) => {
    expect(weekdayOf(date)).toBe(weekday);
    expect(WEEKDAY_NUMBER[weekday]).toBe(new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay());
  });

  test('every weekday has a number and a name', () => {
    expect(WEEKDAYS.map((d) => WEEKDAY_NUMBER[d])).toEqual([1, 2, 3, 4, 5, 6, 0]);
    expect(WEEKDAYS.map((d) => WEEKDAY_NAME[d])).toEqual(['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']);
  });
});

describe('KB numbers: one spelling', () => {
  test.each([['kb890830', 'KB890830'], [' 890830 ', 'KB890830'], ['KB5034441', 'KB5034441']])('%j → %s', (kb, expected) => {
    expect(normaliseKb(kb)).toBe(expected);
  });
});
