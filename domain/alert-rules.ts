/**
 * Alerts (issue 17.3): what an operator can be alerted about, how a webhook delivery is signed, and
 * how a failed delivery is retried. Pure: the SQL that finds each condition is db/alert-repository.ts,
 * the sending is activities/alert-activities.ts.
 *
 * A webhook receiver checks a delivery like this (the scheme is Stripe's, which PSA tools already
 * know): read `X-Patchflow-Signature: t=<unix seconds>,v1=<hex>`, compute
 * HMAC-SHA256(secret, `${t}.${raw body}`), compare in constant time, and refuse a `t` older than a few
 * minutes (a replay). `X-Patchflow-Delivery` is unique per delivery: a receiver that already saw it
 * answers 2xx and does nothing (deliveries are at least once). `X-Patchflow-Event` is `alert.opened` or
 * `alert.closed`; a closed event carries the same `alert.id` as the opening one, so a PSA ticket opened
 * for it can be closed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The conditions a rule can watch, each per device (and per patch for a failed one). */
export const AlertCondition = {
  /** a patch is Failed on a device (after the retry cap: Pending-with-an-error does not count) */
  PatchFailed: 'patch_failed',
  /** a device has been Reboot Required for longer than `threshold` hours */
  RebootRequired: 'reboot_required',
  /** a device has missed a critical or security patch for longer than `threshold` days */
  Noncompliant: 'noncompliant',
  /** a device has not been scanned for `threshold` days (or never, that long after it enrolled) */
  NoScan: 'no_scan',
} as const;
export type AlertCondition = (typeof AlertCondition)[keyof typeof AlertCondition];
export const ALERT_CONDITIONS: readonly AlertCondition[] = Object.values(AlertCondition);

/** What a condition's threshold counts, and its default; patch_failed has none. */
export const THRESHOLD_UNIT: Record<AlertCondition, { unit: 'hours' | 'days'; default: number } | null> = {
  patch_failed: null,
  reboot_required: { unit: 'hours', default: 24 },
  noncompliant: { unit: 'days', default: 14 },
  no_scan: { unit: 'days', default: 7 },
};

export function describeCondition(condition: AlertCondition, threshold: number | null): string {
  switch (condition) {
    case 'patch_failed': return 'a patch failed';
    case 'reboot_required': return `Reboot Required for more than ${threshold} hour${threshold === 1 ? '' : 's'}`;
    case 'noncompliant': return `missing a critical or security patch for more than ${threshold} day${threshold === 1 ? '' : 's'}`;
    case 'no_scan': return `no scan for ${threshold} day${threshold === 1 ? '' : 's'}`;
  }
}

/** How failed deliveries are retried (written into the alerts workflow's input). */
export interface DeliveryPolicy {
  /** the wait after the first failure; doubles with each failure (default 60 s) */
  retryBaseSeconds: number;
  /** the longest wait between two tries (default 1 hour) */
  retryMaxSeconds: number;
  /** tries before the delivery goes to the dead-letter list (default 12: about 6 hours of trying) */
  maxAttempts: number;
  /** how long one POST may take (default 10 s) */
  timeoutSeconds: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { retryBaseSeconds: 60, retryMaxSeconds: 3600, maxAttempts: 12, timeoutSeconds: 10 };

/** The wait before the next try, after `attempts` failed tries (1, 2, …). */
export function retryDelaySeconds(policy: DeliveryPolicy, attempts: number): number {
  return Math.min(policy.retryMaxSeconds, policy.retryBaseSeconds * 2 ** Math.max(0, attempts - 1));
}

export const SIGNATURE_HEADER = 'x-patchflow-signature';
export const EVENT_HEADER = 'x-patchflow-event';
export const DELIVERY_HEADER = 'x-patchflow-delivery';

/** The signature header's value for a body sent at `unixSeconds`. */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * A receiver's check (used by the tests, and the reference for receivers): the signature matches and
 * is no older than `toleranceSeconds`.
 */
export function verifyWebhook(secret: string, body: string, header: string | undefined, nowSeconds: number, toleranceSeconds = 300): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signWebhook(secret, body, t).slice(`t=${t},v1=`.length), 'hex');
  return timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}
