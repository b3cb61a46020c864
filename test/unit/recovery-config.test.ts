import { loadConfig, recoveryConfigOf } from '../../config/config';

describe('recovery configuration', () => {
  test('defaults: 120 s heartbeat timeout, steps offered again after 5 s doubling to 300 s, 1,800 s reboot timeout offered 3 times, the claim lease left to the gateway (poll wait + 30 s)', () => {
    const r = recoveryConfigOf(loadConfig({} as NodeJS.ProcessEnv));
    expect(r.installTiming).toEqual({ heartbeatTimeoutSeconds: 120, retryInitialSeconds: 5, retryMaxSeconds: 300 });
    expect(r.recovery).toEqual({ keepAliveIntervalMs: 30_000, completerIntervalMs: 15_000, claimLeaseSeconds: undefined, stalledReboot: { rebootTimeoutSeconds: 1800, maxOffers: 3 } });
  });

  test('the soak\'s settings come through', () => {
    const r = recoveryConfigOf(loadConfig({
      STEP_HEARTBEAT_TIMEOUT_SECONDS: '40', COMMAND_KEEPALIVE_INTERVAL_SECONDS: '10', COMMAND_CLAIM_LEASE_SECONDS: '20', REBOOT_TIMEOUT_SECONDS: '10', REBOOT_MAX_OFFERS: '2',
    } as NodeJS.ProcessEnv));
    expect(r.installTiming.heartbeatTimeoutSeconds).toBe(40);
    expect(r.recovery).toMatchObject({ keepAliveIntervalMs: 10_000, claimLeaseSeconds: 20, stalledReboot: { rebootTimeoutSeconds: 10, maxOffers: 2 } });
  });

  test('a keep-alive slower than half the heartbeat timeout is refused, naming both variables', () => {
    expect(() => loadConfig({ STEP_HEARTBEAT_TIMEOUT_SECONDS: '40', COMMAND_KEEPALIVE_INTERVAL_SECONDS: '30' } as NodeJS.ProcessEnv))
      .toThrow(/COMMAND_KEEPALIVE_INTERVAL_SECONDS \(30\) must be at most half of STEP_HEARTBEAT_TIMEOUT_SECONDS \(40\)/);
  });

  test('the step retry timing comes through, and a first wait longer than the longest is refused, naming both', () => {
    expect(recoveryConfigOf(loadConfig({ STEP_RETRY_INITIAL_SECONDS: '1', STEP_RETRY_MAX_SECONDS: '2' } as NodeJS.ProcessEnv)).installTiming)
      .toMatchObject({ retryInitialSeconds: 1, retryMaxSeconds: 2 });
    expect(() => loadConfig({ STEP_RETRY_INITIAL_SECONDS: '600', STEP_RETRY_MAX_SECONDS: '300' } as NodeJS.ProcessEnv))
      .toThrow(/STEP_RETRY_INITIAL_SECONDS \(600\) must be at most STEP_RETRY_MAX_SECONDS \(300\)/);
  });

  test('a reboot timeout of 0 is refused', () => {
    expect(() => loadConfig({ REBOOT_TIMEOUT_SECONDS: '0' } as NodeJS.ProcessEnv)).toThrow(/REBOOT_TIMEOUT_SECONDS/);
  });
});
