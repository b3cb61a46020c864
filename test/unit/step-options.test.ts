import { deviceRetry, stepOptions } from '../../workflows/step-options';

const timing = { heartbeatTimeoutSeconds: 120, retryInitialSeconds: 5, retryMaxSeconds: 300 };

test('a device step retries for ever, from the initial wait doubling to the longest', () => {
  expect(deviceRetry(timing)).toEqual({ initialInterval: '5 seconds', maximumInterval: '300 seconds', backoffCoefficient: 2 });
  expect(stepOptions(timing, { attemptSeconds: 600 }).retry).not.toHaveProperty('maximumAttempts');
});

test('without a deadline each attempt gets the step time and the step has no overall limit', () => {
  expect(stepOptions(timing, { attemptSeconds: 600, summary: 'pre-scan of SRV-1' })).toEqual({
    heartbeatTimeout: '120 seconds',
    startToCloseTimeout: '600 seconds',
    retry: deviceRetry(timing),
    summary: 'pre-scan of SRV-1',
  });
});

test('a deadline bounds the whole step, and no attempt outlasts it', () => {
  const shorter = stepOptions(timing, { attemptSeconds: 300, deadlineSeconds: 3600 });
  expect(shorter).toMatchObject({ startToCloseTimeout: '300 seconds', scheduleToCloseTimeout: '3600 seconds' });
  const longer = stepOptions(timing, { attemptSeconds: 600, deadlineSeconds: 45 });
  expect(longer).toMatchObject({ startToCloseTimeout: '45 seconds', scheduleToCloseTimeout: '45 seconds' });
  expect(longer).not.toHaveProperty('summary');
});
