import { interpretExitCode } from '../../domain/exit-codes';
import { OperationResultCode, readInstallation, readUpdateResult } from '../../domain/wua-outcomes';
import { pendingRebootReasons, rebootOwedBeforeRun } from '../../domain/wua-reboot';
import { installOutputSchema, rebootPendingOutputSchema, searchOutputSchema, type RebootKeys } from '../../domain/wua-schemas';
import { observeScan, recordInstallSuccess, updateLoopProblem, type UpdateLoopState } from '../../domain/wua-update-loop';

const A = '5f1b3b84-6c1e-4d53-9a3f-2d0c8f1e7a10';
const B = '9c2e1d47-0b8a-4f3e-8d61-7e5a4c3b2a91';

describe('readUpdateResult: one GetUpdateResult(i) row → the code the workflow reads (DOMAIN-RULES rule 31)', () => {
  // [resultCode, row HResult, RebootRequired, collection HResult] → exit code and outcome, or not final
  const table: [string, number, number, boolean, number, number | string, string][] = [
    ['2, clean', 2, 0, false, 0, 0, 'installed'],
    ['2 with RebootRequired', 2, 0, true, 0, 0x00240005, 'installed_pending_reboot'],
    ['2 carrying WU_S_ALREADY_INSTALLED', 2, 0x00240006, false, 0, 0x00240006, 'already_installed'],
    ['3 with RebootRequired', 3, 0, true, 0x00240003, 0x00240005, 'installed_pending_reboot'],
    ['3 without a restart: the post-scan verifies it', 3, 0, false, 0, 0x00240003, 'installed'],
    ['3 carrying an error of its own', 3, 0x80070643, false, 0, 0x80070643, 'failed'],
    ['4 with its own HResult (wins over the collection\'s)', 4, 0x800f0823, false, 0x80240022, 0x800f0823, 'failed'],
    ['4 without one: the collection\'s 0x80240022', 4, 0, false, 0x80240022, 0x80240022, 'failed'],
    ['4 with no HResult anywhere: E_FAIL', 4, 0, false, 0, 0x80004005, 'failed'],
    ['4 busy (WU_E_OPERATIONINPROGRESS): retried, not counted', 4, 0x80240009, false, 0, 0x80240009, 'busy'],
    ['4 not applicable', 4, 0x80240017, false, 0, 0x80240017, 'not_applicable'],
    ['5 aborted', 5, 0x8024000b, false, 0, 'Interrupted', ''],
    ['0 not started', 0, 0, false, 0, 'NotFinished', ''],
    ['1 in progress', 1, 0, false, 0, 'NotFinished', ''],
  ];
  test.each(table)('%s', (_name, resultCode, hresult, rebootRequired, collection, expected, outcome) => {
    const r = readUpdateResult({ updateId: A, resultCode, hresult, rebootRequired }, collection);
    if (typeof expected === 'string') {
      expect(r).toMatchObject({ final: false, code: expected });
    } else {
      expect(r).toMatchObject({ final: true, exitCode: expected, outcome });
      expect(interpretExitCode(expected).outcome).toBe(outcome);
    }
  });

  test('OperationResultCode values are WUA\'s', () => {
    expect(OperationResultCode).toEqual({ NotStarted: 0, InProgress: 1, Succeeded: 2, SucceededWithErrors: 3, Failed: 4, Aborted: 5 });
  });
});

describe('readInstallation: rows are by position in the collection', () => {
  const output = (rows: [string, number][], resultCode = 2) => installOutputSchema.parse({
    verb: 'install', rebootRequiredBeforeInstallation: false, resultCode, hresult: 0, rebootRequired: false,
    updates: rows.map(([updateId, code]) => ({ updateId, resultCode: code, hresult: code === 4 ? 0x80070643 | 0 : 0, rebootRequired: false })),
  });
  test('all succeeded is all good', () => {
    expect(readInstallation(output([[A, 2], [B, 2]]), [A, B])).toMatchObject({ allGood: true });
  });
  test('a collection of 3 is not all good even if a row reads fine', () => {
    expect(readInstallation(output([[A, 2], [B, 4]], 3), [A, B])).toMatchObject({ allGood: false });
  });
  test.each([
    ['rows out of order', [[B, 2], [A, 2]] as [string, number][], [A, B], 'result 0 is for update'],
    ['a missing row', [[A, 2]] as [string, number][], [A, B], '1 update results for 2 requested'],
  ])('%s: nothing is believed', (_n, rows, requested, problem) => {
    const r = readInstallation(output(rows), requested);
    expect('problem' in r && r.problem).toContain(problem);
  });
  test('a restart required before installation is a problem, not a result', () => {
    const r = readInstallation(installOutputSchema.parse({ verb: 'install', rebootRequiredBeforeInstallation: true, resultCode: 0, hresult: 0, rebootRequired: false, updates: [] }), [A]);
    expect('problem' in r && r.problem).toContain('RebootRequiredBeforeInstallation');
  });
});

describe('the script\'s JSON at the boundary', () => {
  test('HResults printed signed by PowerShell are read unsigned', () => {
    const r = installOutputSchema.parse({ verb: 'install', rebootRequiredBeforeInstallation: false, resultCode: 4, hresult: -2145124318, rebootRequired: false, updates: [] });
    expect(r.hresult).toBe(0x80240022);
  });
  test.each([
    ['an update id that is not a GUID', { updateId: 'KB5034441' }, 'updates.0.updateId'],
    ['a KB with letters', { kbArticleIds: ['KB5034441'] }, 'updates.0.kbArticleIds.0'],
    ['a result code WUA does not have', {}, undefined],
  ])('a search row with %s is refused, naming the field', (_n, change, field) => {
    const row = { updateId: A, revision: 200, title: 't', kbArticleIds: ['5034441'], isInstalled: false, isHidden: false, isDownloaded: false, rebootRequired: false, rebootBehavior: 1, ...change };
    const r = searchOutputSchema.safeParse({ verb: 'search', resultCode: field ? 2 : 7, updates: [row], freeDiskBytes: 1 });
    expect(r.success).toBe(false);
    if (field && !r.success) expect(r.error.issues[0]!.path.join('.')).toBe(field);
  });
  test('a reboot-pending answer without a key is refused', () => {
    expect(rebootPendingOutputSchema.safeParse({ verb: 'reboot-pending', lastBootUpTime: '2024-03-12T06:10:41Z', loggedOnUser: null, keys: { cbsRebootPending: true } }).success).toBe(false);
  });
});

describe('pending restarts (DOMAIN-RULES §3.3, rule 25)', () => {
  const clear: RebootKeys = { cbsRebootPending: false, cbsRebootInProgress: false, cbsPackagesPending: false, wuRebootRequired: false, wuPostRebootReporting: false, wuServicesPending: false, pendingFileRenameOperations: false, updateExeVolatile: false };
  test.each(Object.keys(clear) as (keyof RebootKeys)[])('%s alone means a restart is pending', (key) => {
    expect(pendingRebootReasons({ ...clear, [key]: true })).toHaveLength(1);
  });
  test('no key: nothing pending', () => {
    expect(pendingRebootReasons(clear)).toEqual([]);
  });
  test('owed before the run only when nothing this agent installed in this boot explains it', () => {
    const keys = { ...clear, wuRebootRequired: true };
    expect(rebootOwedBeforeRun(keys, 0)).toEqual({ owed: true, reasons: ['WindowsUpdate\\Auto Update\\RebootRequired'] });
    expect(rebootOwedBeforeRun(keys, 1).owed).toBe(false); // our own first patch of the run: install the rest, restart once
    expect(rebootOwedBeforeRun(clear, 0).owed).toBe(false);
  });
});

describe('update loops', () => {
  const scan = (installed: boolean, rebootRequired = false) => [{ updateId: A, installed, rebootRequired }];
  test('success then installed at the next scan: no loop, however often', () => {
    let s: UpdateLoopState = {};
    for (let i = 0; i < 5; i++) s = observeScan(recordInstallSuccess(s, A), scan(true));
    expect(updateLoopProblem(s, A, 'KB1')).toBeUndefined();
  });
  test('waiting for its restart is not a comeback', () => {
    const s = observeScan(recordInstallSuccess({}, A), scan(false, true));
    expect(s[A.toLowerCase()]).toMatchObject({ comebacks: 0, awaitingScan: true });
  });
  test('back once is allowed; back twice stops it', () => {
    const once = observeScan(recordInstallSuccess({}, A), scan(false));
    expect(updateLoopProblem(once, A, 'KB1')).toBeUndefined();
    const twice = observeScan(recordInstallSuccess(once, A), scan(false));
    expect(updateLoopProblem(twice, A, 'KB1')).toBe('update loop detected: KB1 reported success 2 times and Windows Update offered it again after each; not installed again');
  });
  test('a scan with no success waiting counts nothing (a plain missing update is not a loop)', () => {
    const s = observeScan(observeScan(recordInstallSuccess({}, A), scan(false)), scan(false));
    expect(s[A.toLowerCase()]!.comebacks).toBe(1);
  });
});
