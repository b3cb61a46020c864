import { createHmac } from 'node:crypto';
import { DEFAULT_DELIVERY_POLICY, describeCondition, retryDelaySeconds, signWebhook, verifyWebhook } from '../../domain/alert-rules';

describe('webhook signatures (t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>"))', () => {
  const secret = 'whsec-0123456789abcdef';
  const body = '{"event":"alert.opened"}';

  test('the header is the HMAC of the timestamp and the raw body, as a receiver recomputes it', () => {
    const expected = createHmac('sha256', secret).update(`1764633600.${body}`).digest('hex');
    expect(signWebhook(secret, body, 1764633600)).toBe(`t=1764633600,v1=${expected}`);
  });

  test('a receiver accepts it, and refuses another secret, an altered body, a stale timestamp or a malformed header', () => {
    const header = signWebhook(secret, body, 1000);
    expect(verifyWebhook(secret, body, header, 1000)).toBe(true);
    expect(verifyWebhook(secret, body, header, 1000 + 300)).toBe(true);
    expect(verifyWebhook(secret, body, header, 1000 + 301)).toBe(false);
    expect(verifyWebhook('whsec-another-secret-000', body, header, 1000)).toBe(false);
    expect(verifyWebhook(secret, `${body} `, header, 1000)).toBe(false);
    expect(verifyWebhook(secret, body, header.replace('t=1000', 't=1001'), 1000)).toBe(false);
    expect(verifyWebhook(secret, body, undefined, 1000)).toBe(false);
    expect(verifyWebhook(secret, body, 'v1=abc', 1000)).toBe(false);
  });
});

test('retries back off by doubling from the base, capped, and the defaults try for about 6 hours', () => {
  const p = { ...DEFAULT_DELIVERY_POLICY, retryBaseSeconds: 60, retryMaxSeconds: 3600 };
  expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => retryDelaySeconds(p, n))).toEqual([60, 120, 240, 480, 960, 1920, 3600, 3600]);
  const waited = Array.from({ length: DEFAULT_DELIVERY_POLICY.maxAttempts - 1 }, (_, i) => retryDelaySeconds(DEFAULT_DELIVERY_POLICY, i + 1)).reduce((a, b) => a + b, 0);
  expect(waited / 3600).toBeCloseTo(6.05, 2);
});

test('conditions read as an operator would say them', () => {
  expect(describeCondition('patch_failed', null)).toBe('a patch failed');
  expect(describeCondition('reboot_required', 1)).toBe('Reboot Required for more than 1 hour');
  expect(describeCondition('noncompliant', 14)).toBe('missing a critical or security patch for more than 14 days');
  expect(describeCondition('no_scan', 7)).toBe('no scan for 7 days');
});
