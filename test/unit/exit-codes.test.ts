import { type ExecutionOutcome, formatExitCode, interpretExitCode } from '../../domain/exit-codes';

// One row per code, readable against ../shared/DOMAIN-RULES.md §3.2 and rules 26–30.
const table: [code: number, outcome: ExecutionOutcome, countsAsFailure: boolean, name: string][] = [
  [0, 'installed', false, 'ERROR_SUCCESS'],
  [3010, 'installed_pending_reboot', false, 'ERROR_SUCCESS_REBOOT_REQUIRED'],
  [1641, 'installed_pending_reboot', false, 'ERROR_SUCCESS_REBOOT_INITIATED'],
  [0x00240005, 'installed_pending_reboot', false, 'WU_S_REBOOT_REQUIRED'],
  [2359302, 'already_installed', false, 'WU_S_ALREADY_INSTALLED'],
  [0x00240003, 'installed', false, 'WU_S_UPDATE_ERROR'],
  [0x80240022, 'failed', true, 'WU_E_ALL_UPDATES_FAILED'],
  [0x80240016, 'busy', false, 'WU_E_INSTALL_NOT_ALLOWED'],
  [0x80240017, 'not_applicable', false, 'WU_E_NOT_APPLICABLE'],
  [1618, 'busy', false, 'ERROR_INSTALL_ALREADY_RUNNING'],
  [0x80240009, 'busy', false, 'WU_E_OPERATIONINPROGRESS'],
  [1603, 'failed', true, 'ERROR_INSTALL_FAILURE'],
  [0x80070643, 'failed', true, 'ERROR_INSTALL_FAILURE (HRESULT)'],
  [0x800f081f, 'failed', true, 'CBS_E_SOURCE_MISSING'],
  [0x800f0823, 'failed', true, 'CBS_E_NEW_SERVICING_STACK_REQUIRED'],
];

describe('interpretExitCode', () => {
  test.each(table)('%i → %s', (code, outcome, countsAsFailure, name) => {
    const m = interpretExitCode(code);
    expect(m.outcome).toBe(outcome);
    expect(m.countsAsFailure).toBe(countsAsFailure);
    expect(m.name).toBe(name);
  });

  test('0x00240006 is 2359302 (already installed), a success', () => {
    expect(0x00240006).toBe(2359302);
    expect(interpretExitCode(0x00240006).outcome).toBe('already_installed');
  });

  test('a negative (signed) HRESULT reads the same as its unsigned form', () => {
    expect(interpretExitCode(0x80070643 | 0).outcome).toBe('failed');
    expect(interpretExitCode(0x80070643 | 0).display).toBe('0x80070643');
  });

  test('source missing and servicing stack failures carry a repair hint', () => {
    expect(interpretExitCode(0x800f081f).hint).toMatch(/DISM/);
    expect(interpretExitCode(0x800f0823).hint).toMatch(/servicing stack/);
  });

  test('an unknown code is a counted failure that names the code', () => {
    const m = interpretExitCode(0x8024402c);
    expect(m.outcome).toBe('failed');
    expect(m.countsAsFailure).toBe(true);
    expect(m.description).toContain('0x8024402c');
  });

  test('formatExitCode: MSI codes in decimal, HRESULTs in hex', () => {
    expect(formatExitCode(3010)).toBe('3010');
    expect(formatExitCode(0x80070643)).toBe('0x80070643');
  });
});
